// What the eval commands read: folders of images (one per identity), list files of
// paths, videos. Every problem with the input is an EvalInputError with one line that
// says what is wrong and what to do.
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, resolve, basename } from 'node:path';

export class EvalInputError extends Error {
  override name = 'UsageError';
  constructor(
    readonly code: 'not_found' | 'not_a_folder' | 'empty' | 'bad_list' | 'bad_pairs' | 'bad_cache',
    message: string,
  ) {
    super(message);
  }
}

export const IMAGE_EXTS = new Set(['.jpg', '.jpeg', '.png', '.webp']);
export const VIDEO_EXTS = new Set(['.mp4', '.mov', '.m4v', '.avi', '.mkv', '.webm']);

// Numeric collation: frame2.jpg before frame10.jpg, as in capture's image replay.
const byName = new Intl.Collator('en', { numeric: true }).compare;

export const isImage = (p: string): boolean => IMAGE_EXTS.has(extname(p).toLowerCase());
export const isVideo = (p: string): boolean => VIDEO_EXTS.has(extname(p).toLowerCase());

async function kind(path: string, what: string): Promise<'file' | 'dir'> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch {
    throw new EvalInputError('not_found', `${what} ${path} does not exist; check the path`);
  }
}

/** Image files directly in `dir`, in name order (full paths). */
export async function imagesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isFile() && isImage(e.name)).map((e) => e.name).sort(byName).map((n) => join(dir, n));
}

/**
 * A list file: one path per line; blank lines and lines starting with # are skipped;
 * relative paths are relative to the list's folder. Extra tab-separated columns are
 * returned as they are.
 */
export async function readList(file: string): Promise<{ path: string; columns: string[] }[]> {
  if ((await kind(file, 'list file')) !== 'file') throw new EvalInputError('bad_list', `list file ${file} is a folder; pass a text file with one path per line`);
  const base = dirname(resolve(file));
  const rows = (await readFile(file, 'utf8'))
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [p, ...columns] = l.split('\t');
      return { path: isAbsolute(p!) ? p! : join(base, p!), columns };
    });
  if (rows.length === 0) throw new EvalInputError('empty', `list file ${file} holds no path; put one image path per line`);
  return rows;
}

/** Identity name -> its images, from one folder per identity (loose files are ignored). */
export async function identityFolders(dir: string): Promise<Map<string, string[]>> {
  if ((await kind(dir, 'folder')) !== 'dir') throw new EvalInputError('not_a_folder', `${dir} is a file; pass a folder holding one sub-folder per identity`);
  const out = new Map<string, string[]>();
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort(byName);
  for (const name of entries) {
    const images = await imagesIn(join(dir, name));
    if (images.length) out.set(name, images);
  }
  if (out.size === 0) throw new EvalInputError('empty', `${dir} has no sub-folder with images; put each identity's photos in a folder named after it`);
  return out;
}

/** Identity name -> its images, from a list of paths: the identity is each image's folder name. */
export function identitiesFromList(paths: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of paths) {
    const id = basename(dirname(p));
    out.set(id, [...(out.get(id) ?? []), p]);
  }
  for (const list of out.values()) list.sort(byName);
  return new Map([...out].sort(([a], [b]) => byName(a, b)));
}

/** One track of frames for the liveness evaluation: a video, a folder of images, or one image. */
export type TrackSource = { kind: 'video'; path: string } | { kind: 'images'; path: string; images: string[] };

/**
 * The tracks under a path: a video is one track, an image is a track of one frame, a
 * folder's images are one track and each video in it a track of its own; sub-folders are
 * looked into the same way.
 */
export async function tracksAt(path: string): Promise<TrackSource[]> {
  if ((await kind(path, 'path')) === 'file') {
    if (isVideo(path)) return [{ kind: 'video', path }];
    if (isImage(path)) return [{ kind: 'images', path, images: [path] }];
    throw new EvalInputError('not_found', `${path} is neither an image (${[...IMAGE_EXTS].join(' ')}) nor a video (${[...VIDEO_EXTS].join(' ')})`);
  }
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => byName(a.name, b.name));
  const out: TrackSource[] = [];
  const images = entries.filter((e) => e.isFile() && isImage(e.name)).map((e) => join(path, e.name));
  if (images.length) out.push({ kind: 'images', path, images });
  for (const e of entries) {
    if (e.isFile() && isVideo(e.name)) out.push({ kind: 'video', path: join(path, e.name) });
    else if (e.isDirectory()) out.push(...(await tracksAt(join(path, e.name))));
  }
  return out;
}

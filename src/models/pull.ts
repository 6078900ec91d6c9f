// Installing a model pack: from the upstream zip, a zip file, or a folder. Every
// file is hash-checked before it replaces anything in the models folder.
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { loadManifest, modelById, sha256File, ModelFileError } from './manifest.js';
import { httpGet, HttpFailure } from '../http/get.js';

export interface PulledModel {
  id: string;
  file: string;
  sha256: string;
  /** false when the manifest pins no hash for this model (the hash seen is reported). */
  pinned: boolean;
  /** false: the installed file already had this hash and was left alone (a repeated pull changes nothing). */
  changed: boolean;
}

export interface PullOptions {
  pack: string;
  /** URL (http/https) of a zip, a zip file path, or a folder of the pack's files; default: the pack's upstream URL. */
  from?: string;
  modelsDir: string;
  timeoutMs?: number;
  onProgress?: (msg: string) => void;
}

const MAX_REDIRECTS = 5;

async function download(url: string, dest: string, timeoutMs: number): Promise<void> {
  try {
    // A pack is hundreds of megabytes on a site's uplink: no deadline for the whole
    // download, only for silence.
    const res = await httpGet(new URL(url), { idleTimeoutMs: timeoutMs, maxRedirects: MAX_REDIRECTS, wantBody: (status) => status === 200, sink: () => createWriteStream(dest) });
    if (res.status !== 200) throw new ModelFileError(`${res.url.href}: HTTP ${res.status}; check the URL or copy the pack from a USB stick and use --from DIR`);
  } catch (err) {
    if (!(err instanceof HttpFailure)) throw err;
    if (err.kind === 'redirects') throw new ModelFileError(`${url}: more than ${MAX_REDIRECTS} redirects`);
    const why = err.kind === 'timeout' ? `no answer within ${timeoutMs} ms` : err.kind === 'bad-redirect' ? err.message : `${err.code ?? err.kind}`;
    throw new ModelFileError(`cannot download ${url}: ${why}; without internet, copy the pack to this device and use --from DIR`);
  }
}

/** Extract the named files (matched by base name, at any depth) from a zip into dir. */
async function unzipFiles(zipPath: string, wanted: Set<string>, dir: string): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((res, rej) =>
    yauzl.open(zipPath, { lazyEntries: true }, (err, z) => (err || !z ? rej(new ModelFileError(`${zipPath} is not a readable zip file (${err?.message})`)) : res(z))),
  );
  await new Promise<void>((resolveP, reject) => {
    zip.on('error', reject);
    zip.on('end', resolveP);
    zip.on('entry', (entry: yauzl.Entry) => {
      const name = basename(entry.fileName);
      if (entry.fileName.endsWith('/') || !wanted.has(name)) return zip.readEntry();
      zip.openReadStream(entry, (err, stream) => {
        if (err || !stream) return reject(err ?? new Error('no stream'));
        streamPipeline(stream, createWriteStream(join(dir, name))).then(() => zip.readEntry(), reject);
      });
    });
    zip.readEntry();
  });
  zip.close();
}

export async function pullPack(opts: PullOptions): Promise<PulledModel[]> {
  const say = opts.onProgress ?? (() => undefined);
  const pack = loadManifest().packs[opts.pack];
  if (!pack) throw new ModelFileError(`unknown pack "${opts.pack}"; known packs: ${Object.keys(loadManifest().packs).join(', ')}`);
  const source = opts.from ?? pack.url;
  if (!source) {
    throw new ModelFileError(
      `pack "${opts.pack}" has no download address; copy it to this device (a folder or zip holding ${Object.keys(pack.files).join(', ')}) and give it with --from <folder|zip|URL>`,
    );
  }
  const work = await mkdtemp(join(tmpdir(), 'gate-agent-pull-'));
  try {
    const wanted = new Set(Object.keys(pack.files));
    if (/^https?:\/\//.test(source)) {
      say(`downloading ${source}`);
      await download(source, join(work, 'pack.zip'), opts.timeoutMs ?? 120_000);
      await unzipFiles(join(work, 'pack.zip'), wanted, work);
    } else {
      const st = await stat(source).catch(() => {
        throw new ModelFileError(`${source} does not exist; give a folder holding ${[...wanted].join(', ')}, a zip file, or an http(s) URL`);
      });
      if (st.isDirectory()) {
        const present = new Set(await readdir(source));
        for (const f of wanted) if (present.has(f)) await copyFile(join(source, f), join(work, f));
      } else {
        await unzipFiles(source, wanted, work);
      }
    }
    // Check everything before installing anything, so a bad pack changes nothing.
    const checked: PulledModel[] = [];
    for (const [inner, id] of Object.entries(pack.files)) {
      const m = modelById(id);
      const path = join(work, inner);
      const seen = await sha256File(path).catch(() => {
        throw new ModelFileError(`${inner} (model ${id}) is not in ${source}; the pack is incomplete`);
      });
      if (m.sha256 && seen !== m.sha256) {
        throw new ModelFileError(`${inner} from ${source} has SHA-256 ${seen}, expected ${m.sha256} (model ${id}); nothing was installed`);
      }
      const installed = join(opts.modelsDir, m.file);
      const same = existsSync(installed) && (await sha256File(installed)) === seen;
      checked.push({ id, file: m.file, sha256: seen, pinned: m.sha256 !== null, changed: !same });
    }
    await mkdir(opts.modelsDir, { recursive: true });
    for (const [inner, id] of Object.entries(pack.files)) {
      const m = modelById(id);
      if (!checked.find((c) => c.id === id)!.changed) {
        say(`${m.file} is already installed`);
        continue;
      }
      const tmp = join(opts.modelsDir, `.${m.file}.partial`);
      await copyFile(join(work, inner), tmp);
      await rename(tmp, join(opts.modelsDir, m.file));
      say(`installed ${m.file}`);
    }
    return checked;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

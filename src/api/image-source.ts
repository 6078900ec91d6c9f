// Turn an image_url into image bytes: http(s) through the SSRF-checked
// fetcher, `data:` URLs decoded in place, and `file:` only for snapshots the
// gate itself wrote into its snapshot directory (a local camera integration
// hands over a path instead of serving HTTP).
import { constants as fsConstants } from 'node:fs';
import { lstat, open, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from './errors.js';
import { fetchRemoteImage, type RemoteFetchOptions } from './fetch-image.js';
import { notAnImageDetail, sniffImage } from './image-sniff.js';

export interface ImageSourceOptions extends RemoteFetchOptions {
  /** Directory `file:` URLs may point into; null refuses every `file:` URL. */
  snapshotDir: string | null;
}

export type ImageScheme = 'http' | 'https' | 'data' | 'file';

/** Parse and vet image_url; every problem here is the caller's (422). */
export function parseImageUrl(raw: string): { url: URL; scheme: ImageScheme } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ApiError(422, 'image_url is not a valid absolute URL; pass a percent-encoded http(s)://, data: or file: URL');
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'data' && scheme !== 'file') {
    throw new ApiError(422, `image_url scheme "${scheme}:" is not supported; use http(s)://, data:image/...;base64, or file: (snapshot directory only)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ApiError(422, 'image_url must not carry credentials (user:password@); serve the image without authentication or from the snapshot directory');
  }
  if ((scheme === 'http' || scheme === 'https') && url.hostname === '') {
    throw new ApiError(422, 'image_url has no host; pass a full http(s)://host/path URL');
  }
  return { url, scheme };
}

export async function loadImage(raw: string, opts: ImageSourceOptions): Promise<Buffer> {
  const { url, scheme } = parseImageUrl(raw);
  if (scheme === 'data') return decodeDataUrl(raw, opts.maxBytes);
  if (scheme === 'file') return readSnapshot(raw, url, opts);
  return fetchRemoteImage(url, opts);
}

export function decodeDataUrl(raw: string, maxBytes: number): Buffer {
  const comma = raw.indexOf(',');
  const meta = raw.slice(5, comma < 0 ? undefined : comma);
  if (comma < 0 || !/;base64$/i.test(meta)) {
    throw new ApiError(422, 'image_url data: URL must be base64, like data:image/jpeg;base64,/9j/...; percent-encode it in the query string');
  }
  // A client that forgot to percent-encode the query turns '+' into ' '.
  const payload = decodeURIComponentSafe(raw.slice(comma + 1)).replace(/ /g, '+');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(payload)) {
    throw new ApiError(422, 'image_url data: URL payload is not valid base64; encode the image bytes with base64');
  }
  if (Math.floor((payload.length * 3) / 4) > maxBytes + 2) {
    throw new ApiError(413, `the data: URL image is larger than ${maxBytes} bytes; send a smaller image (a face crop or a downscaled frame)`);
  }
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length > maxBytes) {
    throw new ApiError(413, `the data: URL image is larger than ${maxBytes} bytes; send a smaller image (a face crop or a downscaled frame)`);
  }
  if (!sniffImage(bytes)) throw new ApiError(415, notAnImageDetail(bytes, 'the data: URL'));
  return bytes;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

async function readSnapshot(raw: string, url: URL, opts: ImageSourceOptions): Promise<Buffer> {
  if (opts.snapshotDir === null) {
    throw new ApiError(400, 'file: image URLs are disabled on this gate (no snapshot directory configured); send an http(s) or data: URL');
  }
  // The URL parser already folds "..", which would hide an escape attempt;
  // refuse it outright so the caller learns the path is wrong.
  if (/(^|[/\\])(\.|%2e){2}([/\\]|$)/i.test(raw.slice(5))) {
    throw new ApiError(400, 'image_url file: path contains ".."; give the snapshot\'s path inside the snapshot directory');
  }
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch {
    throw new ApiError(422, 'image_url file: URL is not a local path; use file:///absolute/path/in/the/snapshot/directory');
  }
  const outside = new ApiError(400, 'image_url file: path is outside the snapshot directory; only snapshots the gate stored there can be read');
  let root: string;
  let real: string;
  try {
    root = await realpath(opts.snapshotDir);
  } catch {
    throw new ApiError(400, 'the snapshot directory does not exist on this gate; send an http(s) or data: URL');
  }
  try {
    // realpath resolves symlinks, so a link inside the directory pointing out is caught here.
    real = await realpath(path);
  } catch {
    if (!path.startsWith(root + sep)) throw outside;
    throw new ApiError(400, 'image_url file: snapshot does not exist; check the file name');
  }
  if (!real.startsWith(root + sep)) throw outside;
  const notFile = new ApiError(400, 'image_url file: path is not a regular file; point it at a snapshot image');
  // The type is checked before opening: opening a FIFO blocks until a writer
  // comes, and it would block in libuv's thread pool, which the camera's
  // decodes and the models share (4 such requests and the gate stalls).
  const pre = await lstat(real).catch(() => {
    throw new ApiError(400, 'image_url file: snapshot does not exist; check the file name');
  });
  if (!pre.isFile()) throw notFile;
  // O_NOFOLLOW: if the file was swapped for a symlink since realpath, refuse.
  // O_NONBLOCK: if it was swapped for a FIFO since lstat, the open returns at
  // once instead of blocking, and the fstat below refuses it.
  const fh = await open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK).catch(() => {
    throw new ApiError(400, 'image_url file: snapshot could not be opened; check the file name and permissions');
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notFile;
    if (st.size > opts.maxBytes) {
      throw new ApiError(413, `the snapshot is larger than ${opts.maxBytes} bytes; store a smaller image (a face crop or a downscaled frame)`);
    }
    const bytes = await fh.readFile();
    if (bytes.length > opts.maxBytes) throw new ApiError(413, `the snapshot is larger than ${opts.maxBytes} bytes; store a smaller image`);
    if (!sniffImage(bytes)) throw new ApiError(415, notAnImageDetail(bytes, 'the file: URL'));
    return bytes;
  } finally {
    await fh.close();
  }
}

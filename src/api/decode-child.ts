// The decoding child process of decode-pool.ts: one image at a time, decoded with the
// gate's own decodeImage (same checks and messages), answered over IPC. It is a process
// of its own so that a decode can be stopped by killing it (libvips cannot be
// interrupted, and a worker_thread would still decode on the shared libuv thread pool),
// and so that its memory and CPU are apart from the gate's.
import sharp from 'sharp';
import { decodeImage, ImageError } from '../vision/image.js';

export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  maxPixels: number;
  maxSidePx: number;
}

export type DecodeReply =
  | { id: number; ok: true; data: Uint8Array; width: number; height: number }
  | { id: number; ok: false; code: string; message: string; imageError: boolean };

// One libvips thread: the pool's size is the parallelism, not libvips's.
sharp.concurrency(1);
sharp.cache(false);

process.on('message', (m: DecodeRequest) => {
  decodeImage(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.length), { maxPixels: m.maxPixels, maxSidePx: m.maxSidePx }).then(
    (img) => process.send?.({ id: m.id, ok: true, data: img.data, width: img.width, height: img.height } satisfies DecodeReply),
    (err: Error) =>
      process.send?.({ id: m.id, ok: false, code: err instanceof ImageError ? err.code : 'internal', message: err.message, imageError: err instanceof ImageError } satisfies DecodeReply),
  );
});
// The parent went away: nothing left to decode for.
process.on('disconnect', () => process.exit(0));

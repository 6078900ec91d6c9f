// node dist/scripts/bench-qr.js: what looking for a ticket QR code costs per frame
// (gate.mode verify/either): decodeQr on 640x480 frames with and without a code, at full
// size and at half width (gate.qrScanWidthPx), median ms over a few hundred runs.
import QRCode from 'qrcode';
import sharp from 'sharp';
import { join } from 'node:path';
import { decodeQr } from '../src/vision/qr.js';
import { decodeImage } from '../src/vision/image.js';
import type { RgbImage } from '../src/vision/types.js';

const FACES = join(process.env.GATE_AGENT_SHARED ?? join(process.cwd(), '..', 'shared'), 'faces');

async function frame(overlay: Buffer, left: number, top: number): Promise<RgbImage> {
  const jpg = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#202020' } }).composite([{ input: overlay, left, top }]).jpeg({ quality: 90 }).toBuffer();
  return decodeImage(jpg, { maxPixels: 640 * 480 });
}

function medianMs(img: RgbImage, widthPx: number, runs: number): { ms: number; text: string | null } {
  const times: number[] = [];
  let text: string | null = null;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    text = decodeQr(img, widthPx);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(runs / 2)]!, text };
}

const qr = await QRCode.toBuffer('qr-obama-7731', { type: 'png', width: 220, margin: 2 });
const face = await sharp(join(FACES, 'people/obama/1.jpg')).resize({ width: 640, height: 480, fit: 'inside' }).toBuffer();
const frames = { 'ticket (220 px code)': await frame(qr, 210, 130), 'face, no code': await frame(face, 0, 0) };
const runs = Number(process.env.BENCH_RUNS ?? 200);
for (const [name, img] of Object.entries(frames)) {
  for (const w of [640, 320]) {
    const r = medianMs(img, w, runs);
    process.stdout.write(`${name.padEnd(22)} qrScanWidthPx ${String(w).padStart(3)}: median ${r.ms.toFixed(2)} ms, read ${JSON.stringify(r.text)}\n`);
  }
}

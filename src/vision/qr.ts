// Finding a ticket's QR code in a camera frame (jsQR). The frame is turned grey and, when
// wider than maxWidthPx, box-averaged down first: jsQR's cost grows with the pixels, and a
// phone screen held up to a gate camera is large. Only dark-on-light codes are tried
// (phone tickets); trying the inverted image too would double the time.
import jsqr from 'jsqr';

import type { RgbImage } from './types.js';

// jsqr is CommonJS with `exports.default`: under NodeNext the default import is the module object.
const jsQR = jsqr.default;

/** The text of the QR code in the image, or null when none is readable. */
export function decodeQr(img: RgbImage, maxWidthPx = 0): string | null {
  const f = maxWidthPx > 0 && img.width > maxWidthPx ? Math.ceil(img.width / maxWidthPx) : 1;
  const w = Math.floor(img.width / f);
  const h = Math.floor(img.height / f);
  if (w < 21 || h < 21) return null; // smaller than the smallest QR code
  // jsQR reads RGBA; grey in all three channels is what it computes from them anyway.
  const rgba = new Uint8ClampedArray(w * h * 4);
  const n = f * f;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let dy = 0; dy < f; dy++) {
        let i = ((y * f + dy) * img.width + x * f) * 3;
        for (let dx = 0; dx < f; dx++, i += 3) sum += img.data[i]! * 77 + img.data[i + 1]! * 150 + img.data[i + 2]! * 29;
      }
      const g = sum / (n * 256);
      const o = (y * w + x) * 4;
      rgba[o] = rgba[o + 1] = rgba[o + 2] = g;
      rgba[o + 3] = 255;
    }
  }
  return jsQR(rgba, w, h, { inversionAttempts: 'dontInvert' })?.data ?? null;
}

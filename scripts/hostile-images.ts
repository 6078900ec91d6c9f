// Hostile images for the API's load tests and `npm run bench:api -- --hostile`, made on
// the fly (never committed): a progressive-JPEG "scan bomb" and a PNG decompression bomb.
import sharp from 'sharp';

/**
 * A progressive JPEG whose decode costs far more CPU than its size suggests: a flat
 * side x side image (4:4:4, 3 components) coded as the longest valid progression there is,
 * one scan per coefficient and successive-approximation bit (2,647 scans). Each AC scan is
 * a few bytes of end-of-band runs, yet the decoder walks every block of the component on
 * each one. Written by hand because cjpeg takes at most 100 scans and libjpeg refuses to
 * encode (and libvips to decode) a bogus progression.
 */
export function scanBomb(side = 4000): Buffer {
  const blocksPerComp = Math.ceil(side / 8) ** 2;
  const parts: Buffer[] = [Buffer.from([0xff, 0xd8])];
  const seg = (marker: number, body: number[]): void => {
    parts.push(Buffer.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body]));
  };
  seg(0xdb, [0x00, ...Array<number>(64).fill(1)]);
  seg(0xc2, [8, side >> 8, side & 0xff, side >> 8, side & 0xff, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
  // One-symbol Huffman tables: DC difference 0, and AC end-of-band run class 14 (16384-32767 blocks).
  seg(0xc4, [0x00, 1, ...Array<number>(15).fill(0), 0x00]);
  seg(0xc4, [0x10, 1, ...Array<number>(15).fill(0), 0xe0]);
  // DC: all three components interleaved, one '0' bit per block.
  seg(0xda, [3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 0, 0x00]);
  parts.push(Buffer.alloc(Math.ceil((3 * blocksPerComp) / 8)));
  const runs = eobRuns(blocksPerComp);
  for (let c = 1; c <= 3; c++) {
    for (let k = 1; k <= 63; k++) {
      for (let al = 13; al >= 0; al--) {
        const ah = al === 13 ? 0 : al + 1;
        seg(0xda, [1, c, 0x00, k, k, (ah << 4) | al]);
        parts.push(runs);
      }
    }
  }
  parts.push(Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
}

/** Entropy-coded end-of-band runs covering `blocks` blocks: code '0' then 14 extra bits each. */
function eobRuns(blocks: number): Buffer {
  const bits: number[] = [];
  for (let left = blocks; left > 0; ) {
    const run = Math.min(left, 32767);
    if (run < 16384 && left !== blocks) throw new Error('remainder too small for run class 14');
    bits.push(0);
    for (let b = 13; b >= 0; b--) bits.push(((run - 16384) >> b) & 1);
    left -= run;
  }
  while (bits.length % 8) bits.push(1);
  const out: number[] = [];
  for (let i = 0; i < bits.length; i += 8) {
    const byte = bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0);
    out.push(byte);
    if (byte === 0xff) out.push(0x00);
  }
  return Buffer.from(out);
}

/** A solid PNG of side x side pixels: tens of KB on the wire, side*side*3 bytes decoded. */
export async function pngBomb(side = 6300): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: { r: 200, g: 200, b: 200 } } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

// Decide whether bytes are an image by their magic numbers. A remote server's
// Content-Type header is only its claim; the decoder downstream gets JPEG,
// PNG or WebP and nothing else.

export type ImageKind = 'jpeg' | 'png' | 'webp';

/** Bytes needed before sniffImage can give a definite answer. */
export const SNIFF_BYTES = 12;

export function sniffImage(b: Uint8Array): ImageKind | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length >= 8 && png.every((v, i) => b[i] === v)) return 'png';
  const ascii = (from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return null;
}

export function notAnImageDetail(b: Uint8Array, where: string): string {
  const what = b.length === 0 ? 'is empty' : 'is not a JPEG, PNG or WebP image (checked by its first bytes, not its Content-Type)';
  return `the image at ${where} ${what}; point image_url at a JPEG, PNG or WebP file`;
}

// Cuts ffmpeg's `-f rawvideo -pix_fmt rgb24` stream into frames: every frame is exactly
// width x height x 3 bytes, so the stream needs no markers, only counting.
export class RawFrameSplitter {
  private parts: Buffer[] = [];
  private have = 0;

  constructor(readonly frameBytes: number) {
    if (!(Number.isInteger(frameBytes) && frameBytes > 0)) throw new Error(`raw frame size ${frameBytes} must be a whole number of bytes above 0`);
  }

  /** The complete frames this chunk finishes; a partial one waits for the next chunk. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(this.frameBytes - this.have, chunk.length - at);
      this.parts.push(chunk.subarray(at, at + take));
      this.have += take;
      at += take;
      if (this.have === this.frameBytes) {
        // One copy per frame: the chunk's memory is ffmpeg's pipe buffer, reused by node.
        out.push(this.parts.length === 1 ? Buffer.from(this.parts[0]!) : Buffer.concat(this.parts, this.frameBytes));
        this.parts = [];
        this.have = 0;
      }
    }
    return out;
  }
}

// Image arguments of the commands that take many photos: files, folders (their images,
// in name order) and a --list file of paths, so that a long run never needs a command
// line long enough to crash onnxruntime (argv-guard.ts).
import { stat } from 'node:fs/promises';
import { imagesIn, readList } from '../eval/inputs.js';
import { UsageError } from './format.js';

export const LIST_HELP = 'file with one image path per line (relative to the file; # comments)';

/** The images named by `args` and `list`, in order; a folder stands for its images. */
export async function expandImageArgs(args: readonly string[], list: string | undefined): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    let dir = false;
    try {
      dir = (await stat(a)).isDirectory();
    } catch {
      // a missing file is reported per image, like any other unreadable one
    }
    if (!dir) out.push(a);
    else {
      const images = await imagesIn(a);
      if (images.length === 0) throw new UsageError(`folder ${a} holds no .jpg, .png or .webp image`);
      out.push(...images);
    }
  }
  if (list !== undefined) out.push(...(await readList(list)).map((r) => r.path));
  if (out.length === 0) throw new UsageError('no image given; pass image files, folders or --list <file>');
  return out;
}

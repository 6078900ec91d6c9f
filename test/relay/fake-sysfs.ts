// Plays the kernel's part of /sys/class/gpio on a tmpfs: a write of N to
// `export` creates gpioN/{value,direction,active_low,edge}, a write to
// `unexport` removes it. Only used inside a private mount namespace.
import { existsSync, mkdirSync, readFileSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

export const GPIO_ROOT = '/sys/class/gpio';

export function startFakeKernel(root = GPIO_ROOT): FSWatcher {
  for (const f of ['export', 'unexport']) writeFileSync(join(root, f), '');
  const handle = (file: 'export' | 'unexport'): void => {
    const n = readFileSync(join(root, file), 'utf8').trim();
    if (!/^\d+$/.test(n)) return;
    writeFileSync(join(root, file), '');
    const dir = join(root, `gpio${n}`);
    if (file === 'unexport') {
      rmSync(dir, { recursive: true, force: true });
    } else if (!existsSync(dir)) {
      mkdirSync(dir);
      // The kernel's defaults for a freshly exported line.
      writeFileSync(join(dir, 'direction'), 'in');
      writeFileSync(join(dir, 'active_low'), '0');
      writeFileSync(join(dir, 'edge'), 'none');
      writeFileSync(join(dir, 'value'), '0');
    }
  };
  return watch(root, (_event, name) => {
    if (name === 'export' || name === 'unexport') handle(name);
  });
}

/** Reads a gpio attribute file, trimmed. */
export function attr(gpio: number, name: string): string {
  return readFileSync(join(GPIO_ROOT, `gpio${gpio}`, name), 'utf8').trim();
}

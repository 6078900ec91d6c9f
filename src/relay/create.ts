// Picks the relay driver for this machine.
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../log.js';
import { GpiodRelay } from './gpiod.js';
import { OnoffRelay, SYSFS_GPIO } from './onoff.js';
import { SimRelay } from './sim.js';
import { defaults, type Relay, type RelayDriver, type RelayOptions } from './types.js';

const log = logger('relay');

export interface GpioSupport {
  /** /sys/class/gpio/export is writable (onoff can work). */
  sysfs: boolean;
  /** A /dev/gpiochip* exists and gpioset is installed (gpiod can work). */
  gpiod: boolean;
}

function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function detectGpio(gpiodBinDir: string = defaults.gpiodBinDir): GpioSupport {
  const sysfs = canWrite(join(SYSFS_GPIO, 'export'));
  let chips: boolean;
  try {
    chips = readdirSync('/dev').some((n) => n.startsWith('gpiochip'));
  } catch {
    chips = false;
  }
  return { sysfs, gpiod: chips && existsSync(join(gpiodBinDir, 'gpioset')) };
}

export function hasGpio(gpiodBinDir?: string): boolean {
  const s = detectGpio(gpiodBinDir);
  return s.sysfs || s.gpiod;
}

/**
 * 'auto' prefers the driver that fails secure: gpiod's pulse is timed by gpioset in its own
 * process group, so it ends even when the agent is SIGKILLed; onoff's end is written by the
 * agent, so a killed agent leaves the line energised until the next start. Then sim.
 */
export function chooseDriver(wanted: RelayOptions['driver'], support: GpioSupport): RelayDriver {
  if (wanted !== 'auto') return wanted;
  if (support.gpiod) return 'gpiod';
  if (support.sysfs) return 'onoff';
  return 'sim';
}

export function createRelay(options: Partial<RelayOptions> = {}): Relay {
  const opts = { ...defaults, ...options };
  const driver = chooseDriver(opts.driver, detectGpio(opts.gpiodBinDir));
  if (driver === 'sim' && opts.driver === 'auto') log.warn('no GPIO on this machine: using the simulated relay, no door will open');
  switch (driver) {
    case 'onoff':
      return new OnoffRelay(opts);
    case 'gpiod':
      return new GpiodRelay(opts);
    case 'sim':
      return new SimRelay(opts);
  }
}

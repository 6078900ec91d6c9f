// The `relay` section: the door strike / turnstile output and the door inputs, and the
// bounds of their GPIO lines and pulse, checked when the config is loaded so a wrong line
// number is refused before the daemon drives some other pin.
//
// Line numbers are offsets on one GPIO chip. relay.board says which header they belong to:
// - raspberry-pi: BCM numbers of the 40-pin header's GPIO pins, 0..27 (Pi 1 B+ to Pi 5; on
//   the Pi 5 the header is the RP1 chip, whose lines 0..27 are the same BCM numbers). A
//   physical pin number (e.g. 11 for GPIO17) is a different line: see docs/relay.md.
// - jetson, generic: any offset up to 255 (the largest chip on the supported boards, the
//   Jetson Nano's tegra-gpio, has 256 lines); `gate-agent doctor` checks the real chip.
import { bool, defaultsOf, int, intOrNull, oneOf, section, str, type Static } from '../schema-kit.js';

/** Highest line offset of any GPIO chip this agent is configured for. */
export const MAX_GPIO_LINE = 255;
/** Highest BCM GPIO number on a Raspberry Pi 40-pin header. */
export const MAX_PI_HEADER_LINE = 27;
/**
 * Longest pulse accepted, ms. A grant opens the door for one person; a strike energised for
 * longer than this is a door the agent holds open (use an exit button or a manual release
 * for that), and many strikes are rated for intermittent duty only.
 */
export const MAX_PULSE_MS = 30_000;

export const RELAY_DRIVERS = ['onoff', 'gpiod', 'sim'] as const;
export type RelayDriver = (typeof RELAY_DRIVERS)[number];

export const relaySchema = section('The door strike / turnstile relay and the door inputs.', {
  driver: oneOf(['auto', ...RELAY_DRIVERS], {
    description: 'onoff (Linux sysfs GPIO), gpiod (libgpiod tools; Raspberry Pi 5 and current kernels), sim (records pulses; no hardware), auto (onoff, else gpiod, else sim).',
    default: 'auto',
    examples: ['gpiod'],
  }),
  board: oneOf(['raspberry-pi', 'jetson', 'generic'], {
    description: `The board whose GPIO lines pin, doorPin and exitButtonPin name. raspberry-pi: BCM numbers of the 40-pin header, 0..${MAX_PI_HEADER_LINE} (GPIO17 is physical pin 11); jetson or generic: any line offset of the chip up to ${MAX_GPIO_LINE}.`,
    default: 'raspberry-pi',
    examples: ['raspberry-pi'],
  }),
  chip: str({ description: 'gpiod: the GPIO chip (name, path or number).', default: 'gpiochip0', examples: ['gpiochip0'] }),
  pin: int({ description: `Relay output line (BCM number on a Raspberry Pi, 0..${MAX_PI_HEADER_LINE}; see relay.board).`, default: 17, minimum: 0, maximum: MAX_GPIO_LINE, examples: [17] }),
  sysfsBase: int({ description: 'onoff: added to pin numbers for sysfs (0 on older Pi kernels; the chip base, e.g. 571, on Pi 5 / kernel 6.6+).', default: 0, minimum: 0, examples: [0] }),
  pulseMs: int({
    description: `How long the relay is energised per grant, in ms; never longer, even if the agent stalls. At most ${MAX_PULSE_MS} (${MAX_PULSE_MS / 1000} s): a grant lets one person through, a longer pulse is a door held open by the agent, and many strikes are rated for intermittent duty only.`,
    default: 3000,
    minimum: 50,
    maximum: MAX_PULSE_MS,
    examples: [3000],
  }),
  activeLow: bool({ description: 'The relay board energises on a low level (most opto-isolated boards).', default: false, examples: [false] }),
  doorPin: intOrNull({ description: 'Door contact input line (active = open); null when not wired. Bounded like relay.pin.', default: null, minimum: 0, maximum: MAX_GPIO_LINE, examples: [27] }),
  doorActiveLow: bool({ description: 'The door contact reads low when the door is open.', default: false, examples: [false] }),
  exitButtonPin: intOrNull({ description: 'Exit (request-to-exit) button input line; null when not wired. Bounded like relay.pin.', default: null, minimum: 0, maximum: MAX_GPIO_LINE, examples: [22] }),
  exitButtonActiveLow: bool({ description: 'The exit button reads low when pressed.', default: true, examples: [true] }),
  heldOpenMs: int({ description: 'A door open longer than this raises a door-held-open event, in ms.', default: 30000, minimum: 0, examples: [30000] }),
  debounceMs: int({ description: 'Input edges closer than this are one edge (contact bounce), in ms.', default: 50, minimum: 0, examples: [50] }),
  gpiodBinDir: str({ description: 'gpiod: folder holding gpioset, gpioget and gpiomon.', default: '/usr/bin', examples: ['/usr/bin'] }),
});

/**
 * The relay's options (config `relay`). driver 'auto' picks gpiod where a GPIO chip and
 * gpioset exist (its pulse ends even if the agent is killed), else onoff where sysfs GPIO
 * exists, else sim. onoff's sysfsBase: 0 on a Pi 4 with older kernels; on a Pi 5 / kernel
 * >= 6.6 the sysfs numbers start at the chip's base (e.g. 571), see docs/relay.md.
 */
export type RelayOptions = Static<typeof relaySchema>;
/** Which header the line numbers belong to; bounds them (relayProblems). */
export type RelayBoard = RelayOptions['board'];

export const relayDefaults: Readonly<RelayOptions> = defaultsOf(relaySchema);

const LINE_KEYS = ['pin', 'doorPin', 'exitButtonPin'] as const;

/** Problems across relay keys (lines against relay.board, one line used twice), as `relay.key: value: …`. */
export function relayProblems(o: Pick<RelayOptions, 'board' | (typeof LINE_KEYS)[number]>): string[] {
  const problems: string[] = [];
  if (o.board === 'raspberry-pi') {
    for (const k of LINE_KEYS) {
      const v = o[k];
      if (v !== null && v > MAX_PI_HEADER_LINE) {
        problems.push(
          `relay.${k}: ${v}: not a GPIO line of the Raspberry Pi 40-pin header (BCM 0..${MAX_PI_HEADER_LINE}); use the BCM number (GPIO17 is physical pin 11), or set relay.board to jetson or generic for another board`,
        );
      }
    }
  }
  const used = new Map<number, string>();
  for (const k of LINE_KEYS) {
    const v = o[k];
    if (v === null) continue;
    const other = used.get(v);
    if (other) problems.push(`relay.${k}: ${v}: the same line as relay.${other}; each input and output needs its own line`);
    else used.set(v, k);
  }
  return problems;
}

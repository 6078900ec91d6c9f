// Bounds of the relay's GPIO lines and pulse, checked when the config is loaded so a wrong
// line number is refused before the daemon drives some other pin.
//
// Line numbers are offsets on one GPIO chip. relay.board says which header they belong to:
// - raspberry-pi: BCM numbers of the 40-pin header's GPIO pins, 0..27 (Pi 1 B+ to Pi 5; on
//   the Pi 5 the header is the RP1 chip, whose lines 0..27 are the same BCM numbers). A
//   physical pin number (e.g. 11 for GPIO17) is a different line: see docs/relay.md.
// - jetson, generic: any offset up to 255 (the largest chip on the supported boards, the
//   Jetson Nano's tegra-gpio, has 256 lines); `gate-agent doctor` checks the real chip.
import type { RelayOptions } from './types.js';

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

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DoorMonitor, type Timers } from '../../src/relay/index.js';

/** Manual clock: time moves only when the test says so. */
function manualTimers(): Timers & { advance(ms: number): void } {
  let now = 0;
  const due: { at: number; fn: () => void; id: number }[] = [];
  let nextId = 0;
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = nextId++;
      due.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (id) => {
      const i = due.findIndex((d) => d.id === id);
      if (i >= 0) due.splice(i, 1);
    },
    advance(ms) {
      now += ms;
      for (const d of due.filter((x) => x.at <= now)) {
        due.splice(due.indexOf(d), 1);
        d.fn();
      }
    },
  };
}

function monitor(granting = false) {
  const t = manualTimers();
  const events: string[] = [];
  const state = { granting };
  const m = new DoorMonitor(1000, {
    granting: () => state.granting,
    heldOpen: (ms) => events.push(`held:${ms}`),
    forced: () => events.push('forced'),
    exitButton: () => events.push('button'),
  }, t);
  return { m, t, events, state };
}

void describe('DoorMonitor', () => {
  void it('reports a door opened without a grant as forced', () => {
    const { m, events } = monitor(false);
    m.contact(false);
    m.contact(true);
    assert.deepEqual(events, ['forced']);
  });

  void it('does not report a door opened during a grant', () => {
    const { m, events } = monitor(true);
    m.contact(false);
    m.contact(true);
    assert.deepEqual(events, []);
  });

  void it('reports a door held open past heldOpenMs, once', () => {
    const { m, t, events, state } = monitor(true);
    m.contact(false);
    m.contact(true);
    state.granting = false;
    t.advance(999);
    assert.deepEqual(events, []);
    t.advance(1);
    assert.deepEqual(events, ['held:1000']);
    t.advance(5000);
    assert.equal(events.length, 1);
  });

  void it('a door closed in time is not held open', () => {
    const { m, t, events } = monitor(true);
    m.contact(false);
    m.contact(true);
    t.advance(500);
    m.contact(false);
    t.advance(5000);
    assert.deepEqual(events, []);
  });

  void it('a door already open at start is supervised but not forced', () => {
    const { m, t, events } = monitor(false);
    m.contact(true);
    t.advance(1000);
    assert.deepEqual(events, ['held:1000']);
  });

  void it('an exit button press is one event per press', () => {
    const { m, events } = monitor();
    m.button(true);
    m.button(true);
    m.button(false);
    m.button(true);
    assert.deepEqual(events, ['button', 'button']);
  });
});

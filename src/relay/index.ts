export { defaults, type Relay, type RelayDriver, type RelayEvents, type RelayOptions, type RelayState } from './types.js';
export { createRelay, chooseDriver, detectGpio, hasGpio, type GpioSupport } from './create.js';
export { installRelayFailSafe, type FailSafeOptions } from './failsafe.js';
export { SimRelay, type SimPulse } from './sim.js';
export { OnoffRelay } from './onoff.js';
export { GpiodRelay } from './gpiod.js';
export { DoorMonitor, type DoorHooks, type Timers } from './door.js';
export { acquireRelayLock, relayLockHolder, RelayLockedError } from './lock.js';

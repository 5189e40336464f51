import type { Deliverer } from './deliveries.ts';
import type { Flows } from './flows.ts';
import type { PayloadStore } from './s3.ts';
import type { SandboxSettings } from './settings.ts';
import type { Timers } from './timers.ts';
import type { UserStore } from './users.ts';

/** Everything a request handler may touch, built once per sandbox. */
export interface SandboxContext {
  /** `http://localhost:<port>`, known once the server listens. */
  url: string;
  readonly devId: string;
  readonly apiKey: string;
  /** The live settings; handlers read them per request so a change applies at once. */
  settings(): SandboxSettings;
  /** Consumes one use of the current fault (it clears itself after `times`). */
  consumeFault(): void;
  readonly users: UserStore;
  readonly flows: Flows;
  readonly deliverer: Deliverer;
  /** Bodies sent as `s3_payload`, served at their URLs until they expire. */
  readonly payloads: PayloadStore;
  readonly timers: Timers;
  log(line: string): void;
}

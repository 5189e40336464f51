import type { AddressInfo } from 'node:net';
import type { SandboxContext } from './context.ts';
import { Deliverer, type Delivery } from './deliveries.ts';
import { Flows } from './flows.ts';
import { offloadToS3, PayloadStore } from './s3.ts';
import { createSandboxServer } from './server.ts';
import {
  applyPatch,
  DEFAULTS,
  initialSettings,
  type SandboxOptions,
  type SandboxSettings,
} from './settings.ts';
import { Timers } from './timers.ts';
import { type TerraUserRecord, UserStore } from './users.ts';

/**
 * A local stand-in for Terra (tryterra.co): its REST API under `/api/v2` (data requests included, with
 * large ones delivered in chunks), the widget-session API, a widget and fake provider login in the browser,
 * and signed webhook deliveries with retries, large bodies sent as `s3_payload` links the sandbox serves.
 * Lets the backend run and be tested without a Terra account (docs/architecture.md, "Local mode").
 */
export type { Delivery, EmitOptions } from './deliveries.ts';
export type { Fault, SandboxOptions, SandboxSettings } from './settings.ts';
export type { TerraUser, TerraUserRecord } from './users.ts';

export interface Sandbox {
  /** `http://localhost:<port>` */
  url: string;
  /** `${url}/api/v2`: the base URL to give a Terra client. */
  apiUrl: string;
  /** Closes the server, cancels pending retries; leaves no timers or sockets behind. */
  stop(): Promise<void>;
  /** Reads the settings, after applying `patch` when given (throws a ZodError naming a bad field). */
  settings(patch?: Partial<SandboxSettings>): SandboxSettings;
  deliveries(): Delivery[];
  /** Resolves when no delivery is pending or scheduled. */
  idle(): Promise<void>;
  users(): TerraUserRecord[];
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  let settings = initialSettings(options);
  const log = options.log ?? (() => {});
  const timers = new Timers();
  const payloads = new PayloadStore(timers);
  const deliverer = new Deliverer({
    settings: () => settings,
    timers,
    log,
    // s3_payload URLs point at the sandbox itself; its URL is known once it listens, before any event.
    oversize: offloadToS3(
      payloads,
      () => settings,
      () => context.url,
    ),
  });
  const context: SandboxContext = {
    url: '',
    devId: options.devId ?? DEFAULTS.devId,
    apiKey: options.apiKey ?? DEFAULTS.apiKey,
    settings: () => settings,
    consumeFault() {
      const { fault } = settings;
      if (fault?.times === undefined) return;
      if (fault.times <= 1) {
        const { fault: _cleared, ...rest } = settings;
        settings = rest;
      } else settings = { ...settings, fault: { ...fault, times: fault.times - 1 } };
    },
    users: new UserStore(),
    flows: new Flows(),
    deliverer,
    payloads,
    timers,
    log,
  };
  const server = createSandboxServer(context, (next) => {
    settings = next;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: the controls need no credentials, so nothing else on the network may reach them.
    server.listen(options.port ?? DEFAULTS.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  context.url = `http://localhost:${port}`;
  log(`Terra sandbox listening on ${context.url}`);

  let stopped: Promise<void> | undefined;
  return {
    url: context.url,
    apiUrl: `${context.url}/api/v2`,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        timers.stopAll();
        deliverer.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
    settings(patch) {
      if (patch !== undefined) settings = applyPatch(settings, patch);
      return structuredClone(settings);
    },
    deliveries: () => deliverer.deliveries(),
    idle: () => deliverer.idle(),
    users: () => context.users.list().map((user) => ({ ...user })),
  };
}

import { type Sandbox, type SandboxOptions, startSandbox } from '#sandbox/sandbox';
import { type Receiver, startReceiver } from './receiver.ts';

/** A sandbox with its own webhook receiver, and the calls the sandbox tests make against it. */
export const SECRET = 'sandbox-test-secret';
export const KEYS = { 'dev-id': 'local-dev-id', 'x-api-key': 'local-api-key' };

export interface Harness {
  sandbox: Sandbox;
  receiver: Receiver;
  /** A Terra API call (path under /api/v2) with the sandbox's credentials unless `headers` replaces them. */
  terra(
    path: string,
    call?: { method?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  /** A `/sandbox` control: GET without a body, POST with one. */
  control(path: string, body?: unknown): Promise<Response>;
  /** Connects a user through the controls and answers its user_id (expects success). */
  connect(provider: string, options?: { reference_id?: string | null; account?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(options: SandboxOptions = {}): Promise<Harness> {
  const receiver = await startReceiver();
  const sandbox = await startSandbox({
    port: 0,
    signingSecret: SECRET,
    webhookUrl: receiver.url,
    retryScheduleMs: [50, 100, 200],
    ...options,
  });
  const terra: Harness['terra'] = (path, call = {}) =>
    fetch(`${sandbox.apiUrl}${path}`, {
      method: call.method ?? 'GET',
      headers: { 'content-type': 'application/json', ...(call.headers ?? KEYS) },
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
    });
  const control: Harness['control'] = (path, body) =>
    fetch(`${sandbox.url}/sandbox${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return {
    sandbox,
    receiver,
    terra,
    control,
    async connect(provider, { reference_id = null, account } = {}) {
      const response = await control('/users', { provider, reference_id, ...(account ? { account } : {}) });
      if (response.status !== 200)
        throw new Error(`connect answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { user_id: string }).user_id;
    },
    async close() {
      await sandbox.stop();
      await receiver.close();
    },
  };
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

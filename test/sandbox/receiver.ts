import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A webhook endpoint on a random port that records every delivery and answers as a test tells it to. */
export interface Received {
  headers: IncomingHttpHeaders;
  raw: Buffer;
  body: { type: string } & Record<string, unknown>;
  receivedAt: number;
}

/** An HTTP status to answer with, or `hang` to never answer (the sandbox's timeout must fire). */
export type Answer = number | 'hang';

export interface Receiver {
  url: string;
  received: Received[];
  /** Sets how the next deliveries are answered; the default is 200 for every one. */
  answer(fn: (received: Received, index: number) => Answer): void;
  waitFor(predicate: (received: Received) => boolean, timeoutMs?: number): Promise<Received>;
  ofType(type: string): Received[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  let answer: (received: Received, index: number) => Answer = () => 200;
  const listeners = new Set<() => void>();

  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const entry: Received = {
      headers: request.headers,
      raw,
      body: JSON.parse(raw.toString('utf8')) as Received['body'],
      receivedAt: Date.now(),
    };
    received.push(entry);
    const status = answer(entry, received.length - 1);
    for (const listener of listeners) listener();
    if (status === 'hang') hanging.push(response);
    else response.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;

  async function until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = check();
      if (result !== undefined) return result;
      const left = deadline - Date.now();
      if (left <= 0) {
        const types = received.map((entry) => entry.body.type).join(', ');
        throw new Error(`timed out waiting for ${what}; received so far: [${types}]`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          listeners.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        listeners.add(wake);
      });
    }
  }

  return {
    url: `http://127.0.0.1:${port}/webhooks/terra`,
    received,
    answer(fn) {
      answer = fn;
    },
    waitFor: (predicate, timeoutMs = 3000) => until(() => received.find(predicate), timeoutMs, 'a delivery'),
    ofType: (type) => received.filter((entry) => entry.body.type === type),
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of hanging) response.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of DynamoDB Local that can be cut: `down()` drops every open connection and
 * refuses new ones, as a store outage looks from the function's side; `up()` restores it.
 */
export interface OutageProxy {
  endpoint: string;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function startOutageProxy(target: string): Promise<OutageProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let available = true;
  const server: Server = createServer((client) => {
    if (!available) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxyPort = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${proxyPort}`,
    down() {
      available = false;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    up() {
      available = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

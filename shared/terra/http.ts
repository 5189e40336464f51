import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  status: number;
  header(name: string): string | undefined;
  text: string;
}

interface HttpInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** Covers the whole exchange, the body included: an abort rejects with an `AbortError`. */
  signal: AbortSignal;
}

type HttpCall = (url: string, init: HttpInit) => Promise<HttpAnswer>;

/**
 * Terra's HTTP (and the secrets extension's, on loopback) through Node's own `http`/`https` modules
 * rather than `fetch`: a process's first `fetch` loads undici, which a cold start pays on the first call
 * (about 20 ms on Node 22; decision 0019). Keep-alive comes from Node's global agents; redirects are not followed (Terra's API sends none,
 * and a redirect away from it is not one to follow with our key).
 */
export const nodeHttp: HttpCall = (url, init) =>
  new Promise<HttpAnswer>((resolve, reject) => {
    const target = new URL(url);
    const send =
      target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : undefined;
    if (!send) {
      reject(new TypeError(`Terra's URL must be http(s), not ${target.protocol}`));
      return;
    }
    const headers =
      init.body === undefined
        ? init.headers
        : { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) };
    const request = send(target, { method: init.method, headers, signal: init.signal }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(answer(response, Buffer.concat(chunks).toString('utf8'))));
      // An abort or a reset mid-body: the request's own 'error' reports an abort, this the rest.
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(init.body);
  });

function answer(response: IncomingMessage, text: string): HttpAnswer {
  return {
    status: response.statusCode ?? 0,
    header: (name) => {
      const value = response.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    text,
  };
}

import { readFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * One cold start, in a fresh Node process (bundled to plain JavaScript, run without any loader): reads
 * the request, then imports the function's bundle and calls its handler once, as Lambda's runtime
 * does, and reports on file descriptor 3 how long the import took and how long until the answer; then,
 * if asked, `warm` more invocations in the same process, one at a time, as a warm environment serves
 * them. The function's own logs go to stdout, as in Lambda. Imports only Node's built-ins.
 */
export interface ColdInput {
  bundle: string;
  event: unknown;
  functionName: string;
  memoryMb: number;
  timeoutMs: number;
  /** Invocations after the first answer, each timed; with `warmEvent` if given, else `event`. */
  warm?: number;
  warmEvent?: unknown;
}

export interface ColdAnswer {
  statusCode?: number;
  headers?: Record<string, string>;
  /** The body (or, for a non-HTTP function, what it returned) as JSON text, cut at 2,000 characters. */
  body?: string;
}

export interface ColdOutput {
  importMs: number;
  firstResponseMs: number;
  cpuMs: number;
  answer?: ColdAnswer;
  error?: string;
  /** Each warm invocation, from the call to its answer. */
  warmMs?: number[];
  /** The first warm invocation that threw or answered another status than the first. */
  warmError?: string;
}

const input = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as ColdInput;
const deadline = Date.now() + input.timeoutMs;
const context = {
  functionName: input.functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${input.functionName}`,
  memoryLimitInMB: String(input.memoryMb),
  awsRequestId: crypto.randomUUID(),
  logGroupName: `/aws/lambda/${input.functionName}`,
  logStreamName: '2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => deadline - Date.now(),
};

function summarize(value: unknown): ColdAnswer {
  if (value !== null && typeof value === 'object' && 'statusCode' in value) {
    const http = value as { statusCode: number; headers?: Record<string, string>; body?: string };
    return {
      statusCode: http.statusCode,
      ...(http.headers ? { headers: http.headers } : {}),
      ...(http.body !== undefined ? { body: String(http.body).slice(0, 2000) } : {}),
    };
  }
  return { body: JSON.stringify(value ?? null).slice(0, 2000) };
}

type Handler = (event: unknown, ctx: typeof context) => Promise<unknown>;
const cpu = process.cpuUsage();
const started = performance.now();
let output: ColdOutput;
let handler: Handler | undefined;
try {
  ({ handler } = (await import(pathToFileURL(input.bundle).href)) as { handler: Handler });
  const imported = performance.now();
  try {
    const answer = await handler(input.event, context);
    output = {
      importMs: imported - started,
      firstResponseMs: performance.now() - started,
      cpuMs: 0,
      answer: summarize(answer),
    };
  } catch (error) {
    output = {
      importMs: imported - started,
      firstResponseMs: performance.now() - started,
      cpuMs: 0,
      error: `the handler threw ${(error as Error).name}: ${(error as Error).message}`,
    };
  }
} catch (error) {
  output = {
    importMs: Number.NaN,
    firstResponseMs: Number.NaN,
    cpuMs: 0,
    error: `import failed: ${(error as Error).message}`,
  };
}
const used = process.cpuUsage(cpu);
output.cpuMs = (used.user + used.system) / 1000;
if (handler && input.warm && !output.error) {
  output.warmMs = [];
  for (let i = 0; i < input.warm && !output.warmError; i++) {
    const call = performance.now();
    try {
      const again = summarize(
        await handler(input.warmEvent ?? input.event, { ...context, awsRequestId: crypto.randomUUID() }),
      );
      output.warmMs.push(performance.now() - call);
      if (again.statusCode !== output.answer?.statusCode)
        output.warmError = `answered ${again.statusCode} after ${output.answer?.statusCode}`;
    } catch (error) {
      output.warmError = `threw ${(error as Error).name}: ${(error as Error).message}`;
    }
  }
}
writeSync(3, JSON.stringify(output));
// Lambda freezes the environment after the answer; here the process just ends (open sockets included).
process.exit(0);

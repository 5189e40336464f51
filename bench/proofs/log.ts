/**
 * Proof: a structured JSON logger in a few lines, in place of Powertools Logger (whose bundle share and
 * construction the webhook pays at import). Same calls (`info`, `warn`, `error`, `debug` with a message
 * and attributes), one JSON line each on stdout, as Lambda ships it to CloudWatch.
 */
type Attributes = Record<string, unknown>;

const service = process.env.POWERTOOLS_SERVICE_NAME ?? 'terra-connect';
const write = (level: string, message: string, attributes: Attributes = {}) => {
  process.stdout.write(
    `${JSON.stringify({ level, message, timestamp: new Date().toISOString(), service, ...attributes })}\n`,
  );
};

export const logger = {
  debug: (message: string, attributes?: Attributes) => write('DEBUG', message, attributes),
  info: (message: string, attributes?: Attributes) => write('INFO', message, attributes),
  warn: (message: string, attributes?: Attributes) => write('WARN', message, attributes),
  error: (message: string, attributes?: Attributes) => write('ERROR', message, attributes),
};

export type Log = typeof logger;

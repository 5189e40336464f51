import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one logger. Structured JSON; callers pass ids, types and outcomes only. Bodies, signatures,
 * secrets and tokens are never logged (tests scan the output for them).
 */
export const logger = new Logger({ serviceName: 'terra-connect' });

export type Log = Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;

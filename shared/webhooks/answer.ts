import type { SignatureCheck } from '#shared/terra/signature';
import type { PayloadFailure } from './payloads.ts';

/** What became of a delivery: the receiver's word for it, in its log lines and in its answer's body. */
export type DeliveryOutcome =
  | 'processed'
  | 'duplicate'
  | 'ignored'
  | 'rejected'
  | 'stale'
  | 'malformed'
  | 'in_progress'
  | 'deleted_user'
  | 'parked'
  | 'payload_failed'
  | 'error';

/** Why an `s3_payload`'s payload is not there to process: the download's, or what came down. */
export type DownloadFailure = PayloadFailure | 'truncated' | 'malformed';

/** Our own failure, by what failed; each is answered so that Terra retries. */
export type Failure =
  | { of: 'signing_secret' | 'storage' | 'attribution' }
  | { of: 'download'; reason: DownloadFailure };

/** The receiver's result, in its own terms; `answer` says it in HTTP. */
export type Verdict =
  | {
      outcome: Exclude<DeliveryOutcome, 'rejected' | 'error'>;
      event_id: string;
    }
  /** Refused before the delivery is named: nothing of it is trusted. */
  | { outcome: 'rejected'; reason: Exclude<SignatureCheck, { ok: true }>['reason'] }
  /** No event id when the failure came before the delivery was named, or while it was quarantined. */
  | { outcome: 'error'; event_id?: string; failure: Failure };

/** The body Terra gets back: an acknowledgement, or the error code (the outcome) and why. */
export type WebhookAnswer =
  | { received: true; outcome: DeliveryOutcome; event_id?: string }
  | { error: { code: DeliveryOutcome; message: string } };

export interface WebhookResult {
  status: number;
  outcome: DeliveryOutcome;
  event_id?: string;
  body: WebhookAnswer;
}

type VerdictOf<O extends DeliveryOutcome> = Extract<Verdict, { outcome: O }>;

interface Answer<O extends DeliveryOutcome> {
  status: number;
  /** A refusal's message, for the developer reading Terra's delivery log; a 2xx carries none. */
  message?: (verdict: VerdictOf<O>) => string;
  headers?: Readonly<Record<string, string>>;
}

const FAILED: Record<Exclude<Failure['of'], 'download'>, string> = {
  signing_secret: 'The signing secret could not be read; Terra will retry.',
  storage: 'The delivery could not be stored; Terra will retry it.',
  attribution: 'The Terra user was attributed meanwhile; Terra will retry.',
};

/**
 * Every outcome's HTTP answer, in one place (docs/architecture.md, "Status codes and why"). Terra retries
 * anything but a 2xx, so a 2xx means "stop": applied, or nothing a retry could change.
 */
const ANSWERS: { readonly [O in DeliveryOutcome]: Answer<O> } = {
  processed: { status: 200 },
  duplicate: { status: 200 },
  ignored: { status: 200 },
  deleted_user: { status: 200 },
  parked: { status: 200 },
  // The URL will never work again; the delivery is recorded failed and alarmed instead.
  payload_failed: { status: 200 },
  malformed: { status: 400, message: () => 'The body is not valid JSON.' },
  rejected: { status: 401, message: ({ reason }) => `Invalid webhook signature (${reason}).` },
  stale: { status: 401, message: () => 'Invalid webhook signature (outside_tolerance).' },
  error: {
    status: 500,
    message: ({ failure }) =>
      failure.of === 'download'
        ? `The payload could not be downloaded (${failure.reason}).`
        : FAILED[failure.of],
  },
  in_progress: {
    status: 503,
    message: () => 'This delivery is being processed; retry later.',
    // Another attempt holds the delivery's lease and is finishing it: a retry a little later finds its verdict.
    headers: { 'retry-after': '5' },
  },
};

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The response headers an outcome's answer carries beyond its JSON body (the handler sets them). */
export function answerHeaders(outcome: DeliveryOutcome): Readonly<Record<string, string>> {
  return ANSWERS[outcome].headers ?? NO_HEADERS;
}

export function answer(verdict: Verdict): WebhookResult {
  return answerAs(verdict.outcome, verdict);
}

// Generic in the outcome so that the table's entry and the verdict are known to agree (TS 4.6's
// correlated unions); `answer` is its only caller.
function answerAs<O extends DeliveryOutcome>(outcome: O, verdict: VerdictOf<O>): WebhookResult {
  const { status, message } = ANSWERS[outcome];
  const event_id = 'event_id' in verdict ? verdict.event_id : undefined;
  const body: WebhookAnswer =
    status >= 400
      ? { error: { code: outcome, message: message?.(verdict) ?? outcome } }
      : event_id
        ? { received: true, outcome, event_id }
        : { received: true, outcome };
  return event_id ? { status, outcome, body, event_id } : { status, outcome, body };
}

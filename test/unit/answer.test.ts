import { describe, expect, it } from 'vitest';
import { WEBHOOK_OUTCOMES } from '#shared/http/responses';
import { answer, answerHeaders, type DeliveryOutcome, type Verdict } from '#shared/webhooks/answer';

/**
 * The one table from the receiver's verdicts to HTTP (docs/architecture.md, "Status codes and why"):
 * Terra retries anything but a 2xx, so each status decides whether Terra tries again.
 */
const TRACE = '5f0c8a2e-6b1d-4c3a-9e7f-0a1b2c3d4e5f';

describe('answer', () => {
  it.each<Exclude<DeliveryOutcome, 'rejected' | 'error' | 'stale' | 'malformed' | 'in_progress'>>([
    'processed',
    'duplicate',
    'ignored',
    'deleted_user',
    'parked',
    'payload_failed',
  ])('acknowledges %s with 200, so that Terra stops', (outcome) => {
    expect(answer({ outcome, event_id: TRACE })).toStrictEqual({
      status: 200,
      outcome,
      event_id: TRACE,
      body: { received: true, outcome, event_id: TRACE },
    });
  });

  it.each<[string, Verdict, number, string]>([
    [
      'a body that is not JSON',
      { outcome: 'malformed', event_id: TRACE },
      400,
      'The body is not valid JSON.',
    ],
    [
      'a copy being applied elsewhere',
      { outcome: 'in_progress', event_id: TRACE },
      503,
      'This delivery is being processed; retry later.',
    ],
    [
      'a delivery outside the window',
      { outcome: 'stale', event_id: TRACE },
      401,
      'Invalid webhook signature (outside_tolerance).',
    ],
    [
      'a store that failed',
      { outcome: 'error', event_id: TRACE, failure: { of: 'storage' } },
      500,
      'The delivery could not be stored; Terra will retry it.',
    ],
    [
      'an owner that appeared meanwhile',
      { outcome: 'error', event_id: TRACE, failure: { of: 'attribution' } },
      500,
      'The Terra user was attributed meanwhile; Terra will retry.',
    ],
    [
      'a download a retry may fix',
      { outcome: 'error', event_id: TRACE, failure: { of: 'download', reason: 'timeout' } },
      500,
      'The payload could not be downloaded (timeout).',
    ],
  ])('refuses %s, naming the delivery', (_, verdict, status, message) => {
    expect(answer(verdict)).toStrictEqual({
      status,
      outcome: verdict.outcome,
      event_id: TRACE,
      body: { error: { code: verdict.outcome, message } },
    });
  });

  it.each<[string, Verdict, number, string]>([
    [
      'a signature that does not match',
      { outcome: 'rejected', reason: 'mismatch' },
      401,
      'Invalid webhook signature (mismatch).',
    ],
    [
      'a missing signature',
      { outcome: 'rejected', reason: 'missing' },
      401,
      'Invalid webhook signature (missing).',
    ],
    [
      'a signing secret that cannot be read',
      { outcome: 'error', failure: { of: 'signing_secret' } },
      500,
      'The signing secret could not be read; Terra will retry.',
    ],
    [
      'a failure before the delivery was named',
      { outcome: 'error', failure: { of: 'storage' } },
      500,
      'The delivery could not be stored; Terra will retry it.',
    ],
  ])('refuses %s without an event id', (_, verdict, status, message) => {
    expect(answer(verdict)).toStrictEqual({
      status,
      outcome: verdict.outcome,
      body: { error: { code: verdict.outcome, message } },
    });
  });
});

describe('answerHeaders', () => {
  it('asks Terra to come back in 5 s while another attempt finishes the delivery', () => {
    expect(answerHeaders('in_progress')).toStrictEqual({ 'retry-after': '5' });
  });

  it.each<DeliveryOutcome>(['processed', 'duplicate', 'rejected', 'stale', 'malformed', 'error'])(
    'adds nothing to %s',
    (outcome) => {
      expect(answerHeaders(outcome)).toStrictEqual({});
    },
  );
});

describe('the OpenAPI document (shared/http/responses.ts)', () => {
  const verdictOf = (outcome: DeliveryOutcome): Verdict =>
    outcome === 'rejected'
      ? { outcome, reason: 'mismatch' }
      : outcome === 'error'
        ? { outcome, failure: { of: 'storage' } }
        : { outcome, event_id: TRACE };
  const documented = Object.entries(WEBHOOK_OUTCOMES).flatMap(([status, outcomes]) =>
    outcomes.map((outcome): [DeliveryOutcome, number] => [outcome, Number(status)]),
  );

  it.each(documented)('documents %s under the status it is answered with, %i', (outcome, status) => {
    expect(answer(verdictOf(outcome)).status).toBe(status);
  });
});

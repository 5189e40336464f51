/**
 * History on connect (docs/architecture.md, "Backfill"): when a Terra user first becomes active we ask
 * Terra for the last days of its data, sent to the webhook, and track every request by Terra's
 * `reference` until all its payloads have arrived, in any order, however often each is repeated.
 */

export type RequestStatus = 'requested' | 'receiving' | 'complete' | 'failed';

/** One data request and what has arrived for it. Any request Terra tags is tracked, ours or not. */
export interface DataRequest {
  user_id: string;
  /** Terra's request reference (the `terra-reference` header of every payload it produces). */
  reference: string;
  reference_id?: string;
  /** The data type asked for (activity, daily, …); for a request we did not make, the payloads' type. */
  data_type?: string;
  /** `backfill` for our history request on connect; `external` for a request someone else made. */
  origin: 'backfill' | 'external';
  status: RequestStatus;
  /** How many payloads the request delivers: 1 for a plain request, `expected_payloads` for a large one. */
  expected?: number;
  /** Delivery ids that arrived: a set, so a repeated delivery counts once. */
  received: string[];
  /** Terra said it is a large request (over a month, in chunks). */
  large?: boolean;
  from?: string;
  to?: string;
  requested_at?: string;
  updated_at: string;
  reason?: string;
}

/** The once-per-Terra-user plan: which types to ask for over which days, and how far it got. */
export interface BackfillPlan {
  user_id: string;
  reference_id?: string;
  status: 'requesting' | 'requested';
  from: string;
  to: string;
  types: string[];
  /** Types already asked for (a retried plan resumes with the rest). */
  requested: string[];
  /** Terra's references of the requests asked for, in the order asked: what `GET /connections` reads. */
  references?: string[];
  created_at: string;
}

/** Where a request stands, from what has arrived: the one rule, whichever write came last. */
export function requestStatus(
  request: Pick<DataRequest, 'status' | 'expected' | 'received' | 'large'>,
): RequestStatus {
  if (request.status === 'failed') return 'failed';
  if (request.expected !== undefined && request.received.length >= request.expected) return 'complete';
  if (request.received.length > 0 || request.large === true) return 'receiving';
  return 'requested';
}

export interface BackfillSummary {
  status: RequestStatus;
  from: string;
  to: string;
  /** The data types the backfill asks for: `requests` grows to this many. */
  planned: string[];
  requests: Array<{
    type: string | null;
    reference: string | null;
    status: RequestStatus;
    expected: number | null;
    received: number;
  }>;
}

/** What `GET /connections` shows of a connection's history request. */
export function summarize(plan: BackfillPlan, requests: readonly DataRequest[]): BackfillSummary {
  const ours = requests.filter((request) => request.origin === 'backfill');
  const statuses = ours.map((request) => request.status);
  const allAsked = plan.status === 'requested' && ours.length >= plan.types.length;
  const status: RequestStatus = statuses.includes('failed')
    ? 'failed'
    : allAsked && statuses.every((value) => value === 'complete')
      ? 'complete'
      : statuses.some((value) => value === 'receiving' || value === 'complete')
        ? 'receiving'
        : 'requested';
  return {
    status,
    from: plan.from,
    to: plan.to,
    planned: [...plan.types].sort(),
    requests: ours
      .map((request) => ({
        type: request.data_type ?? null,
        reference: request.reference.startsWith('failed:') ? null : request.reference,
        status: request.status,
        expected: request.expected ?? null,
        received: request.received.length,
      }))
      .sort((a, b) => (a.type ?? '').localeCompare(b.type ?? '')),
  };
}

/** The days a backfill asks for, as Terra's `start_date` / `end_date` (ISO dates, UTC). */
export function backfillWindow(nowMs: number, days: number): { from: string; to: string } {
  const to = new Date(nowMs);
  const from = new Date(nowMs - days * 86_400_000);
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

/** What one write tells a request: a payload arrived, Terra announced it is large, or we asked for it. */
export interface RequestFacts {
  event_id?: string;
  large?: boolean;
  expected?: number;
  data_type?: string;
  reference_id?: string;
  /** Ours: asked for by the backfill (the write that records asking for it). */
  asked?: { from: string; to: string; at: string; plain: boolean };
  failed?: string;
}

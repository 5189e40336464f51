import { createHash } from 'node:crypto';
import { TRACE_ID } from '#shared/ids';
import { type DeliveryMeta, type ParsedWebhook, parseWebhook, type Subject } from '#shared/terra/events';
import type { DeliveryFacts } from './ports.ts';

/**
 * What a verified delivery is, from its headers and bytes alone (docs/architecture.md, "The webhook
 * pipeline", step 4). Pure, so that the normal path and the stale quarantine cannot name a delivery
 * differently.
 */
export interface Identified {
  /** Its first facts: `archive_key` stays empty until it is archived, and nobody is named yet. */
  facts: DeliveryFacts;
  /** Hex SHA-256 of the exact bytes received. */
  sha256: string;
  /** What the body says; undefined when it is not UTF-8 JSON (`facts.type` is then `malformed`). */
  parsed: ParsedWebhook | undefined;
}

export interface Arrival {
  /** Lower-cased header names. */
  headers: Readonly<Record<string, string>>;
  body: Buffer;
  /** The signature's `t` (unix seconds): the ordering time when Terra sends none that reads. */
  signed_at: number;
  /** Epoch ms. */
  received_at: number;
}

// A date alone is UTC by definition; a date-time must say its zone.
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?))?$/i;

/** The last instant a `Date` can hold: ordering times beyond it would throw wherever they are printed. */
const MAX_DATE_MS = 8.64e15;

/** `x-terra-ordering-timestamp` as epoch ms; accepts epoch s/ms/µs/ns or ISO-8601, else undefined. */
export function parseOrderingTimestamp(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    const ms = n < 1e11 ? n * 1000 : n < 1e14 ? n : n < 1e17 ? n / 1000 : n / 1e6;
    // 25 digits are still "nanoseconds", 1e18 ms: past any date, so the signature time orders it instead.
    return ms <= MAX_DATE_MS ? Math.round(ms) : undefined;
  }
  // ISO-8601 only: Date.parse alone also reads legacy forms ('-5', 'x 2025') in local time.
  if (!ISO_WITH_ZONE.test(text)) return undefined;
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? undefined : parsed;
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * A well-formed identifier header, trimmed, else undefined. `TRACE_ID` keeps our own reserved keys
 * (`reconcile#checkpoint`, `deletion#…`) out of reach of a header.
 */
function identifier(value: string | undefined): string | undefined {
  const text = value?.trim();
  return text && TRACE_ID.test(text) ? text : undefined;
}

/**
 * Bytes → what Terra says in them; undefined for bytes that are not UTF-8 JSON. Valid JSON never throws:
 * `parseWebhook` classifies whatever it is (Terra retries anything we answer with a 4xx).
 */
export function parseBody(bytes: Uint8Array, meta: DeliveryMeta): ParsedWebhook | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  return parseWebhook(value, meta);
}

export function identify({ headers, body, signed_at, received_at }: Arrival): Identified {
  const hash = sha256(body);
  const facts: DeliveryFacts = {
    // Never `terra-reference`, which every chunk of a large request shares.
    event_id: identifier(headers['x-terra-trace-id']) ?? `sha256:${hash}`,
    type: 'malformed',
    archive_key: '',
    bytes: body.length,
    body_sha256: hash,
    received_at,
    at: parseOrderingTimestamp(headers['x-terra-ordering-timestamp']) ?? signed_at * 1000,
    signed_at,
  };
  const terraReference = identifier(headers['terra-reference']);
  if (terraReference !== undefined) facts.terra_reference = terraReference;
  // The facts carry the event id and ordering time every parsed event is stamped with.
  const parsed = parseBody(body, facts);
  if (parsed !== undefined) facts.type = parsed.type;
  return { facts, sha256: hash, parsed };
}

/**
 * The Terra user a delivery is about as its payload says, before anything is looked up: where it is
 * archived, and whose deletion refuses it. A new kind of `ParsedWebhook` without a case here is a compile
 * error (the `never` in `default`; test/unit/identify.test.ts shows it), not a delivery archived as
 * nobody's.
 */
export function subjectOf(parsed: ParsedWebhook): Subject | undefined {
  switch (parsed.kind) {
    case 'connection':
      // A reauth's new user comes first: the delivery is about the connection that now stands.
      return parsed.events[0];
    case 'data':
    case 'tracking':
      return parsed.subject;
    case 'ignored':
      // Absent when it names only an app user (a cancelled login) or nobody.
      return parsed.subject;
    case 's3_payload':
      // Nobody until downloaded: only the payload says whose it is.
      return undefined;
    default:
      return unreachable(parsed);
  }
}

/** The compile-time end of an exhaustive switch; reached at run time only through a cast. */
export function unreachable(value: never): never {
  throw new TypeError(`Unhandled case: ${JSON.stringify(value)}`);
}

/** Names the delivery's user, app user and provider in its facts, as far as the subject knows them. */
export function about(facts: DeliveryFacts, subject: Subject | undefined): void {
  if (!subject) return;
  facts.user_id = subject.user_id;
  if (subject.reference_id !== null) facts.reference_id = subject.reference_id;
  if (subject.provider !== undefined) facts.provider = subject.provider;
}

import { createHash } from 'node:crypto';

/**
 * The shapes of the identifiers that cross our edges, defined once: request bodies, path parameters,
 * callbacks, configuration and the CDK context all validate against these.
 */

/** A Terra `user_id` as we accept it in a path or a callback (Terra's are UUIDs). */
export const TERRA_USER_ID = /^(?!\.+$)[A-Za-z0-9._:-]{1,128}$/;

/** A Terra provider id such as `GARMIN`, any case on input. */
export const PROVIDER_ID = /^[A-Za-z0-9_]{2,40}$/;

/** A configured redirect target name such as `web` or `ios`; never a URL. */
export const REDIRECT_TARGET = /^[a-z0-9_-]{1,32}$/;

/** A language code as Terra's widget takes it. */
export const LANGUAGE = /^[a-z]{2}(-[A-Za-z]{2})?$/;

/**
 * AWS S3's hosts, virtual-hosted and path style, global and regional: where Terra's `s3_payload` links
 * point, so the hosts a payload may be downloaded from unless configured otherwise (`PAYLOAD_HOSTS`;
 * `*` stands for one DNS label or part of one, shared/webhooks/payloads.ts).
 */
export const S3_HOSTS = [
  's3.amazonaws.com',
  '*.s3.amazonaws.com',
  's3.*.amazonaws.com',
  '*.s3.*.amazonaws.com',
  '*.s3-*.amazonaws.com',
  's3-*.amazonaws.com',
] as const;

/**
 * The caller's identity (the JWT claim that becomes Terra's reference_id): what people and identity
 * providers use (a UUID, `auth0|…`, an email with `+`, a name with spaces and accents, any script) is
 * accepted: letters, marks, digits, punctuation, symbols and the ASCII space between them, 1 to 256
 * characters. Refused with 401: control and format characters (invisible: zero-width, bidi overrides
 * that show one name as another), other spaces (a no-break space looks like a space but is another
 * identity), a leading or trailing space, lone surrogates, and dots alone (`.` and `..` are path
 * segments wherever an identity becomes part of a key). Identities are never normalised: two spellings
 * of a name are two identities, as they are to the identity provider. Wherever an identity becomes a
 * key segment it is encoded (`keySegment`).
 */
export const APP_IDENTITY = /^(?!\.+$)(?! )(?!.* $)[\p{L}\p{M}\p{N}\p{P}\p{S} ]{1,256}$/u;

/** Why a value is not an `APP_IDENTITY`, for the developer choosing one (`/dev/token`); none if it is. */
export function identityProblem(value: string): string | undefined {
  if (APP_IDENTITY.test(value)) return undefined;
  if (value === '') return 'is empty';
  if ([...value].length > 256) return 'is longer than 256 characters';
  if (/^\.+$/.test(value))
    return 'is only dots, which is a path segment ("here" or "up") wherever it becomes a key';
  if (/^ | $/.test(value)) return 'starts or ends with a space';
  const odd = [...value].find((char) => !/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(char)) ?? '';
  const code = `U+${(odd.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  return `contains ${code}, a control, format, invisible or non-ASCII space character; use letters, digits, punctuation, symbols and plain spaces`;
}

/**
 * A delivery id taken from `x-terra-trace-id`. Terra's are UUIDs, chunks `<id>:chunk:<n>`; `#` is
 * excluded so that our own reserved keys in the deliveries table (`reconcile#checkpoint`, `deletion#…`)
 * can never be addressed by a delivery.
 */
export const TRACE_ID = /^(?!\.+$)[A-Za-z0-9._:-]{1,200}$/;

/** A file or directory name's limit on the file systems a local archive lives on (ext4, APFS: 255 bytes). */
export const KEY_SEGMENT_MAX_BYTES = 255;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * An identifier as one segment of an archive key: URL-encoded, and a value of dots alone (`.`, `..`)
 * with its dots encoded too, so that no identifier, whatever its source, can be a path segment that a
 * file system (or anything normalising paths) reads as "here" or "up".
 *
 * Bounded, so that every identity the API accepts (256 characters, some encoding to three bytes) and
 * whatever a webhook names can be stored and deleted: a segment over `maxBytes`, or one that is not
 * well-formed UTF-16 (a lone surrogate, which `encodeURIComponent` refuses), becomes a readable prefix,
 * `=` and the SHA-256 of the whole value. `encodeURIComponent` always escapes `=`, so a bounded segment
 * never equals the plain segment of another identifier.
 */
export function keySegment(value: string, maxBytes = KEY_SEGMENT_MAX_BYTES): string {
  const wellFormed = value.replace(LONE_SURROGATE, '\uFFFD');
  const encoded = encodeURIComponent(wellFormed);
  const plain = /^\.+$/.test(encoded) ? encoded.replaceAll('.', '%2E') : encoded;
  if (wellFormed === value && plain.length <= maxBytes) return plain;
  // UTF-16 code units, so that a lone surrogate and U+FFFD hash apart.
  const hash = createHash('sha256').update(value, 'utf16le').digest('hex');
  // The encoding is ASCII, so characters are bytes; an escape cut in half is dropped.
  const prefix = encoded.slice(0, maxBytes - hash.length - 1).replace(/%[0-9A-F]?$/, '');
  return `${prefix}=${hash}`;
}

/** A segment `keySegment` bounded: it names its value only by hash, so it cannot be read back. */
export const isBoundedSegment = (segment: string): boolean => segment.includes('=');

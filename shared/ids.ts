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
 * The caller's identity (the JWT claim that becomes Terra's reference_id): printable ASCII, no spaces or
 * control characters, bounded, and not dots alone (`.` and `..` are path segments wherever an identity
 * becomes part of a key). Anything else is refused at the edge with 401.
 */
export const APP_IDENTITY = /^(?!\.+$)[\x21-\x7e]{1,256}$/;

/**
 * A delivery id taken from `x-terra-trace-id`. Terra's are UUIDs, chunks `<id>:chunk:<n>`; `#` is
 * excluded so that our own reserved keys in the deliveries table (`reconcile#checkpoint`, `deletion#…`)
 * can never be addressed by a delivery.
 */
export const TRACE_ID = /^(?!\.+$)[A-Za-z0-9._:-]{1,200}$/;

/**
 * An identifier as one segment of an archive key: URL-encoded, and a value of dots alone (`.`, `..`)
 * with its dots encoded too, so that no identifier, whatever its source, can be a path segment that a
 * file system (or anything normalising paths) reads as "here" or "up".
 */
export function keySegment(value: string): string {
  const encoded = encodeURIComponent(value);
  return /^\.+$/.test(encoded) ? encoded.replaceAll('.', '%2E') : encoded;
}

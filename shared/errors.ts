/**
 * Errors with a meaning, raised by the domain and by adapters; `shared/http/respond.ts` maps each kind
 * to an HTTP status in one place. Messages are for the developer reading them: name the field, the
 * problem and what to do.
 */
export type ErrorKind =
  | 'bad_request'
  | 'unauthorized'
  | 'not_found'
  | 'payload_too_large'
  | 'unsupported_media_type'
  /** Terra answered with an error or nonsense. */
  | 'upstream_failed'
  /** Terra did not answer in time. */
  | 'upstream_timeout';

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequest extends DomainError {
  constructor(message: string, code = 'bad_request') {
    super('bad_request', code, message);
  }
}

export class Unauthorized extends DomainError {
  constructor(message: string, code = 'unauthorized') {
    super('unauthorized', code, message);
  }
}

export class NotFound extends DomainError {
  constructor(message: string) {
    super('not_found', 'not_found', message);
  }
}

export class PayloadTooLarge extends DomainError {
  constructor(message: string) {
    super('payload_too_large', 'payload_too_large', message);
  }
}

export class UnsupportedMediaType extends DomainError {
  constructor(message: string) {
    super('unsupported_media_type', 'unsupported_media_type', message);
  }
}

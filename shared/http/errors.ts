/**
 * Errors with a meaning. The domain raises them; `shared/http/respond.ts` maps them to HTTP in one place.
 * Messages are for the developer calling the API: name the field, the problem and what to do.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequest extends HttpError {
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}

export class Unauthorized extends HttpError {
  constructor(message: string, code = 'unauthorized') {
    super(401, code, message);
  }
}

export class NotFound extends HttpError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export class PayloadTooLarge extends HttpError {
  constructor(message: string) {
    super(413, 'payload_too_large', message);
  }
}

export class UnsupportedMediaType extends HttpError {
  constructor(message: string) {
    super(415, 'unsupported_media_type', message);
  }
}

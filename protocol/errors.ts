// The one catalogue of Lintel error codes. Code branches on `err.code`, never on a message.
// Each code names where it surfaces: an HTTP status, a WebSocket close code, an `error` frame
// (`frame: 'bad_frame'`), or a process exit. test/protocol/errors.test.ts checks every code is
// documented in README.md.

export interface ErrorSpec {
  readonly status?: number;
  readonly close?: number;
  readonly frame?: 'bad_frame';
  readonly exit?: true;
  readonly message: string;
}

export const ERRORS = {
  LINTEL_ERR_CONFIG_INVALID: { exit: true, message: 'configuration is invalid' },
  LINTEL_ERR_UWS_FALLBACK: { exit: true, message: 'uWebSockets.js has no native build for this Node.js ABI' },
  LINTEL_ERR_DB_UNREACHABLE: { exit: true, status: 503, message: 'PostgreSQL is unreachable' },

  LINTEL_ERR_AUTH_NO_TOKEN: { status: 401, message: 'no device token' },
  LINTEL_ERR_AUTH_BAD_TOKEN: { status: 401, message: 'unknown device token' },
  LINTEL_ERR_AUTH_DEVICE_DISABLED: { status: 403, message: 'device disabled' },
  LINTEL_ERR_HUB_SATURATED: { status: 503, close: 1013, message: 'hub saturated, retry later' },
  LINTEL_ERR_HUB_DRAINING: { status: 503, close: 1001, message: 'hub shutting down' },
  LINTEL_ERR_HUB_NOT_FOUND: { status: 404, message: 'no such route' },

  LINTEL_ERR_FRAME_UNDECODABLE: { frame: 'bad_frame', message: 'frame cannot be decoded' },
  LINTEL_ERR_FRAME_NO_TYPE: { frame: 'bad_frame', message: 'frame has no string field t' },
  LINTEL_ERR_FRAME_UNKNOWN_TYPE: { frame: 'bad_frame', message: 'frame type unknown' },
  LINTEL_ERR_FRAME_INVALID: { frame: 'bad_frame', message: 'frame fields are invalid' },
  LINTEL_ERR_FRAME_TOO_MANY_EVENTS: { frame: 'bad_frame', message: 'ev frame holds more than 500 events' },
  LINTEL_ERR_FRAME_TOO_LARGE: { close: 1009, message: 'frame larger than 64 KiB' },

  LINTEL_ERR_SESSION_NO_HELLO: { close: 4000, message: 'first frame was not hello, or none within 10 s' },
  LINTEL_ERR_SESSION_DUPLICATE_HELLO: { frame: 'bad_frame', message: 'hello sent twice in one session' },
  LINTEL_ERR_SESSION_TOO_MANY_BAD_FRAMES: { close: 4000, message: '10 bad frames within a minute' },
  LINTEL_ERR_SESSION_REPLACED: { close: 4001, message: 'replaced by a newer connection of the device' },
  LINTEL_ERR_SESSION_TOKEN_REVOKED: { close: 1008, message: 'device token revoked or rotated' },
  LINTEL_ERR_SESSION_DEVICE_DISABLED: { close: 4003, message: 'device disabled' },
  LINTEL_ERR_SESSION_SLOW_CONSUMER: { close: 1013, message: 'terminal does not read its frames' },

  LINTEL_ERR_STORE_UNAVAILABLE: { status: 503, message: 'event store unavailable' },
  LINTEL_ERR_SPOOL_CORRUPT: { message: 'a spool file is not a Lintel spool segment; it is kept aside, never drained' },
  LINTEL_ERR_SPOOL_FULL: { message: 'the local spool is full; events are answered busy until PostgreSQL is back' },
  LINTEL_ERR_SHUTDOWN_DRAIN_TIMEOUT: { message: 'shutdown gave up waiting for the batch in flight; its frames are answered busy' },
  LINTEL_ERR_STORE_NOT_FOUND: { status: 404, message: 'no such record' },
  LINTEL_ERR_STORE_CONFLICT: { status: 409, message: 'record already exists' },

  LINTEL_ERR_CLI_USAGE: { exit: true, message: 'bad command line' },

  LINTEL_ERR_API_UNAUTHENTICATED: { status: 401, message: 'missing or unknown API key' },
  LINTEL_ERR_API_FORBIDDEN: { status: 403, message: 'the API key\'s role does not allow this' },
  LINTEL_ERR_API_NOT_FOUND: { status: 404, message: 'no such resource' },
  LINTEL_ERR_API_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed on this resource' },
  LINTEL_ERR_API_BAD_JSON: { status: 400, message: 'body is not valid JSON' },
  LINTEL_ERR_API_VALIDATION: { status: 400, message: 'request has invalid fields' },
  LINTEL_ERR_API_TOO_LARGE: { status: 413, message: 'body too large' },
  LINTEL_ERR_API_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'body must be application/json' },
  LINTEL_ERR_API_CONFLICT: { status: 409, message: 'conflicts with an existing resource' },
  LINTEL_ERR_API_INTERNAL: { status: 500, message: 'internal error' },
  LINTEL_ERR_COMMAND_NO_TERMINAL: { status: 409, message: 'no terminal for this door is online' },
  LINTEL_ERR_COMMAND_TIMEOUT: { status: 504, message: 'the terminal did not answer before the command expired' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class LintelError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, detail?: string) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message);
    this.code = code;
    this.name = 'LintelError';
  }
}

// The error every engine call rejects with: a stable text `code` (the engine's
// status name (rwkvx_status_name: IO, FORMAT, ABORTED, ...), or an ERR_* code of the engine process or
// client) and a message meant for people.
export class EngineError extends Error {
  readonly code: string;
  /** For a session call that stopped midway: the tokens the session holds now. */
  readonly nPast?: number;

  constructor(code: string, message: string, options: { nPast?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EngineError';
    this.code = code;
    if (options.nPast !== undefined) this.nPast = options.nPast;
  }
}

/** Codes raised by the client side of the engine process. */
export const ClientErrorCodes = {
  /** The engine process died while the call was pending. */
  exited: 'ERR_ENGINE_EXITED',
  /** The engine process could not be (re)started. */
  unavailable: 'ERR_ENGINE_UNAVAILABLE',
  /** The client was disposed. */
  disposed: 'ERR_CLIENT_DISPOSED',
} as const;

/** The status name of an aborted engine call. */
export const ABORTED = 'ABORTED';

export function isEngineError(e: unknown, code?: string): e is EngineError {
  return e instanceof EngineError && (code === undefined || e.code === code);
}

/**
 * One error family for everything Image Factory throws on purpose.
 * `code` is stable (clients, tests and retry policies key on it); `retryable` tells the
 * orchestration's retry policy whether another attempt can help.
 */
export interface FactoryErrorOptions {
  retryable?: boolean;
  retryAfterMs?: number;
  /** Where to look or what to grant/change: shown to the user as is. Never a secret. */
  hint?: string;
  /** Structured, secret-free details (e.g. scope, role, http status). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class FactoryError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: FactoryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FactoryError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  /** A plain, JSON-safe shape for histories, custom status and API problems. */
  toJSON(): {
    code: string;
    message: string;
    retryable: boolean;
    hint?: string;
    details: Record<string, unknown>;
  } {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      details: this.details,
    };
  }
}

/** Turns any thrown value into an Error without losing what it said. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return new Error(thrown);
  try {
    return new Error(JSON.stringify(thrown));
  } catch {
    return new Error(String(thrown));
  }
}

export function isFactoryError(thrown: unknown, code?: string): thrown is FactoryError {
  return thrown instanceof FactoryError && (code === undefined || thrown.code === code);
}

/** Named errors. Each carries a `cause` where one exists, so logs keep the whole chain. */

export class RinghubError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A configuration value that is missing, malformed or out of range. */
export class ConfigError extends RinghubError {
  constructor(readonly field: string, message: string, options?: { cause?: unknown }) {
    super(`config ${field}: ${message}`, options)
  }
}

/** Bad input from a remote party (device, peer hub, serial line, UI). Logged, counted, dropped. */
export class ProtocolError extends RinghubError {
  constructor(readonly reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** A storage operation failed (SQLite error, migration failure, commit failure). */
export class StoreError extends RinghubError {}

/** Credentials or permissions were refused. */
export class AuthError extends RinghubError {
  constructor(message: string, readonly returnCode: 2 | 4 | 5) {
    super(message)
  }
}

/** A request to another hub failed: unreachable, closed, timed out, or answered with garbage. */
export class TransportError extends RinghubError {
  constructor(readonly reason: 'timeout' | 'unreachable' | 'closed' | 'too-large' | 'refused' | 'overloaded', message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

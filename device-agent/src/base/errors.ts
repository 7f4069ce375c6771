/** Named errors of the agent and the simulator (STYLE.md §8), each with `cause` where one exists. */

export class AgentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A flag, environment variable or YAML value that is missing, malformed or out of range. */
export class ConfigError extends AgentError {
  constructor(readonly field: string, message: string, options?: { cause?: unknown }) {
    super(`config ${field}: ${message}`, options)
  }
}

/** Bad input from the serial line. Counted by `reason` and dropped, never thrown out of a callback. */
export class ProtocolError extends AgentError {
  constructor(readonly reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** A command that could not be delivered or answered; `code` goes into the response payload. */
export class CommandError extends AgentError {
  constructor(readonly code: 'bad-command' | 'device-offline' | 'busy' | 'timeout' | 'too-large' | 'device-error', message: string) {
    super(message)
  }
}

/** The outbox file could not be opened or written. */
export class OutboxError extends AgentError {}

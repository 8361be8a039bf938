/**
 * Injection token for where log lines go. `null` (the default) is pino's own
 * stdout destination; tests substitute a stream they can read.
 */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/**
 * Start-up stops on purpose: the configuration contradicts what the database
 * holds, and no retry can fix that. main.ts prints the message, one line
 * naming the variable, without a stack trace; a cluster worker exits with
 * {@link EXIT_CONFIG} so that its supervisor gives up at once instead of
 * respawning it.
 */
export class StartupRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupRefusedError';
  }
}

/** sysexits' EX_CONFIG: a worker that exits with it refused to start for a configuration error. */
export const EXIT_CONFIG = 78;

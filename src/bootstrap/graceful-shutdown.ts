import type { Server } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** The bits of a logger shutdown needs; Nest's Logger and pino both fit. */
export interface ShutdownLogger {
  log(message: string): void;
  error(message: string): void;
}

export interface GracefulShutdownOptions {
  /** Upper bound for in-flight requests to finish (SHUTDOWN_TIMEOUT_MS). */
  timeoutMs: number;
  logger: ShutdownLogger;
  /** Ends the process; replaceable so tests can observe the exit code. */
  exit?: (code: number) => void;
}

/** How often connections that went idle after their last response are closed. */
const IDLE_SWEEP_MS = 100;

/**
 * Returns the function that stops this process's HTTP server gracefully:
 *
 * 1. stop accepting connections; requests that arrive on an already open
 *    keep-alive connection get 503 (the Fastify adapter's `return503OnClosing`);
 * 2. let the requests in flight finish, closing each connection as soon as it
 *    falls idle (Node only closes the ones idle at the moment `close()` starts);
 * 3. run Nest's shutdown hooks, which close the MongoDB clients;
 * 4. exit 0.
 *
 * If that takes longer than `timeoutMs`, the remaining connections are cut
 * and the process exits 1, so an orchestrator waiting on us (systemd on
 * Elastic Beanstalk, `docker stop`) never has to SIGKILL.
 *
 * Calling it again while a shutdown runs returns the same promise.
 */
export function createGracefulShutdown(
  app: NestFastifyApplication,
  options: GracefulShutdownOptions,
): (reason: string) => Promise<number> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<number> | undefined;
  let exited = false;
  const exitOnce = (code: number): number => {
    if (!exited) {
      exited = true;
      exit(code);
    }
    return code;
  };

  return (reason: string) => {
    running ??= new Promise<number>((resolve) => {
      const started = Date.now();
      const server: Server = app.getHttpServer();
      options.logger.log(
        `Shutting down (${reason}): draining in-flight requests for up to ${options.timeoutMs} ms`,
      );
      const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      const deadline = setTimeout(() => {
        clearInterval(sweep);
        server.getConnections((_error, open) => {
          options.logger.error(
            `Shutdown timed out after ${options.timeoutMs} ms with ${open} connection(s) open; closing them`,
          );
          server.closeAllConnections();
          resolve(exitOnce(1));
        });
      }, options.timeoutMs);

      app.close().then(
        () => {
          clearInterval(sweep);
          clearTimeout(deadline);
          options.logger.log(`Shutdown complete in ${Date.now() - started} ms`);
          resolve(exitOnce(0));
        },
        (error: unknown) => {
          clearInterval(sweep);
          clearTimeout(deadline);
          options.logger.error(`Shutdown failed: ${String(error)}`);
          resolve(exitOnce(1));
        },
      );
    });
    return running;
  };
}

export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Routes SIGTERM/SIGINT to `shutdown`; a repeated signal joins the running shutdown. */
export function onShutdownSignals(shutdown: (reason: string) => unknown): void {
  for (const signal of SHUTDOWN_SIGNALS) {
    process.on(signal, () => void shutdown(signal));
  }
}

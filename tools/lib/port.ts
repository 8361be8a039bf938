import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/**
 * The one way tools and tests pick a port: one that was free a moment ago
 * (the OS chose it). Another process may still take it before the server
 * binds; a caller that cannot afford that retries (the database launcher does).
 */
export function freePort(host: string = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() =>
        port > 0 ? resolve(port) : reject(new Error('Could not allocate a free port.')),
      );
    });
  });
}

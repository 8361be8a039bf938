/**
 * The IPC side of the helpers the benchmark preloads into a server
 * (profiler, command counter): a message `{ type }` from the benchmark runs
 * the handler, whose result goes back as `{ type: '<type>:done', ...result }`.
 * Only in a process the benchmark spawned with an IPC channel; cluster
 * workers talk to their primary, not to the benchmark, and stay untouched.
 */
import cluster from 'node:cluster';

export type BenchMessage = { type: string } & Record<string, unknown>;
type Handler = (message: BenchMessage) => Promise<Record<string, unknown>>;

const handlers = new Map<string, Handler>();
let listening = false;

export function onBenchMessage(type: string, handler: Handler): void {
  const send = process.send?.bind(process);
  if (send === undefined || cluster.isWorker) return;
  handlers.set(type, handler);
  if (listening) return;
  listening = true;
  process.on('message', (raw: unknown) => {
    const message = raw as BenchMessage | null;
    const run = message === null ? undefined : handlers.get(message.type);
    if (run === undefined || message === null) return;
    run(message).then(
      (result) => send({ ...result, type: `${message.type}:done` }),
      (error: unknown) => send({ type: `${message.type}:done`, error: String(error) }),
    );
  });
  // The channel must not keep the server alive on its own.
  process.channel?.unref();
}

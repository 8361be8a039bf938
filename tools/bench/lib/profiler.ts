/**
 * Preloaded (`--require`) into a server when the benchmark runs with
 * `--profile`. Starts and stops V8's sampling CPU profiler (the one behind
 * `node --cpu-prof`) when the benchmark says so over the IPC channel, so a
 * profile covers one measured run and nothing of start-up or seeding.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session, type Profiler } from 'node:inspector';
import { dirname } from 'node:path';
import { onBenchMessage } from './preload-channel';

const session = new Session();
let connected = false;

function post<T = unknown>(method: string): Promise<T> {
  if (!connected) {
    session.connect();
    connected = true;
  }
  return new Promise<T>((resolve, reject) =>
    session.post(method, (error, result) => (error ? reject(error) : resolve(result as T))),
  );
}

onBenchMessage('profile:start', async () => {
  await post('Profiler.enable');
  await post('Profiler.start');
  return {};
});

onBenchMessage('profile:stop', async (message) => {
  const { profile } = await post<Profiler.StopReturnType>('Profiler.stop');
  const file = String(message.file);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
  return {};
});

/**
 * Preloaded (`--require`) into the server processes whose database commands
 * the benchmark counts. Every MongoClient the process connects (the
 * service's through Mongoose, the baseline's own) gets command monitoring
 * turned on before it connects, and each `commandStarted` is counted by
 * command name. The benchmark reads and resets the counts over IPC, so the
 * production code needs no switch for it. Monitoring costs a little per
 * command: the benchmark counts in separate processes, never while it measures.
 */
import { MongoClient, type CommandStartedEvent } from 'mongodb';
import { onBenchMessage } from './preload-channel';

const counts = new Map<string, number>();
const monitored = new WeakSet<MongoClient>();

// eslint-disable-next-line @typescript-eslint/unbound-method -- called with its own `this` below
const connect = MongoClient.prototype.connect;
MongoClient.prototype.connect = function (this: MongoClient): Promise<MongoClient> {
  if (!monitored.has(this)) {
    monitored.add(this);
    // Read when the client connects; the typings leave the setter out.
    (this.options as { monitorCommands: boolean }).monitorCommands = true;
    this.on('commandStarted', (event: CommandStartedEvent) => {
      counts.set(event.commandName, (counts.get(event.commandName) ?? 0) + 1);
    });
  }
  return connect.call(this);
};

onBenchMessage('commands:reset', () => {
  counts.clear();
  return Promise.resolve({});
});

onBenchMessage('commands:read', () => Promise.resolve({ commands: Object.fromEntries(counts) }));

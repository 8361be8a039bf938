/**
 * `npm start`, `npm run start:dev` and `npm run migrate`: runs the command
 * after `--` with MONGODB_URI set. When neither the environment nor `.env`
 * sets it (and NODE_ENV is not production, which has no embedded database),
 * the launcher first starts the embedded development database with its data
 * in `.data/`, and stops it once the command has exited. The service itself
 * only ever reads MONGODB_URI.
 *
 *   node dist-tools/dev/with-database.cli.js -- nest start --watch
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { launchMongo, type LaunchedMongo } from '../database/mongo-launcher';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

async function main(): Promise<number> {
  const separator = process.argv.indexOf('--');
  const [command, ...args] = process.argv.slice(separator === -1 ? 2 : separator + 1);
  if (command === undefined) throw new Error('usage: with-database.cli.js -- <command> [args...]');

  let db: LaunchedMongo | undefined;
  const env = { ...process.env };
  // What the service will see: the environment first, then `.env` in its working directory.
  const envFile = resolve('.env');
  const fromFile = existsSync(envFile) ? parseDotenv(readFileSync(envFile)) : {};
  const setting = (name: string) => env[name] || fromFile[name];
  if (!setting('MONGODB_URI') && setting('NODE_ENV') !== 'production') {
    db = await launchMongo({ persistent: true, log: (m) => console.log(`[database] ${m}`) });
    env.MONGODB_URI = db.uri;
    console.log(`[database] MONGODB_URI=${db.uri} (${db.kind}); stopped when ${command} exits`);
  }

  // Its own process group, so that a stop signal reaches the command and all
  // its children (nest's watcher and the service) exactly once, as a
  // terminal's Ctrl-C would, and the database stops only after they are gone.
  const child = spawn(command, args, { env, stdio: 'inherit', detached: true });
  const forward = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  for (const signal of STOP_SIGNALS) process.on(signal, forward);
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });
  // A child that died leaves no orphans of its group behind.
  forward('SIGTERM');
  await db?.stop();
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);

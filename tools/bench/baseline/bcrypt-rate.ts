/**
 * The ceiling for logins: how many `bcrypt.compare` calls per second this
 * machine completes on libuv's thread pool (the pool the service's compares
 * run on, same UV_THREADPOOL_SIZE), with `concurrency` compares always queued.
 * Prints one JSON line.
 *
 *   node dist-tools/bench/baseline/bcrypt-rate.js --hash HASH --password PW [--concurrency 8] [--seconds 10]
 */
import { parseArgs } from 'node:util';
import bcrypt from 'bcrypt';

const { values: args } = parseArgs({
  options: {
    hash: { type: 'string' },
    password: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
  },
});

/**
 * Counted like autocannon counts the service's logins: `concurrency`
 * compares start at once and the rate is the compares completed within the
 * window, so both sides pay the same ramp-up and neither counts work that
 * ends after it.
 */
async function main(): Promise<void> {
  const { password, hash } = args;
  if (password === undefined || hash === undefined)
    throw new Error('--hash and --password are required');
  const concurrency = Number(args.concurrency);
  const windowMs = Number(args.seconds) * 1000;
  if (!(await bcrypt.compare(password, hash)))
    throw new Error('The password does not match the hash');
  const started = performance.now();
  const deadline = started + windowMs;
  let done = 0;
  // CPU read when the window closes, like the harness reads the service's
  // when autocannon stops: both include the compares still running then.
  const cpuStart = process.cpuUsage();
  let cpuMs = NaN;
  setTimeout(() => {
    const cpu = process.cpuUsage(cpuStart);
    cpuMs = (cpu.user + cpu.system) / 1000;
  }, windowMs);
  const worker = async () => {
    while (performance.now() < deadline) {
      await bcrypt.compare(password, hash);
      if (performance.now() <= deadline) done += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = windowMs / 1000;
  console.log(
    JSON.stringify({
      compares: done,
      seconds,
      rate: done / seconds,
      cpuMsPerCompare: cpuMs / done,
      threadPool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
      concurrency,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

'use strict';
/** Starting, watching and stopping the processes under test (only ones we started). */
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

// The shared starter, compiled by `npm run build:tools` (bench/run.js runs it).
const { freePort, LOOPBACK, rssOf, startService } = require(
  join(__dirname, '..', '..', 'dist-tools', 'lib', 'service.js'),
);
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU time in milliseconds, or undefined (off Linux). */
function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after the comm.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * A server process (the service or the baseline) with its output in
 * `logFile`, started the way every tool starts one (tools/lib/service.ts).
 * `ready` resolves with the milliseconds from spawn to the first 200 from
 * `readyPath`.
 */
class ServerProcess {
  constructor({
    name,
    script,
    nodeArgs = [],
    env,
    port,
    logFile,
    readyPath = '/health/ready',
    ipc = false,
  }) {
    this.name = name;
    this.port = port;
    this.url = `http://${LOOPBACK}:${port}`;
    this.logFile = logFile;
    this.started = startService({
      entry: script,
      nodeArgs,
      baseEnv: env,
      port,
      logFile,
      ipc,
      readyPath,
      readyTimeoutMs: 60_000,
      readyPollMs: 10,
    }).then((service) => (this.service = service));
    this.ready = this.started.then(
      (service) => service.readyMs,
      (error) => {
        throw new Error(`${name}: ${error.message.split('\n')[0]} (see ${logFile})`);
      },
    );
    this.exited = this.started.then(
      (service) => service.exited,
      () => ({ code: null, signal: null }),
    );
  }

  get pid() {
    return this.service?.pid;
  }

  rss() {
    return rssOf(this.pid);
  }

  cpuMs() {
    return cpuMsOf(this.pid);
  }

  /** Asks the preloaded profiler (lib/profiler.js) for `type` and waits for its answer. */
  profiler(type, file) {
    const child = this.service.child;
    return new Promise((resolve) => {
      const onMessage = (message) => {
        if (message?.type === `${type}:done`) {
          child.off('message', onMessage);
          resolve();
        }
      };
      child.on('message', onMessage);
      child.send({ type, file });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000) {
    const service = await this.started.catch(() => undefined);
    return service ? service.stop(graceMs) : this.exited;
  }
}

/** Samples a process's RSS every `everyMs` until `stop()`; reports the peak. */
function sampleRss(pid, everyMs = 200) {
  let peak = rssOf(pid) ?? 0;
  const timer = setInterval(() => {
    const rss = rssOf(pid);
    if (rss !== undefined && rss > peak) peak = rss;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const rss = rssOf(pid);
      if (rss !== undefined && rss > peak) peak = rss;
      return peak;
    },
  };
}

module.exports = { LOOPBACK, freePort, rssOf, cpuMsOf, ServerProcess, sampleRss };

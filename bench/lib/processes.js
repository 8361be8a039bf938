'use strict';
/** Starting, watching and stopping the processes under test (only ones we started). */
const { spawn } = require('node:child_process');
const { openSync, closeSync, readFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { setTimeout: sleep } = require('node:timers/promises');

const LOOPBACK = '127.0.0.1';
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resident set size in bytes, or undefined once the process is gone (or off Linux). */
function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

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

/** Polls `url` until it answers 200, within `timeoutMs`. Resolves to the elapsed ms. */
async function waitForOk(url, { timeoutMs = 60_000, intervalMs = 10, isAlive = () => true } = {}) {
  const started = performance.now();
  const deadline = started + timeoutMs;
  while (performance.now() < deadline) {
    if (!isAlive()) throw new Error(`The process exited before ${url} answered`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return performance.now() - started;
    } catch {
      // Not listening yet.
    }
    await sleep(intervalMs);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/**
 * A server process with its output in `logFile`. `ready` resolves with the
 * milliseconds from spawn to the first 200 from `readyPath`.
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
    const fd = openSync(logFile, 'a');
    const spawnedAt = performance.now();
    this.child = spawn(process.execPath, [...nodeArgs, script], {
      env: { ...env, PORT: String(port) },
      stdio: ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
    });
    closeSync(fd);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.alive = true;
    void this.exited.then(() => (this.alive = false));
    this.logFile = logFile;
    this.ready = waitForOk(`${this.url}${readyPath}`, { isAlive: () => this.alive }).then(
      () => performance.now() - spawnedAt,
      (error) => {
        throw new Error(`${name}: ${error.message} (see ${logFile})`);
      },
    );
  }

  get pid() {
    return this.child.pid;
  }

  rss() {
    return rssOf(this.child.pid);
  }

  cpuMs() {
    return cpuMsOf(this.child.pid);
  }

  /** Asks the preloaded profiler (lib/profiler.js) for `type` and waits for its answer. */
  profiler(type, file) {
    return new Promise((resolve) => {
      const onMessage = (message) => {
        if (message?.type === `${type}:done`) {
          this.child.off('message', onMessage);
          resolve();
        }
      };
      this.child.on('message', onMessage);
      this.child.send({ type, file });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000) {
    if (!this.alive) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.alive && this.child.kill('SIGKILL'), graceMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
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

module.exports = { LOOPBACK, freePort, rssOf, cpuMsOf, waitForOk, ServerProcess, sampleRss };

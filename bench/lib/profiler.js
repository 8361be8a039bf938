'use strict';
/**
 * Preloaded (`--require`) into a server when the benchmark runs with
 * `--profile`. Starts and stops V8's sampling CPU profiler (the one behind
 * `node --cpu-prof`) when bench/run.js says so over the IPC channel, so a
 * profile covers one measured run and nothing of start-up or seeding.
 */
const { mkdirSync, writeFileSync } = require('node:fs');
const inspector = require('node:inspector');
const { dirname } = require('node:path');

if (process.send) {
  const session = new inspector.Session();
  session.connect();
  const post = (method, params = {}) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  process.on('message', (message) => {
    if (message?.type === 'profile:start') {
      post('Profiler.enable')
        .then(() => post('Profiler.start'))
        .then(() => process.send({ type: 'profile:start:done' }));
    } else if (message?.type === 'profile:stop') {
      post('Profiler.stop').then(({ profile }) => {
        mkdirSync(dirname(message.file), { recursive: true });
        writeFileSync(message.file, JSON.stringify(profile));
        process.send({ type: 'profile:stop:done' });
      });
    }
  });
  // The channel must not keep the server alive on its own.
  process.channel.unref();
}

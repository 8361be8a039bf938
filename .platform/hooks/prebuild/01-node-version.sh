#!/bin/bash
# Elastic Beanstalk runs .platform/hooks/prebuild/* in the unpacked bundle
# (/var/app/staging) before it installs dependencies. This one stops a deploy
# to an environment on the wrong platform branch (say Node.js 22) with a clear
# line in eb-engine.log, instead of an app that crashes in a restart loop.
# The platform runs a hook only if the zip kept its execute bit
# (tools/eb/zip.ts does; npm run smoke:eb runs this file as the platform does).
set -euo pipefail
exec node -e '
  const engines = require("./package.json").engines.node;
  const range = /^>=(\d+)\.(\d+)\.(\d+) <(\d+)$/.exec(engines);
  if (!range) throw new Error(`unexpected engines.node in package.json: ${engines}`);
  const [lo1, lo2, lo3, hi] = range.slice(1).map(Number);
  const [a, b, c] = process.versions.node.split(".").map(Number);
  const atLeast = a !== lo1 ? a > lo1 : b !== lo2 ? b > lo2 : c >= lo3;
  if (!atLeast || a >= hi) {
    console.error(`This platform runs Node.js ${process.versions.node}; the service needs ${engines}: choose the platform branch "Node.js 24 running on 64bit Amazon Linux 2023".`);
    process.exit(1);
  }
  console.log(`Node.js ${process.versions.node} satisfies ${engines}`);
'

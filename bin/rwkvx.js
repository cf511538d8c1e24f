#!/usr/bin/env node
// `rwkvx` command line: runs the bundle dist/cli.js (made by `npm run build`,
// which `npm install` runs). In a checkout without the bundle it builds it first.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const bundle = path.join(root, 'dist', 'cli.js');
if (!fs.existsSync(bundle)) {
  const build = path.join(root, 'tools', 'build.js');
  if (!fs.existsSync(build)) {
    process.stderr.write('rwkvx: dist/cli.js is missing; reinstall the package\n');
    process.exit(1);
  }
  const r = require('child_process').spawnSync(process.execPath, [build, 'bundle'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    process.stderr.write('rwkvx: building dist/cli.js failed; run npm install\n');
    process.exit(1);
  }
}
require(bundle).runProcess();

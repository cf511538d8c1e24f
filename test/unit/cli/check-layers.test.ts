// The layer lint finds every forbidden direction in a small made-up tree,
// and passes the repository itself.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, it } from 'node:test';

import { repoRoot } from '../engine/fixtures';

const { checkLayers } = require(path.join(repoRoot(), 'tools', 'check-layers.js')) as {
  checkLayers: (root: string) => { file: string; line: number; message: string }[];
};

describe('layer lint', () => {
  it('reports each forbidden import with file and line', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkvx-layers-'));
    const write = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    };
    try {
      write('src/core/ok.ts', "import { a } from '../common/a';\nimport { p } from '../protocol/p';\nimport ignore from 'ignore';\n");
      write('src/core/bad.ts', "import * as vscode from 'vscode';\nimport { c } from '../engine/client/c';\n");
      write('src/protocol/bad.ts', "// import x from '../core/x' is only a comment\nexport { x } from '../core/x';\n");
      write('src/common/bad.ts', "const p = require('../protocol/p');\n");
      write('src/engine/client/bad.ts', "import { h } from '../host/engine-host';\nconst a = require('../../../native/build/Release/rwkvx.node');\n");
      write('src/engine/host/ok.ts', "const a = require('../../../native/build/Release/rwkvx.node');\nimport { p } from '../../protocol/p';\n");
      write('src/cli/bad.ts', "import { v } from '../vscode/v';\nconst f = 'rwkvx.node';\n");
      write('src/vscode/ok.ts', "import * as vscode from 'vscode';\nimport { c } from '../engine/client/c';\n");
      write('native/src/engine.h', '#pragma once\n');
      write('native/src/bad.cpp', '#include <node_api.h>\n');
      write('native/addon/ok.cc', '#include <napi.h>\n#include <vector>\n#include "rwkvx.h"\n#include "addon.h"\n');
      write('native/addon/addon.h', '#pragma once\n');
      write('native/addon/bad.cc', '#include "../src/engine.h"\n#include <engine.h>\n');
      const problems = checkLayers(root);
      const where = problems.map((p) => `${p.file}:${p.line}`).sort();
      assert.deepEqual(where, [
        'native/addon/bad.cc:1',
        'native/addon/bad.cc:2',
        'native/src/bad.cpp:1',
        'src/cli/bad.ts:1',
        'src/cli/bad.ts:2',
        'src/common/bad.ts:1',
        'src/core/bad.ts:1',
        'src/core/bad.ts:2',
        'src/engine/client/bad.ts:1',
        'src/engine/client/bad.ts:2',
        'src/protocol/bad.ts:2',
      ]);
      assert.ok(problems.some((p) => /only src\/vscode/.test(p.message)));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('passes on this repository', () => {
    assert.deepEqual(checkLayers(repoRoot()), []);
  });
});

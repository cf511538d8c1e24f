#!/usr/bin/env node
// Layer lint: fails when an import goes in a forbidden direction.
//   - only src/vscode imports 'vscode';
//   - src/core imports only src/core, src/common, src/protocol (of ours);
//   - src/protocol imports only src/protocol, src/common; src/common only src/common;
//   - src/engine/client imports only itself, src/protocol, src/common;
//   - src/cli imports only itself, src/core, src/common, src/protocol, src/engine/client;
//   - only src/engine/host references the native addon (a .node file) or imports
//     src/engine/host modules;
//   - native/addon includes only rwkvx.h, its own headers and system / Node headers;
//   - native/src never includes Node headers.
// Usage: node tools/check-layers.js [root]; exports checkLayers(root) for tests.
'use strict';
const fs = require('fs');
const path = require('path');

function walk(dir, test, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, test, out);
    else if (test(e.name)) out.push(p);
  }
  return out;
}

const toPosix = (p) => p.split(path.sep).join('/');

/** The layer of a repository-relative path. */
function layerOf(rel) {
  const m = /^src\/(engine\/(?:client|host)|[^/]+)(?:\/|$)/.exec(rel);
  return m ? m[1] : null;
}

const ALLOWED = {
  core: ['core', 'common', 'protocol'],
  protocol: ['protocol', 'common'],
  common: ['common'],
  'engine/client': ['engine/client', 'protocol', 'common'],
  cli: ['cli', 'core', 'common', 'protocol', 'engine/client'],
};

/** Module specifiers of a TypeScript file, with their lines (imports, exports, require, import()). */
function importsOf(ts, text) {
  const sf = ts.createSourceFile('x.ts', text, ts.ScriptTarget.Latest, true);
  const specs = [];
  const strings = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specs.push({ spec: node.moduleSpecifier.text, pos: node.getStart() });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      specs.push({ spec: node.moduleReference.expression.text, pos: node.getStart() });
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteralLike(node.arguments[0])) {
      const callee = node.expression;
      if ((ts.isIdentifier(callee) && callee.text === 'require') || callee.kind === ts.SyntaxKind.ImportKeyword) {
        specs.push({ spec: node.arguments[0].text, pos: node.getStart() });
      }
    }
    if (ts.isStringLiteralLike(node)) strings.push({ text: node.text, pos: node.getStart() });
    ts.forEachChild(node, visit);
  };
  visit(sf);
  const line = (pos) => sf.getLineAndCharacterOfPosition(pos).line + 1;
  return { specs: specs.map((s) => ({ spec: s.spec, line: line(s.pos) })), strings: strings.map((s) => ({ text: s.text, line: line(s.pos) })) };
}

/** What is wrong with importing `spec` from `file` (in layer `from`), or null. */
function importProblem(root, file, from, spec) {
  if (spec === 'vscode') return from === 'vscode' ? null : `imports 'vscode': only src/vscode may`;
  const addon = /\.node$/.test(spec) || spec === 'bindings' || /native\/build/.test(spec);
  if (addon) return from === 'engine/host' ? null : `loads the native addon ('${spec}'): only src/engine/host may`;
  if (!spec.startsWith('.')) return null;
  const target = toPosix(path.relative(root, path.resolve(path.dirname(file), spec)));
  const to = layerOf(target);
  if (to === null) return target.startsWith('native/') && from !== 'engine/host' ? `imports ${target}: only src/engine/host may reach native code` : null;
  if (to === 'engine/host' && from !== 'engine/host') return `imports ${target}: src/engine/host is reached only through the engine process`;
  const allowed = ALLOWED[from];
  return allowed && !allowed.includes(to) ? `src/${from} may not import src/${to} (${target})` : null;
}

function checkTypeScript(root, ts, problems) {
  for (const file of walk(path.join(root, 'src'), (n) => n.endsWith('.ts'))) {
    const rel = toPosix(path.relative(root, file));
    const from = layerOf(rel);
    const { specs, strings } = importsOf(ts, fs.readFileSync(file, 'utf8'));
    const report = (line, message) => problems.push({ file: rel, line, message });
    for (const { spec, line } of specs) {
      const problem = importProblem(root, file, from, spec);
      if (problem) report(line, problem);
    }
    if (from !== 'engine/host') {
      const seen = new Set(specs.map((x) => `${x.line}:${x.spec}`));
      for (const { text, line } of strings) {
        if (seen.has(`${line}:${text}`)) continue; // an import, judged above
        if (/(^|\/)rwkvx\.node$/.test(text)) report(line, `names the native addon ('${text}'): only src/engine/host may`);
      }
    }
  }
}

const NODE_HEADERS = new Set(['napi.h', 'node_api.h', 'node.h', 'js_native_api.h', 'uv.h', 'v8.h', 'node_buffer.h', 'node_object_wrap.h']);

function includesOf(text) {
  const out = [];
  text.split('\n').forEach((l, i) => {
    const m = /^\s*#\s*include\s*([<"])([^>"]+)[>"]/.exec(l);
    if (m) out.push({ quoted: m[1] === '"', name: m[2], line: i + 1 });
  });
  return out;
}

function checkNative(root, problems) {
  const addonDir = path.join(root, 'native', 'addon');
  const engineDir = path.join(root, 'native', 'src');
  const engineFiles = new Set(fs.existsSync(engineDir) ? fs.readdirSync(engineDir) : []);
  const isSource = (n) => /\.(cc|cpp|c|h|hpp)$/.test(n);
  for (const file of walk(addonDir, isSource)) {
    const rel = toPosix(path.relative(root, file));
    for (const inc of includesOf(fs.readFileSync(file, 'utf8'))) {
      const base = path.basename(inc.name);
      const own = inc.quoted && fs.existsSync(path.join(path.dirname(file), inc.name)) && !inc.name.includes('..');
      if (inc.name === 'rwkvx.h' || own) continue;
      if (inc.quoted || inc.name.includes('src/') || (engineFiles.has(base) && !NODE_HEADERS.has(base))) {
        problems.push({ file: rel, line: inc.line, message: `includes ${inc.name}: the addon may include only rwkvx.h (and system / Node headers)` });
      }
    }
  }
  for (const file of walk(engineDir, isSource)) {
    const rel = toPosix(path.relative(root, file));
    for (const inc of includesOf(fs.readFileSync(file, 'utf8'))) {
      if (NODE_HEADERS.has(path.basename(inc.name))) problems.push({ file: rel, line: inc.line, message: `includes ${inc.name}: the engine never includes Node headers` });
    }
  }
}

function checkLayers(root) {
  const ts = require('typescript');
  const problems = [];
  checkTypeScript(root, ts, problems);
  checkNative(root, problems);
  return problems;
}

module.exports = { checkLayers, layerOf };

if (require.main === module) {
  const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
  const problems = checkLayers(root);
  for (const p of problems) process.stdout.write(`${p.file}:${p.line}: ${p.message}\n`);
  const files = walk(path.join(root, 'src'), (n) => n.endsWith('.ts')).length + walk(path.join(root, 'native'), (n) => /\.(cc|cpp|h)$/.test(n)).length;
  process.stdout.write(`layer lint: ${files} files checked, ${problems.length} problems\n`);
  process.exit(problems.length === 0 ? 0 : 1);
}

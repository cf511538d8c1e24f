// Cross-file identifier completion. In each validation repository: positions
// in a file B where the next identifier is exported at the top level of
// another file A, reads as an identifier (capitalized, camelCase or
// snake_case) and does not occur earlier in B (header included). A is the
// definer nearest to B in the folder tree; names exported by more than
// MAX_DEFINERS files are left out as too generic; test fixtures are neither A
// nor B. Greedy completion there, and the bits of the true identifier:
//   (a) other files of the repository first (A and others, up to a token
//       budget, laid out as the context log: File: headers, corpus order),
//       then B up to the position;
//   (b) B up to the position only;
//   (c) control: (a)'s other files without any file that defines one of the
//       names, the budget filled up again with more files of the repository
//       (tells knowing the definition from knowing the repository).
// One session per context reads it once; each B continues on a fork of it
// and reaches its positions in order (a fork per completion), so every token
// is read once per condition.
'use strict';
const { crossEntropy, definitionsOf, filePiece, firstUses, isDistinctive, isFixture, predictedIdentifier, promptEnd, prng, seedOf, sharedFolders, shuffled } = require('./helpers');

const MAX_DEFINERS = 3;
const CODE_LANGS = new Set(['typescript', 'javascript', 'python', 'go', 'rust', 'c', 'cpp', 'java', 'kotlin', 'csharp', 'ruby', 'php', 'swift', 'vue', 'svelte', 'shell']);

/** Token count of piece[0:q], from the piece's own tokenization (approximate at q). */
function prefixTokens(runner, piece, tokens, q) {
  const bytes = Buffer.byteLength(piece.slice(0, q), 'utf8');
  let b = 0;
  let n = 0;
  while (n < tokens.length && b + runner.byteLen[tokens[n]] <= bytes) b += runner.byteLen[tokens[n++]];
  return n;
}

/** Positions of one repository and the context files that go with them. */
function selectInRepo(runner, repo, opts) {
  const files = repo.files;
  const defs = new Map();
  const isCode = (f) => CODE_LANGS.has(f.lang) && !isFixture(f.path);
  files.forEach((f, i) => {
    if (!isCode(f)) return;
    for (const name of definitionsOf(f.text)) {
      if (!defs.has(name)) defs.set(name, []);
      defs.get(name).push(i);
    }
  });
  const nearest = (b, where) => {
    let best = -1;
    let bestShared = -1;
    for (const a of where) {
      const shared = sharedFolders(files[a].path, files[b].path);
      if (shared > bestShared || (shared === bestShared && files[a].tokens.length < files[best].tokens.length)) {
        best = a;
        bestShared = shared;
      }
    }
    return best;
  };
  const candidatesOf = (b) => {
    const f = files[b];
    if (!isCode(f)) return [];
    const piece = filePiece(f.path, f.text);
    const header = piece.indexOf('\n') + 1;
    const out = [];
    for (const u of firstUses(piece)) {
      if (u.index < header || u.name.length < opts.minLength || !isDistinctive(u.name)) continue;
      const where = defs.get(u.name);
      if (!where || where.includes(b) || where.length > MAX_DEFINERS) continue;
      const definer = nearest(b, where);
      if (files[definer].tokens.length > opts.maxDefTokens) continue;
      const q = promptEnd(piece, u.index);
      if (q < header - 1) continue;
      if (prefixTokens(runner, piece, f.tokens, q) > opts.maxPrefixTokens) break;
      out.push({ name: u.name, index: u.index, q, definer, definers: where });
    }
    return out;
  };
  const rand = prng(seedOf(opts.seed, 'xfile', repo.repo));
  const order = shuffled(files.map((_, i) => i), rand);
  const targets = [];
  const required = new Set();
  let used = 0;
  for (const b of order) {
    if (targets.length >= opts.files) break;
    if (required.has(b)) continue;
    const cands = candidatesOf(b);
    if (cands.length === 0) continue;
    const picks = cands.length <= opts.positions ? cands : Array.from({ length: opts.positions }, (_, i) => cands[Math.floor(((i + 0.5) * cands.length) / opts.positions)]);
    const taken = new Set(targets.map((t) => t.file));
    const kept = [];
    for (const p of picks) {
      const a = p.definer;
      if (taken.has(a)) continue;
      if (!required.has(a)) {
        if (used + files[a].tokens.length > opts.budget) continue;
        required.add(a);
        used += files[a].tokens.length;
      }
      kept.push(p);
    }
    if (kept.length > 0) targets.push({ file: b, positions: kept });
  }
  // Fill the budget with other files of the repository (seeded order).
  const isTarget = new Set(targets.map((t) => t.file));
  const filler = shuffled(files.map((_, k) => k), prng(seedOf(opts.seed, 'xfile-fill', repo.repo)));
  const fill = (start, startTokens, skip) => {
    const set = new Set(start);
    let n = startTokens;
    for (const i of filler) {
      if (opts.budget - n < 64) break;
      if (isTarget.has(i) || set.has(i) || skip.has(i) || files[i].tokens.length > opts.budget - n) continue;
      set.add(i);
      n += files[i].tokens.length;
    }
    return { files: [...set].sort((x, y) => x - y), tokens: n };
  };
  const context = fill(required, used, new Set());
  // The control: the same filler without the defining files, filled up again.
  const definers = new Set(targets.flatMap((t) => t.positions.flatMap((p) => p.definers)));
  const kept = context.files.filter((i) => !definers.has(i));
  const control = fill(kept, kept.reduce((n, i) => n + files[i].tokens.length, 0), definers);
  targets.sort((x, y) => x.file - y.file);
  return { context: context.files, contextTokens: context.tokens, control: control.files, controlTokens: control.tokens, targets };
}

/** A session that has read these files (File: pieces, corpus order). */
async function readFiles(runner, files, list, total) {
  const session = runner.session();
  const all = new Int32Array(total);
  let o = 0;
  for (const i of list) {
    all.set(files[i].tokens, o);
    o += files[i].tokens.length;
  }
  if (all.length > 0) await runner.prefill(session, all);
  return session;
}

async function complete(runner, session, piece, p, logits) {
  const gen = await runner.greedy(session, logits, runner.maxIdentTokens, (s) => predictedIdentifier(s).complete);
  const pred = predictedIdentifier(gen);
  const target = runner.tokenize(piece.slice(p.q, p.index + p.name.length));
  const nats = await runner.targetNats(session, logits, target, crossEntropy);
  return { predicted: pred.name, ok: pred.complete && pred.name === p.name, bits: nats / Math.LN2 };
}

/** Reads B's positions in order on `session`; one result per position. */
async function runTarget(runner, session, f, positions) {
  const piece = filePiece(f.path, f.text);
  const results = [];
  let from = 0;
  let logits = null;
  for (const p of positions) {
    if (p.q > from || logits === null) logits = await runner.prefill(session, runner.tokenize(piece.slice(from, p.q)), true);
    from = p.q;
    results.push(await complete(runner, session, piece, p, logits));
  }
  return results;
}

const CONDITIONS = ['repoContext', 'withoutDefiners', 'fileOnly'];

async function measureCrossFile(runner, repos, opts, log) {
  runner.maxIdentTokens = opts.maxTokens;
  const rows = [];
  const perRepo = [];
  for (const repo of repos) {
    const sel = selectInRepo(runner, repo, opts);
    const n = sel.targets.reduce((s, t) => s + t.positions.length, 0);
    if (n === 0) {
      log(`  cross-file ${repo.repo}: no position`);
      continue;
    }
    const t0 = Date.now();
    const ctx = await readFiles(runner, repo.files, sel.context, sel.contextTokens);
    const ctl = await readFiles(runner, repo.files, sel.control, sel.controlTokens);
    try {
      for (const t of sel.targets) {
        const f = repo.files[t.file];
        const row = t.positions.map((p) => ({ repo: repo.repo, file: f.path, name: p.name, definedIn: repo.files[p.definer].path }));
        for (const [c, start] of [[CONDITIONS[0], () => ctx.fork()], [CONDITIONS[1], () => ctl.fork()], [CONDITIONS[2], () => runner.session()]]) {
          const session = start();
          try {
            (await runTarget(runner, session, f, t.positions)).forEach((r, k) => (row[k][c] = r));
          } finally {
            session.dispose();
          }
        }
        rows.push(...row);
      }
    } finally {
      ctx.dispose();
      ctl.dispose();
    }
    const mine = rows.filter((r) => r.repo === repo.repo);
    const last = {
      repo: repo.repo,
      contextFiles: sel.context.length,
      contextTokens: sel.contextTokens,
      controlFiles: sel.control.length,
      controlTokens: sel.controlTokens,
      targetFiles: sel.targets.length,
      positions: mine.length,
    };
    for (const c of CONDITIONS) last[`${c}Correct`] = mine.filter((r) => r[c].ok).length;
    perRepo.push(last);
    log(`  cross-file ${repo.repo}: ${last.positions} positions in ${last.targetFiles} files, context ${last.contextFiles} files / ${last.contextTokens} tokens: right ${CONDITIONS.map((c) => `${c} ${last[`${c}Correct`]}`).join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const mean = (xs) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  const out = { positions: rows.length };
  for (const c of CONDITIONS) {
    out[`${c}Correct`] = rows.filter((r) => r[c].ok).length;
    out[`${c}Bits`] = mean(rows.map((r) => r[c].bits));
  }
  out.onlyRepoContextCorrect = rows.filter((r) => r.repoContext.ok && !r.fileOnly.ok).length;
  out.onlyFileOnlyCorrect = rows.filter((r) => !r.repoContext.ok && r.fileOnly.ok).length;
  out.repoContextLowerBitsThanFileOnly = rows.filter((r) => r.repoContext.bits < r.fileOnly.bits).length;
  out.repoContextLowerBitsThanWithoutDefiners = rows.filter((r) => r.repoContext.bits < r.withoutDefiners.bits).length;
  out.perRepo = perRepo;
  out.rows = rows;
  return out;
}

module.exports = { measureCrossFile, selectInRepo, CODE_LANGS };

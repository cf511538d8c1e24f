// Passkey retrieval: a haystack of consecutive files of one validation
// repository (File: headers, tokenized file by file), the line
// "// The passkey is NNNNN. Remember it." (or, in the code form,
// `const PASSKEY = "NNNNN";`) put at a line start near each depth, the question
// at the end, greedy decoding, exact match of the 5 digits; and
// whether " KEY" is likelier than " OTHER" for seeded other 5-digit numbers.
// The trials of one haystack share it up to the file that holds their needle:
// one session reads the haystack once and each trial continues on a fork.
'use strict';
const { PASSKEY_FORMS, crossEntropy, filePiece, needleLine, passkeyAnswer, prng, seedOf, shuffled } = require('./helpers');

/** Consecutive files (from a seeded start) of a repository with enough tokens. */
function haystack(repos, need, seed) {
  const rand = prng(seedOf(seed, 'passkey-haystack'));
  const usable = (f) => !/passkey/i.test(f.text);
  const starts = [];
  for (const r of repos) {
    let after = 0;
    const ok = [];
    for (let i = r.files.length - 1; i >= 0; i--) {
      if (usable(r.files[i])) after += r.files[i].tokens.length;
      if (after >= need) ok.push(i);
    }
    if (ok.length > 0) starts.push({ r, ok: ok.reverse() });
  }
  if (starts.length === 0) throw new Error(`no validation repository has ${need} tokens for the passkey haystack`);
  const { r, ok } = shuffled(starts, rand)[0];
  const first = ok[Math.floor(rand() * ok.length)];
  const files = [];
  let n = 0;
  for (let i = first; i < r.files.length && n < need; i++) {
    if (!usable(r.files[i])) continue;
    files.push(r.files[i]);
    n += r.files[i].tokens.length;
  }
  const cum = [0];
  for (const f of files) cum.push(cum[cum.length - 1] + f.tokens.length);
  const tokens = new Int32Array(cum[cum.length - 1]);
  files.forEach((f, i) => tokens.set(f.tokens, cum[i]));
  return { repo: r.repo, firstPath: files[0].path, files, cum, tokens };
}

/** The tokens of one trial after the shared haystack prefix (cum[file]). */
function buildTrial(runner, hay, length, depth, key, question, form = 'sentence') {
  const needle = runner.tokenize(needleLine(key, form));
  const body = length - question.length;
  const p = Math.round(depth * (body - needle.length));
  let f = 0;
  while (f + 1 < hay.files.length && hay.cum[f + 1] <= p) f++;
  const file = hay.files[f];
  const piece = filePiece(file.path, file.text);
  const header = piece.indexOf('\n') + 1;
  const room = body - hay.cum[f];
  // The line start at or before the k-th token of the file (its own tokenization).
  const k = p - hay.cum[f];
  let bytes = 0;
  for (let i = 0; i < k && i < file.tokens.length; i++) bytes += runner.byteLen[file.tokens[i]];
  const upTo = Buffer.from(piece, 'utf8').subarray(0, bytes).toString('utf8').length;
  let c = Math.max(header, piece.lastIndexOf('\n', Math.max(0, upTo - 1)) + 1);
  let pre = runner.tokenize(piece.slice(0, c));
  while (pre.length + needle.length > room && c > header) {
    c = Math.max(header, piece.lastIndexOf('\n', c - 2) + 1);
    pre = runner.tokenize(piece.slice(0, c));
  }
  const post = c < piece.length ? runner.tokenize(piece.slice(c)) : new Int32Array(0);
  const own = new Int32Array(room);
  let n = 0;
  const put = (t) => {
    const k = Math.min(t.length, room - n);
    own.set(t.subarray(0, k), n);
    n += k;
  };
  put(pre);
  put(needle);
  const needleEnd = n;
  if (needleEnd < pre.length + needle.length) throw new Error(`passkey at depth ${depth} of ${length} does not fit`);
  put(post);
  if (n < room) put(hay.tokens.subarray(hay.cum[f + 1]));
  if (n < room) throw new Error(`haystack too short for ${length} tokens`);
  // End the haystack at a line end so the question starts a line of its own.
  let end = n;
  while (end > needleEnd && !runner.model.tokenBytes(own[end - 1]).includes(10)) end--;
  const tokens = new Int32Array(end + question.length);
  tokens.set(own.subarray(0, end), 0);
  tokens.set(question, end);
  const before = hay.cum[f] + pre.length;
  return { file: f, tokens, actualDepth: before / (hay.cum[f] + end), total: hay.cum[f] + tokens.length };
}

/** Trials on one haystack, in the order of their needle's file: one session reads the haystack once. */
async function runOnHaystack(runner, hay, trials, form, log) {
  const { candidate } = PASSKEY_FORMS[form];
  trials.sort((a, b) => a.file - b.file || a.length - b.length || a.depth - b.depth);
  const main = runner.session();
  let fed = 0;
  try {
    for (const t of trials) {
      const t0 = Date.now();
      const upTo = hay.cum[t.file];
      if (upTo > fed) {
        await runner.prefill(main, hay.tokens.subarray(fed, upTo));
        fed = upTo;
      }
      const fork = main.fork();
      try {
        const logits = await runner.prefill(fork, t.tokens, true);
        t.generated = await runner.greedy(fork, logits, 8, (s) => /^\s*\d+\D/.test(s));
        t.answer = passkeyAnswer(t.generated);
        t.ok = t.answer === String(t.key);
        // Likelihood of " KEY" against other 5-digit numbers: a signal where greedy decoding wanders off.
        const nats = [];
        for (const k of t.candidates) nats.push(await runner.targetNats(fork, logits, runner.tokenize(candidate(k)), crossEntropy));
        t.rankedFirst = nats.slice(1).every((x) => nats[0] < x);
        t.keyBits = nats[0] / Math.LN2;
      } finally {
        fork.dispose();
      }
      log(`  passkey ${t.length} depth ${t.actualDepth.toFixed(2)} (${hay.repo}): key ${t.key} answer ${t.answer || '-'} ${t.ok ? 'ok' : 'wrong'}, likeliest ${t.rankedFirst ? 'yes' : 'no'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } finally {
    main.dispose();
  }
}

/**
 * Trial j of every length and depth uses haystack j (its own seeded start), so
 * the trials of one haystack share its reading and different trials see
 * different code.
 */
async function measurePasskey(runner, repos, opts, log) {
  const form = opts.form || 'sentence';
  const question = runner.tokenize(PASSKEY_FORMS[form].question);
  const all = [];
  const haystacks = [];
  const most = Math.max(...opts.trials);
  for (let j = 0; j < most; j++) {
    const lengths = opts.lengths.filter((_, li) => opts.trials[li] > j);
    const hay = haystack(repos, Math.max(...lengths) + 4096, seedOf(opts.seed, 'haystack', j));
    haystacks.push({ repo: hay.repo, firstFile: hay.firstPath, files: hay.files.length, tokens: hay.tokens.length });
    const trials = [];
    for (const length of lengths) {
      for (const depth of opts.depths) {
        const key = 10000 + Math.floor(prng(seedOf(opts.seed, 'passkey', length, depth, j))() * 90000);
        const rand = prng(seedOf(opts.seed, 'distractors', length, depth, j));
        const candidates = [key];
        while (candidates.length < opts.candidates) {
          const k = 10000 + Math.floor(rand() * 90000);
          if (!candidates.includes(k)) candidates.push(k);
        }
        trials.push({ length, depth, key, candidates, haystack: j, ...buildTrial(runner, hay, length, depth, key, question, form) });
      }
    }
    await runOnHaystack(runner, hay, trials, form, log);
    all.push(...trials);
  }
  const byLength = opts.lengths.map((length) => {
    const ts = all.filter((t) => t.length === length);
    return {
      length,
      trials: ts.length,
      correct: ts.filter((t) => t.ok).length,
      rankedFirst: ts.filter((t) => t.rankedFirst).length,
      details: ts.map((t) => ({
        haystack: t.haystack,
        depth: t.depth,
        actualDepth: +t.actualDepth.toFixed(4),
        tokens: t.total,
        key: t.key,
        answer: t.answer,
        generated: t.generated,
        ok: t.ok,
        rankedFirst: t.rankedFirst,
        keyBits: +t.keyBits.toFixed(3),
      })),
    };
  });
  return { haystacks, byLength };
}

module.exports = { measurePasskey, haystack, buildTrial };

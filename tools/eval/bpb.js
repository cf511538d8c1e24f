// Bits per byte on the validation stream: the windows of data.val_windows
// (spread evenly, every Kth kept), each read from an empty session with the
// logits after every token; cross-entropy of each next token over the UTF-8
// bytes of the predicted tokens (token 0 counts 0 bytes, its loss counts).
'use strict';
const { windowStarts, crossEntropy, bitsPerByte } = require('./helpers');

async function measureBpb(runner, stream, opts, log) {
  const T = opts.seqLen;
  const starts = windowStarts(stream.length, T, opts.windows, opts.every);
  if (starts.length === 0) throw new Error(`validation stream too short for windows of ${T} tokens`);
  let nats = 0;
  let bytes = 0;
  let n = 0;
  for (const [i, s] of starts.entries()) {
    const t0 = Date.now();
    const session = runner.session();
    try {
      const logits = await runner.prefillAllLogits(session, stream.subarray(s, s + T));
      let wNats = 0;
      for (let j = 0; j < T; j++) {
        const target = stream[s + j + 1];
        wNats += crossEntropy(logits, j * runner.nVocab, runner.nVocab, target);
        bytes += runner.byteLen[target];
      }
      nats += wNats;
      n += T;
      log(`  bpb window ${i + 1}/${starts.length} (token ${s}): ${(wNats / T).toFixed(4)} nats/token, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      session.dispose();
    }
  }
  return {
    windows: starts.length,
    seqLen: T,
    starts,
    tokens: n,
    bytes,
    natsPerToken: nats / n,
    bitsPerByte: bitsPerByte(nats, bytes),
  };
}

module.exports = { measureBpb };

// The native addon for the evaluation (a tool script: it requires the addon
// file directly, as the engine tests do), and a thin wrapper that counts every
// token the model reads.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const { argmax } = require('./helpers');

function loadAddon(root) {
  const p = process.env.RWKVX_ADDON || path.join(root, 'native', 'build', 'Release', 'rwkvx.node');
  if (!fs.existsSync(p)) throw new Error(`native addon not found: ${p} (build it with npm run build:addon)`);
  const addon = require(p);
  if (addon.abiVersion() !== addon.headerAbiVersion) throw new Error('the addon does not match the engine ABI; rebuild with npm run build:addon');
  return addon;
}

class Runner {
  constructor(model) {
    this.model = model;
    this.info = model.info();
    this.nVocab = this.info.nVocab;
    this.tokens = 0; // tokens read (prefill and decode)
    this.byteLen = new Int32Array(this.nVocab);
    for (let t = 0; t < this.nVocab; t++) this.byteLen[t] = model.tokenBytes(t).length;
  }

  tokenize(text) {
    return this.model.tokenize(text);
  }

  session() {
    return this.model.newSession({});
  }

  /** Feeds tokens; returns the logits after the last one when asked. */
  async prefill(session, tokens, logits = false) {
    if (tokens.length === 0) throw new Error('empty prefill');
    this.tokens += tokens.length;
    const r = await session.prefill(tokens, { logits });
    return r.logits;
  }

  async prefillAllLogits(session, tokens) {
    this.tokens += tokens.length;
    return session.prefillAllLogits(tokens);
  }

  async decode(session, token) {
    this.tokens += 1;
    return session.decode(token);
  }

  /**
   * Greedy continuation from `logits` on a fork of `session` (the session is
   * left as it was): tokens until `done(text)` or maxTokens or token 0.
   */
  async greedy(session, logits, maxTokens, done) {
    const fork = session.fork();
    try {
      const out = [];
      for (;;) {
        const t = argmax(logits);
        if (t === 0) break;
        out.push(t);
        const text = this.model.detokenize(out);
        if (out.length >= maxTokens || done(text)) return text;
        logits = await this.decode(fork, t);
      }
      return this.model.detokenize(out);
    } finally {
      fork.dispose();
    }
  }

  /** Summed -log p (nats) of `target` tokens after `logits`, on a fork. */
  async targetNats(session, logits, target, crossEntropy) {
    const fork = session.fork();
    try {
      let nats = 0;
      for (let i = 0; i < target.length; i++) {
        nats += crossEntropy(logits, 0, this.nVocab, target[i]);
        if (i + 1 < target.length) logits = await this.decode(fork, target[i]);
      }
      return nats;
    } finally {
      fork.dispose();
    }
  }
}

module.exports = { loadAddon, Runner };

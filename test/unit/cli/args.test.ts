// The rwkvx command line: every subcommand's flags, defaults and errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseCommandLine, parsePosition, parseTokenList, UsageError } from '../../../src/cli/args';

const usage = (argv: string[], pattern: RegExp) => assert.throws(() => parseCommandLine(argv, '/repo'), (e: unknown) => e instanceof UsageError && pattern.test(e.message));

describe('rwkvx arguments', () => {
  it('parses ask with the question, engine and sampling flags', () => {
    const c = parseCommandLine(['ask', 'What does', 'this do?', '--model', 'm.gguf', '--device', 'cuda:1', '--ctx', '8192', '--threads', '2', '--max-tokens', '64', '--temperature', '0.7', '-C', 'sub'], '/repo');
    assert.deepEqual(c, {
      name: 'ask',
      question: 'What does this do?',
      dir: 'sub',
      engine: { model: 'm.gguf', device: 'cuda:1', ctx: 8192, threads: 2 },
      sampling: { maxTokens: 64, temperature: 0.7, topP: undefined, seed: undefined },
    });
    const d = parseCommandLine(['ask', 'q'], '/repo');
    assert.equal(d.name === 'ask' && d.dir, '/repo');
    assert.equal(d.name === 'ask' && d.engine.device, 'auto');
    usage(['ask'], /give the question/);
    usage(['ask', 'q', '--device', 'gpu'], /--device/);
    usage(['ask', 'q', '--ctx', '0'], /--ctx/);
    usage(['ask', 'q', '--ctx', '1e3'], /--ctx/);
    usage(['ask', 'q', '--top-p', '2'], /--top-p/);
    usage(['ask', 'q', '--bogus'], /bogus/);
  });

  it('parses the probes exactly as the engine issue writes them', () => {
    assert.deepEqual(parseCommandLine(['convert', 'in.pth', 'out.gguf', '--vocab', 'v.txt', '--quant', 'q8_0']), {
      name: 'convert',
      input: 'in.pth',
      output: 'out.gguf',
      vocab: 'v.txt',
      type: 'q8_0',
      modelName: undefined,
      engine: { model: undefined, device: 'auto', ctx: undefined, threads: undefined },
    });
    const t = parseCommandLine(['convert', 'in.pth', 'out.gguf', '--type', 'bf16']);
    assert.equal(t.name === 'convert' && t.type, 'bf16');
    usage(['convert', 'in.pth', 'out.gguf', '--quant', 'q4_0'], /q8_0/);
    usage(['convert', 'in.pth', 'out.gguf', '--type', 'f8'], /--type/);
    usage(['convert', 'in.pth'], /IN and OUT/);

    assert.deepEqual(parseCommandLine(['tokenize', '--model', 'M.gguf', '--text', 'hi there']), {
      name: 'tokenize',
      text: 'hi there',
      file: undefined,
      engine: { model: 'M.gguf', device: 'auto', ctx: undefined, threads: undefined },
    });
    usage(['tokenize', '--model', 'M.gguf'], /exactly one/);
    usage(['tokenize', '--text', 'a', '--file', 'f'], /exactly one/);

    const l = parseCommandLine(['logits', '--model', 'M.gguf', '--tokens', '1 2  30', '--out', 'F.npy']);
    assert.deepEqual(l.name === 'logits' && [l.tokens, l.out], [[1, 2, 30], 'F.npy']);
    usage(['logits', '--model', 'M.gguf', '--tokens', '1 2'], /--out/);
    usage(['logits', '--tokens', '1 x', '--out', 'F.npy'], /'x' is not a token id/);

    const g = parseCommandLine(['generate', '--model', 'M.gguf', '--prompt', 'Hello', '--max-tokens', '5', '--temperature', '0']);
    assert.deepEqual(g.name === 'generate' && [g.prompt, g.sampling.maxTokens, g.sampling.temperature], ['Hello', 5, 0]);
    usage(['generate', '--model', 'M.gguf'], /--prompt/);

    assert.deepEqual(parseCommandLine(['bench', '--quick', 'x']), { name: 'bench', args: ['--quick', 'x'] });
  });

  it('parses complete, info, chat and help', () => {
    const c = parseCommandLine(['complete', 'C:/src/a:b.ts:12:5'], '/repo');
    assert.deepEqual(c.name === 'complete' && [c.file, c.line, c.column], ['C:/src/a:b.ts', 12, 5]);
    usage(['complete', 'a.ts:12'], /FILE:LINE:COL/);
    assert.throws(() => parsePosition('a.ts:0:1'), /from 1/);
    assert.equal(parseCommandLine(['info', '--device', 'cpu']).name, 'info');
    usage(['info', 'extra'], /unexpected argument/);
    assert.equal(parseCommandLine(['chat']).name, 'chat');
    assert.deepEqual(parseCommandLine([]), { name: 'help', topic: undefined });
    assert.deepEqual(parseCommandLine(['ask', '--help']), { name: 'help', topic: 'ask' });
    usage(['frobnicate'], /unknown command/);
  });

  it('reads token lists with spaces or commas', () => {
    assert.deepEqual(parseTokenList(' 3, 14 159 '), [3, 14, 159]);
    assert.throws(() => parseTokenList('  '), /at least one/);
    assert.throws(() => parseTokenList('-1'), /not a token id/);
  });
});

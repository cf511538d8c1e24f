import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { escapeHtml, renderInline, renderMarkdown } from '../../../src/core/chat/markdown';

/** Every tag name in the output: the renderer may only produce these. */
const ALLOWED_TAGS = new Set(['p', 'br', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'pre', 'code', 'strong', 'em', 'a', 'blockquote', 'hr', 'div', 'span', 'button', 'details', 'summary']);
const ALLOWED_ATTRS = new Set(['class', 'href', 'data-path', 'data-line', 'data-end-line', 'data-index', 'data-action', 'title', 'open']);

function assertSafe(html: string): void {
  for (const m of html.matchAll(/<\/?([a-zA-Z0-9-]+)([^>]*)>/g)) {
    assert.ok(ALLOWED_TAGS.has(m[1].toLowerCase()), `unexpected tag <${m[1]}> in ${html}`);
    for (const a of m[2].matchAll(/([a-zA-Z-]+)(?:="[^"]*")?/g)) assert.ok(ALLOWED_ATTRS.has(a[1]), `unexpected attribute ${a[1]} in ${m[0]}`);
    for (const v of m[2].matchAll(/="([^"]*)"/g)) assert.ok(!/[<>]/.test(v[1]), `unescaped attribute value in ${m[0]}`);
  }
  assert.ok(!/href="(?!#")/.test(html), 'only in-page links');
}

test('escapes HTML in model output everywhere', () => {
  const evil = [
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '**<b onclick="x">bold</b>**',
    '`<iframe src="https://e.vil">`',
    '[click](javascript:alert(1))',
    '[x](https://evil.example/"><script>)',
    '# <svg onload=alert(1)>',
    '- <a href="https://x">item</a>',
    '> <style>body{}</style>',
    '```html" onload="x\n<script>bad()</script>\n```',
    '<think><img src=x onerror=y></think> after',
    'src/a"onmouseover=alert(1).ts:12',
  ];
  for (const s of evil) {
    const { html } = renderMarkdown(s);
    assertSafe(html);
    assert.ok(!/<script|<img|<iframe|<svg|<style|<b /i.test(html), `raw markup survived: ${html}`);
  }
  assert.equal(escapeHtml(`<&>"'`), '&lt;&amp;&gt;&quot;&#39;');
});

test('renders headings, lists, emphasis, code spans and paragraphs', () => {
  const { html } = renderMarkdown('# Title\n\nSome **bold** and *it* and `code`.\nsecond line\n\n- one\n- two\n  - nested\n1. first');
  assert.match(html, /<h1>Title<\/h1>/);
  assert.match(html, /<strong>bold<\/strong>/);
  assert.match(html, /<em>it<\/em>/);
  assert.match(html, /<code>code<\/code>/);
  assert.match(html, /<br>second line/);
  assert.match(html, /<ul><li>one<\/li><li>two<ul><li>nested<\/li><\/ul><\/li><\/ul>/);
  assert.match(html, /<ol><li>first<\/li><\/ol>/);
  assertSafe(html);
});

test('snake_case is not emphasis', () => {
  assert.equal(renderInline('a_b_c and foo_bar'), 'a_b_c and foo_bar');
});

test('code blocks carry their text, language and file, and open fences stream', () => {
  const r = renderMarkdown('File: src/app.ts\n```ts\nconst a = 1 < 2;\n```\n\n```python src/x.py\nprint(1)\n```\n\n```js\nlet x');
  assert.equal(r.codeBlocks.length, 3);
  assert.deepEqual(r.codeBlocks[0], { lang: 'ts', code: 'const a = 1 < 2;', closed: true, path: 'src/app.ts' });
  assert.deepEqual(r.codeBlocks[1], { lang: 'python', code: 'print(1)', closed: true, path: 'src/x.py' });
  assert.deepEqual(r.codeBlocks[2], { lang: 'js', code: 'let x', closed: false });
  assert.match(r.html, /const a = 1 &lt; 2;/);
  for (const action of ['copy', 'insert', 'apply']) assert.match(r.html, new RegExp(`data-action="${action}" data-index="2"`));
  assertSafe(r.html);
});

test('a fence longer than three closes only on a long enough fence', () => {
  const r = renderMarkdown('````md\n```\ninner\n```\n````\nafter');
  assert.equal(r.codeBlocks.length, 1);
  assert.equal(r.codeBlocks[0].code, '```\ninner\n```');
  assert.match(r.html, /<p>after<\/p>/);
});

test('citations become links, in text, code spans and markdown links', () => {
  const { html } = renderMarkdown('See src/core/a.ts:12 and `lib/b.py:3-9`, also [here](src/c.go#L4).');
  assert.match(html, /<a class="cite" href="#" data-path="src\/core\/a.ts" data-line="12"[^>]*>src\/core\/a.ts:12<\/a>/);
  assert.match(html, /data-path="lib\/b.py" data-line="3" data-end-line="9"[^>]*><code>lib\/b.py:3-9<\/code><\/a>/);
  assert.match(html, /data-path="src\/c.go" data-line="4"[^>]*>here<\/a>/);
  assertSafe(html);
});

test('bare paths link only when the workspace knows them; other links stay text', () => {
  const known = (p: string) => p === 'src/known.ts';
  const { html } = renderMarkdown('`src/known.ts` `src/unknown.ts` [docs](https://example.com/x)', { isKnownPath: known });
  assert.match(html, /data-path="src\/known.ts" data-line="0"/);
  assert.ok(!html.includes('data-path="src/unknown.ts"'));
  assert.match(html, /docs <span class="link-target">\(https:\/\/example.com\/x\)<\/span>/);
});

test('think blocks fold away, and stream while open', () => {
  const closed = renderMarkdown('<think>let me see\nmore</think>\nThe answer.');
  assert.match(closed.html, /^<details class="think"><summary>Thought<\/summary><p>let me see<br>more<\/p><\/details><p>The answer.<\/p>$/);
  const open = renderMarkdown('<think>still thinking');
  assert.match(open.html, /<details class="think" open><summary>Thinking…<\/summary>/);
});

test('quotes and rules', () => {
  const { html } = renderMarkdown('> quoted **x**\n\n---\n');
  assert.equal(html, '<blockquote><p>quoted <strong>x</strong></p></blockquote><hr>');
});

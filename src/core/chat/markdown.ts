// Markdown of model answers to HTML for the chat webview. Safe by
// construction: every piece of model text goes through escapeHtml, and the
// only tags and attributes in the output are the ones written here, so model
// output can never inject markup, scripts or remote resources. Rendered
// again on every streamed chunk: an unclosed fence or emphasis at the end is
// normal and renders as what it is so far.
import { Citation, looksLikePath, splitCitations } from './citations';

export interface CodeBlock {
  /** Sanitized language id of the fence (may be ''). */
  lang: string;
  code: string;
  /** A file the block belongs to, when the answer said so (info string or the line before). */
  path?: string;
  /** False while the fence is still open (streaming). */
  closed: boolean;
}

export interface Rendered {
  html: string;
  codeBlocks: CodeBlock[];
}

export interface RenderOptions {
  /** Whether a bare path (no line number) in a code span names a workspace file worth linking. */
  isKnownPath?: (path: string) => boolean;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function citationLink(c: Citation, label: string): string {
  const range = c.endLine !== undefined ? ` data-end-line="${c.endLine}"` : '';
  return `<a class="cite" href="#" data-path="${escapeHtml(c.path)}" data-line="${c.line}"${range} title="Open ${escapeHtml(c.path)}${c.line ? `:${c.line}` : ''}">${label}</a>`;
}

/** Plain text with citations made into links. */
function textWithCitations(s: string): string {
  return splitCitations(s)
    .map((p) => (typeof p === 'string' ? escapeHtml(p) : citationLink(p, escapeHtml(s.slice(p.start, p.start + p.length)))))
    .join('');
}

// ------------------------------------------------------------------ inline

function findClosing(s: string, from: number, marker: string): number {
  for (let i = from; i <= s.length - marker.length; i++) {
    if (s[i] === '`') {
      // Emphasis does not close inside a code span.
      const run = /^`+/.exec(s.slice(i))![0];
      const close = s.indexOf(run, i + run.length);
      if (close > 0) { i = close + run.length - 1; continue; }
    }
    if (s.startsWith(marker, i) && !/\s/.test(s[i - 1] ?? ' ')) return i;
  }
  return -1;
}

function renderCodeSpan(content: string, options: RenderOptions): string {
  const trimmed = content.trim();
  const parts = splitCitations(trimmed);
  if (parts.length === 1 && typeof parts[0] !== 'string') return citationLink(parts[0], `<code>${escapeHtml(trimmed)}</code>`);
  if (looksLikePath(trimmed) && options.isKnownPath?.(trimmed)) {
    return citationLink({ path: trimmed, line: 0, start: 0, length: trimmed.length }, `<code>${escapeHtml(trimmed)}</code>`);
  }
  return `<code>${escapeHtml(content)}</code>`;
}

export function renderInline(s: string, options: RenderOptions = {}): string {
  let out = '';
  let plain = '';
  const flush = () => {
    out += textWithCitations(plain);
    plain = '';
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length && /[\\`*_[\]()#+\-.!<>]/.test(s[i + 1])) {
      plain += s[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      const run = /^`+/.exec(s.slice(i))![0];
      const close = s.indexOf(run, i + run.length);
      if (close > 0 && s[close + run.length] !== '`') {
        flush();
        out += renderCodeSpan(s.slice(i + run.length, close), options);
        i = close + run.length;
        continue;
      }
      plain += run;
      i += run.length;
      continue;
    }
    if ((c === '*' || c === '_') && s[i + 1] === c && !/\s/.test(s[i + 2] ?? ' ')) {
      const marker = c + c;
      const close = findClosing(s, i + 2, marker);
      if (close > i + 2) {
        flush();
        out += `<strong>${renderInline(s.slice(i + 2, close), options)}</strong>`;
        i = close + 2;
        continue;
      }
    }
    if ((c === '*' || c === '_') && s[i + 1] !== c && !/\s/.test(s[i + 1] ?? ' ')) {
      // `_` inside words (snake_case) is not emphasis.
      const wordBefore = /\w/.test(s[i - 1] ?? '');
      if (!(c === '_' && wordBefore)) {
        const close = findClosing(s, i + 1, c);
        const wordAfter = close > 0 && /\w/.test(s[close + 1] ?? '');
        if (close > i + 1 && !(c === '_' && wordAfter) && s[close + 1] !== c) {
          flush();
          out += `<em>${renderInline(s.slice(i + 1, close), options)}</em>`;
          i = close + 1;
          continue;
        }
      }
    }
    if (c === '[') {
      const m = /^\[([^\]\n]{1,500})\]\(([^)\s]{0,2000})\)/.exec(s.slice(i));
      if (m) {
        flush();
        // No links out of the product: a link to a file becomes a citation, anything else plain text.
        const target = m[2].replace(/^\.\//, '');
        const cite = splitCitations(target);
        if (cite.length === 1 && typeof cite[0] !== 'string') out += citationLink(cite[0], renderInline(m[1], options));
        else if (looksLikePath(target) && options.isKnownPath?.(target)) {
          out += citationLink({ path: target, line: 0, start: 0, length: target.length }, renderInline(m[1], options));
        } else out += `${renderInline(m[1], options)}${m[2] ? ` <span class="link-target">(${escapeHtml(m[2])})</span>` : ''}`;
        i += m[0].length;
        continue;
      }
    }
    plain += c;
    i++;
  }
  flush();
  return out;
}

// ------------------------------------------------------------------ blocks

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})\s*([^`]*)$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}((\*\s*){3,}|(-\s*){3,}|(_\s*){3,})$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const FILE_LINE = /^\s*(?:\*\*)?(?:File(?: \(updated\))?|Path|In)\s*:?\s*(?:\*\*)?\s*`?([^`\s]+)`?\s*:?\s*$/;

function sanitizeLang(info: string): { lang: string; path?: string } {
  const words = info.trim().split(/\s+/).filter(Boolean);
  const lang = (words[0] ?? '').replace(/[^\w+#.-]/g, '').slice(0, 32);
  // ```ts src/a.ts  or  ```ts:src/a.ts
  let path = words[1];
  if (!path && lang.includes(':')) path = lang.split(':')[1];
  return { lang: lang.split(':')[0], ...(path && looksLikePath(path) ? { path } : {}) };
}

function isBlockStart(line: string): boolean {
  return FENCE_OPEN.test(line) || HEADING.test(line) || RULE.test(line) || LIST_ITEM.test(line) || QUOTE.test(line) || /^\s*<think>/.test(line);
}

function renderList(lines: string[], options: RenderOptions): string {
  // Items with their indentation; deeper indentation nests.
  type Item = { indent: number; ordered: boolean; text: string };
  const items: Item[] = [];
  for (const l of lines) {
    const m = LIST_ITEM.exec(l);
    if (m) items.push({ indent: m[1].replace(/\t/g, '    ').length, ordered: /\d/.test(m[2]), text: m[3] });
    else if (items.length > 0) items[items.length - 1].text += '\n' + l.trim();
  }
  let html = '';
  const stack: { indent: number; tag: string }[] = [];
  for (const it of items) {
    while (stack.length > 0 && it.indent < stack[stack.length - 1].indent) html += `</li></${stack.pop()!.tag}>`;
    let top = stack[stack.length - 1];
    const tag = it.ordered ? 'ol' : 'ul';
    if (top && it.indent === top.indent && top.tag !== tag) {
      // A bullet list followed by a numbered one: two lists.
      html += `</li></${stack.pop()!.tag}>`;
      top = stack[stack.length - 1];
    }
    if (!top || it.indent > top.indent) {
      stack.push({ indent: it.indent, tag });
      html += `<${tag}>`;
    } else {
      html += '</li>';
    }
    html += `<li>${renderInline(it.text, options).replace(/\n/g, '<br>')}`;
  }
  while (stack.length > 0) html += `</li></${stack.pop()!.tag}>`;
  return html;
}

export function renderMarkdown(text: string, options: RenderOptions = {}): Rendered {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const codeBlocks: CodeBlock[] = [];
  let html = '';
  let i = 0;
  let lastParagraph = '';
  while (i < lines.length) {
    const line = lines[i];
    const fence = FENCE_OPEN.exec(line);
    if (fence) {
      const marker = fence[1];
      const info = sanitizeLang(fence[2]);
      const body: string[] = [];
      let closed = false;
      i++;
      while (i < lines.length) {
        const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[i]);
        if (close && close[1][0] === marker[0] && close[1].length >= marker.length) {
          closed = true;
          i++;
          break;
        }
        body.push(lines[i]);
        i++;
      }
      const fileBefore = FILE_LINE.exec(lastParagraph);
      const path = info.path ?? (fileBefore && looksLikePath(fileBefore[1]) ? fileBefore[1] : undefined);
      const index = codeBlocks.length;
      const code = body.join('\n');
      codeBlocks.push({ lang: info.lang, code, closed, ...(path ? { path } : {}) });
      const label = escapeHtml(info.lang || 'text') + (path ? ` · ${escapeHtml(path)}` : '');
      html +=
        `<div class="code-block" data-index="${index}"><div class="code-toolbar"><span class="code-lang">${label}</span>` +
        `<button class="code-action" data-action="copy" data-index="${index}" title="Copy">Copy</button>` +
        `<button class="code-action" data-action="insert" data-index="${index}" title="Insert at cursor">Insert</button>` +
        `<button class="code-action" data-action="apply" data-index="${index}" title="Apply to the file">Apply</button>` +
        `</div><pre><code${info.lang ? ` class="language-${escapeHtml(info.lang)}"` : ''}>${escapeHtml(code)}</code></pre></div>`;
      lastParagraph = '';
      continue;
    }
    if (/^\s*<think>/.test(line)) {
      // The G1 models think aloud first: fold it away.
      const body: string[] = [];
      let rest = line.replace(/^\s*<think>/, '');
      let closed = false;
      for (;;) {
        const end = rest.indexOf('</think>');
        if (end >= 0) {
          body.push(rest.slice(0, end));
          const after = rest.slice(end + '</think>'.length);
          closed = true;
          i++;
          if (after.trim()) lines.splice(i, 0, after);
          break;
        }
        body.push(rest);
        i++;
        if (i >= lines.length) break;
        rest = lines[i];
      }
      const inner = body.join('\n').trim();
      html += `<details class="think"${closed ? '' : ' open'}><summary>${closed ? 'Thought' : 'Thinking…'}</summary>${
        inner ? `<p>${escapeHtml(inner).replace(/\n+/g, '<br>')}</p>` : ''
      }</details>`;
      continue;
    }
    if (line.trim() === '') {
      i++;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = heading[1].length;
      html += `<h${level}>${renderInline(heading[2], options)}</h${level}>`;
      lastParagraph = heading[2];
      i++;
      continue;
    }
    if (RULE.test(line)) {
      html += '<hr>';
      i++;
      continue;
    }
    if (LIST_ITEM.test(line)) {
      const block: string[] = [];
      while (i < lines.length && lines[i].trim() !== '' && (LIST_ITEM.test(lines[i]) || (!isBlockStart(lines[i]) && /^\s/.test(lines[i])))) {
        block.push(lines[i]);
        i++;
      }
      html += renderList(block, options);
      lastParagraph = '';
      continue;
    }
    if (QUOTE.test(line)) {
      const block: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i])) block.push(QUOTE.exec(lines[i])![1]), i++;
      html += `<blockquote>${renderMarkdown(block.join('\n'), options).html}</blockquote>`;
      lastParagraph = '';
      continue;
    }
    const para: string[] = [];
    while (i < lines.length && lines[i].trim() !== '' && (para.length === 0 || !isBlockStart(lines[i]))) para.push(lines[i++]);
    html += `<p>${para.map((l) => renderInline(l, options)).join('<br>')}</p>`;
    lastParagraph = para[para.length - 1];
  }
  return { html, codeBlocks };
}

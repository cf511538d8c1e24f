// The turns the model reads after the workspace stream, in the chat format
// of the RWKV G1 models: "User: …\n\nAssistant: …", turns separated by a
// blank line (so a blank line inside a turn would end it: runs of them
// shrink to one newline).

export const TURN_STOPS = ['\n\nUser:', '\n\nSystem:'];

export interface Turn {
  question: string;
  answer: string;
}

export function oneTurnText(s: string): string {
  return s.trim().replace(/\n\s*\n/g, '\n');
}

/** The conversation so far (newest turns that fit `maxHistoryChars`), the question, and the start of the answer. */
export function chatPrompt(history: readonly Turn[], question: string, maxHistoryChars = 6000): string {
  const kept: string[] = [];
  let used = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const t = `User: ${oneTurnText(history[i].question)}\n\nAssistant: ${oneTurnText(history[i].answer)}\n\n`;
    if (used + t.length > maxHistoryChars) break;
    kept.unshift(t);
    used += t.length;
  }
  return `${kept.join('')}User: ${oneTurnText(question)}\n\nAssistant:`;
}

export interface CodeSelection {
  path: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  languageId: string;
  code: string;
}

export function explainQuestion(sel: CodeSelection): string {
  const where = sel.startLine === sel.endLine ? `${sel.path}:${sel.startLine}` : `${sel.path}:${sel.startLine}-${sel.endLine}`;
  return `Explain what this code from ${where} does and how it fits into the workspace:\n\`\`\`${sel.languageId}\n${sel.code.replace(/\s+$/, '')}\n\`\`\``;
}

export interface Location {
  path: string;
  /** 1-based */
  line: number;
  text?: string;
}

/** The answer's opening, written by the extension: the places found, as links. */
export function locationsMarkdown(symbol: string, definitions: readonly Location[], uses: readonly Location[], maxUses = 30): string {
  const item = (l: Location) => `- ${l.path}:${l.line}${l.text ? ` — \`${l.text.trim().slice(0, 100).replace(/`/g, "'")}\`` : ''}`;
  const parts = [`**\`${symbol}\`**`, ''];
  parts.push(definitions.length ? `Defined at:\n${definitions.map(item).join('\n')}` : 'No definition found in the workspace.');
  parts.push('');
  if (uses.length) {
    parts.push(`Used at (${uses.length}):\n${uses.slice(0, maxUses).map(item).join('\n')}${uses.length > maxUses ? `\n- … and ${uses.length - maxUses} more` : ''}`);
  } else parts.push('No uses found.');
  return parts.join('\n');
}

export function whereQuestion(symbol: string, definitions: readonly Location[], uses: readonly Location[]): string {
  const list = (ls: readonly Location[]) => ls.slice(0, 12).map((l) => `${l.path}:${l.line}`).join(', ') || 'none found';
  return `Where is \`${symbol}\` defined and where is it used? Definitions: ${list(definitions)}. Uses: ${list(uses)}. Say briefly what it is and how the uses rely on it, citing file:line.`;
}

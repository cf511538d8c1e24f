// Text the CLI feeds the model after the workspace stream: the chat turns of
// the G1 models ("User: …\n\nAssistant:", turns split by "\n\n") and the
// start of a file being completed.

export const TURN_STOP = '\n\nUser:';

/** A user turn and the start of the answer. A blank line would end the turn early, so runs of them shrink to one newline. */
export function userTurn(question: string): string {
  return `User: ${question.trim().replace(/\n\s*\n/g, '\n')}\n\nAssistant:`;
}

/**
 * The next user turn of a chat, given how the last answer ended: after a
 * stop on TURN_STOP the session already holds "\n\nUser:".
 */
export function nextTurn(question: string, lastStoppedOnTurn: boolean): string {
  const turn = userTurn(question);
  return lastStoppedOnTurn ? turn.slice('User:'.length) : `\n\n${turn}`;
}

/** The start of the file being completed, cut at the cursor (line and column from 1). */
export function completionPrefix(path: string, text: string, line: number, column: number): string {
  const lines = text.split('\n');
  if (line > lines.length) throw new Error(`${path} has ${lines.length} lines, not ${line}`);
  const current = lines[line - 1];
  if (column > current.length + 1) throw new Error(`${path}:${line} has ${current.length} characters, column ${column} is past its end`);
  const before = [...lines.slice(0, line - 1), current.slice(0, column - 1)].join('\n');
  return `File: ${path}\n\`\`\`\n${before}`;
}

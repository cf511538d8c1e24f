// @rwkvx in VS Code's own chat (stable chat participant API, VS Code 1.90+):
// the same workspace context and model as the panel; /explain and /where
// work on the active editor's selection or the word at the cursor.
import * as vscode from 'vscode';

import { CancelToken } from '../../core/async/cancel';
import { answerOnce, ChatEngine } from '../../core/chat/controller';
import { findCitations } from '../../core/chat/citations';
import { chatPrompt, explainQuestion, locationsMarkdown, Turn, whereQuestion } from '../../core/chat/prompts';
import { readSettings } from '../config';
import { resolveCitedPath } from './links';
import { findLocations, selectionOf, symbolAt } from './workspaceQueries';

export const PARTICIPANT_ID = 'rwkvx.workspace';

function historyTurns(context: vscode.ChatContext): Turn[] {
  const turns: Turn[] = [];
  let question: string | undefined;
  for (const h of context.history) {
    if (h instanceof vscode.ChatRequestTurn) question = h.prompt;
    else if (h instanceof vscode.ChatResponseTurn && question !== undefined && h.participant === PARTICIPANT_ID) {
      const answer = h.response.map((p) => (p instanceof vscode.ChatResponseMarkdownPart ? p.value.value : '')).join('');
      if (answer.trim()) turns.push({ question, answer });
      question = undefined;
    }
  }
  return turns;
}

export function registerParticipant(engine: ChatEngine, extensionUri: vscode.Uri, onAnswer?: (text: string) => void): vscode.Disposable | undefined {
  if (typeof vscode.chat?.createChatParticipant !== 'function') return undefined;
  const handler: vscode.ChatRequestHandler = async (request, context, stream, token) => {
    let question = request.prompt;
    if (request.command === 'explain') {
      const sel = selectionOf(vscode.window.activeTextEditor);
      if (!sel) {
        stream.markdown('Select some code in an editor first.');
        return {};
      }
      question = explainQuestion(sel) + (request.prompt ? `\n${request.prompt}` : '');
    } else if (request.command === 'where') {
      const symbol = request.prompt.trim() || symbolAt(vscode.window.activeTextEditor);
      if (!symbol) {
        stream.markdown('Name a symbol (`/where parseConfig`) or put the cursor on one.');
        return {};
      }
      stream.progress(`Looking for ${symbol}…`);
      const found = await findLocations(symbol, vscode.window.activeTextEditor);
      stream.markdown(locationsMarkdown(symbol, found.definitions, found.uses) + '\n\n');
      question = whereQuestion(symbol, found.definitions, found.uses);
    }
    const s = readSettings().chat;
    try {
      const { text } = await answerOnce(engine, chatPrompt(historyTurns(context), question), s, token as CancelToken, (t) => stream.markdown(t));
      onAnswer?.(text);
      // The files the answer cites, as references under it.
      const seen = new Set<string>();
      for (const c of findCitations(text)) {
        if (seen.has(c.path) || seen.size >= 10) continue;
        seen.add(c.path);
        const uri = await resolveCitedPath(c.path);
        if (uri) stream.reference(new vscode.Location(uri, new vscode.Position(Math.max(0, c.line - 1), 0)));
      }
      return { metadata: { citations: seen.size } };
    } catch (e) {
      if (token.isCancellationRequested) return {};
      return { errorDetails: { message: `RWKV: ${e instanceof Error ? e.message : String(e)}` } };
    }
  };
  const participant = vscode.chat.createChatParticipant(PARTICIPANT_ID, handler);
  participant.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.png');
  return participant;
}

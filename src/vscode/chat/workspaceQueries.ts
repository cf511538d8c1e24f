// What the palette queries need from the editor: the selection, the word at
// the cursor, and where a symbol is defined and used — from the language
// servers when they answer, and from the text of the workspace files.
import * as fs from 'fs';
import * as vscode from 'vscode';

import type { CodeSelection, Location } from '../../core/chat/prompts';
import { findSymbol, SourceFile } from '../../core/chat/symbols';

export function selectionOf(editor: vscode.TextEditor | undefined): CodeSelection | undefined {
  if (!editor) return undefined;
  const sel = editor.selection;
  const range = sel.isEmpty ? editor.document.lineAt(sel.active.line).range : new vscode.Range(sel.start, sel.end);
  const code = editor.document.getText(range);
  if (!code.trim()) return undefined;
  return {
    path: vscode.workspace.asRelativePath(editor.document.uri, (vscode.workspace.workspaceFolders?.length ?? 0) > 1),
    startLine: range.start.line + 1,
    endLine: range.end.line + (range.end.character === 0 && range.end.line > range.start.line ? 0 : 1),
    languageId: editor.document.languageId,
    code,
  };
}

export function symbolAt(editor: vscode.TextEditor | undefined): string | undefined {
  if (!editor) return undefined;
  const sel = editor.selection;
  if (!sel.isEmpty && sel.isSingleLine) {
    const t = editor.document.getText(sel).trim();
    if (/^[\w$]+$/.test(t)) return t;
  }
  const range = editor.document.getWordRangeAtPosition(sel.active, /[\w$]+/);
  return range ? editor.document.getText(range) : undefined;
}

function withTimeout<T>(p: Thenable<T>, ms: number): Promise<T | undefined> {
  return Promise.race([Promise.resolve(p).catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]);
}

function toLocation(l: vscode.Location | vscode.LocationLink): Location {
  const uri = 'targetUri' in l ? l.targetUri : l.uri;
  const range = 'targetRange' in l ? (l.targetSelectionRange ?? l.targetRange) : l.range;
  return { path: vscode.workspace.asRelativePath(uri, (vscode.workspace.workspaceFolders?.length ?? 0) > 1), line: range.start.line + 1 };
}

const MAX_FILES = 3000;
const MAX_BYTES = 512 * 1024;

async function workspaceFiles(): Promise<SourceFile[]> {
  const uris = await vscode.workspace.findFiles('**/*', '{**/node_modules/**,**/.git/**,**/dist/**,**/out/**,**/build/**}', MAX_FILES);
  const files: SourceFile[] = [];
  for (const u of uris) {
    try {
      const st = fs.statSync(u.fsPath);
      if (!st.isFile() || st.size > MAX_BYTES) continue;
      const buf = fs.readFileSync(u.fsPath);
      if (buf.includes(0)) continue;
      files.push({ path: vscode.workspace.asRelativePath(u, (vscode.workspace.workspaceFolders?.length ?? 0) > 1), text: buf.toString('utf8') });
    } catch {
      // unreadable: skip
    }
  }
  return files;
}

const key = (l: Location) => `${l.path}:${l.line}`;

/** Definitions and uses: language servers first (when the cursor is on the symbol), then the text. */
export async function findLocations(symbol: string, editor: vscode.TextEditor | undefined): Promise<{ definitions: Location[]; uses: Location[] }> {
  const definitions = new Map<string, Location>();
  const uses = new Map<string, Location>();
  const onSymbol = editor && symbolAt(editor) === symbol;
  if (onSymbol) {
    const pos = editor.selection.active;
    const defs = await withTimeout(vscode.commands.executeCommand<(vscode.Location | vscode.LocationLink)[]>('vscode.executeDefinitionProvider', editor.document.uri, pos), 3000);
    for (const d of defs ?? []) definitions.set(key(toLocation(d)), toLocation(d));
    const refs = await withTimeout(vscode.commands.executeCommand<vscode.Location[]>('vscode.executeReferenceProvider', editor.document.uri, pos), 3000);
    for (const r of refs ?? []) {
      const l = toLocation(r);
      if (!definitions.has(key(l))) uses.set(key(l), l);
    }
  }
  const text = findSymbol(await workspaceFiles(), symbol);
  for (const d of text.definitions) if (!definitions.has(key(d))) definitions.set(key(d), d);
  for (const u of text.uses) if (!definitions.has(key(u))) uses.set(key(u), { ...u, ...(uses.get(key(u)) ?? {}) });
  // Lines found by text carry their text; keep it for what the servers found too.
  const byText = new Map([...text.definitions, ...text.uses].map((l) => [key(l), l.text]));
  const withText = (l: Location) => ({ ...l, ...(byText.get(key(l)) ? { text: byText.get(key(l)) } : {}) });
  return { definitions: [...definitions.values()].map(withText), uses: [...uses.values()].map(withText) };
}

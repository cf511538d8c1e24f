// Opening what answers point at (file:line citations) and using their code
// blocks in editors (insert at the cursor, apply to a file with a diff to
// confirm).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

/** The workspace file a cited path names: absolute, relative to a folder, "folder/rest" in multi-root, or found by name. */
export async function resolveCitedPath(p: string): Promise<vscode.Uri | undefined> {
  const clean = p.replace(/^\.\//, '');
  if (path.isAbsolute(clean) && fs.existsSync(clean)) return vscode.Uri.file(clean);
  const folders = vscode.workspace.workspaceFolders ?? [];
  for (const f of folders) {
    const direct = path.join(f.uri.fsPath, clean);
    if (fs.existsSync(direct)) return vscode.Uri.file(direct);
    if (clean.startsWith(`${f.name}/`)) {
      const inFolder = path.join(f.uri.fsPath, clean.slice(f.name.length + 1));
      if (fs.existsSync(inFolder)) return vscode.Uri.file(inFolder);
    }
  }
  if (folders.length === 0 || clean.includes('..')) return undefined;
  const found = await vscode.workspace.findFiles(`**/${clean}`, '**/node_modules/**', 1);
  return found[0];
}

export async function openCitation(p: string, line: number, endLine?: number): Promise<boolean> {
  const uri = await resolveCitedPath(p);
  if (!uri) {
    void vscode.window.showWarningMessage(`RWKV: ${p} is not a file in this workspace.`);
    return false;
  }
  const doc = await vscode.workspace.openTextDocument(uri);
  const start = Math.max(0, Math.min(doc.lineCount - 1, (line || 1) - 1));
  const end = Math.max(start, Math.min(doc.lineCount - 1, (endLine ?? line ?? 1) - 1));
  const range = new vscode.Range(start, 0, end, doc.lineAt(end).text.length);
  await vscode.window.showTextDocument(doc, { selection: new vscode.Range(range.start, range.start), preview: true, viewColumn: vscode.ViewColumn.One });
  const editor = vscode.window.activeTextEditor;
  editor?.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  if (editor && endLine) editor.selection = new vscode.Selection(range.start, range.end);
  return true;
}

/** The text editor the user last worked in (focus in the chat view leaves it as it was). */
export class LastEditor implements vscode.Disposable {
  private editor: vscode.TextEditor | undefined = vscode.window.activeTextEditor;
  private readonly sub = vscode.window.onDidChangeActiveTextEditor((e) => {
    if (e) this.editor = e;
  });

  get current(): vscode.TextEditor | undefined {
    const active = vscode.window.activeTextEditor;
    if (active) return active;
    return this.editor && !this.editor.document.isClosed ? this.editor : undefined;
  }

  dispose(): void {
    this.sub.dispose();
  }
}

export async function insertAtCursor(editor: vscode.TextEditor | undefined, code: string): Promise<boolean> {
  if (!editor) {
    void vscode.window.showWarningMessage('RWKV: open an editor to insert the code into.');
    return false;
  }
  await vscode.window.showTextDocument(editor.document, editor.viewColumn);
  return editor.edit((b) => {
    for (const s of editor.selections) b.replace(s, code);
  });
}

const PROPOSED_SCHEME = 'rwkvx-proposed';
const proposals = new Map<string, string>();

export function registerProposals(): vscode.Disposable {
  return vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, {
    provideTextDocumentContent: (uri) => proposals.get(uri.query) ?? '',
  });
}

/**
 * Applies a code block: over the selection of the target editor when there
 * is one (undoable, at once); else as the new text of the file the block
 * names, after a diff the user confirms (or `confirm: false`, for tests).
 */
export async function applyCode(code: string, filePath: string | undefined, lastEditor: vscode.TextEditor | undefined, confirm = true): Promise<boolean> {
  let uri = filePath ? await resolveCitedPath(filePath) : undefined;
  const editor = uri ? vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri!.toString()) ?? (lastEditor?.document.uri.toString() === uri.toString() ? lastEditor : undefined) : lastEditor;
  if (editor && !editor.selection.isEmpty) {
    await vscode.window.showTextDocument(editor.document, editor.viewColumn);
    return editor.edit((b) => b.replace(editor.selection, code));
  }
  uri ??= editor?.document.uri;
  if (!uri) {
    void vscode.window.showWarningMessage('RWKV: the code names no file and no editor is open to apply it to.');
    return false;
  }
  if (!filePath) {
    // A snippet without a file: it goes where the cursor is.
    return insertAtCursor(editor, code);
  }
  const doc = await vscode.workspace.openTextDocument(uri);
  const newText = code.endsWith('\n') || !doc.getText().endsWith('\n') ? code : `${code}\n`;
  if (confirm) {
    const key = String(Date.now());
    proposals.set(key, newText);
    const proposed = vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: uri.path, query: key });
    await vscode.commands.executeCommand('vscode.diff', uri, proposed, `${path.basename(uri.fsPath)} ↔ proposed by RWKV`);
    const choice = await vscode.window.showInformationMessage(`Replace ${vscode.workspace.asRelativePath(uri)} with the proposed text?`, 'Apply', 'Discard');
    proposals.delete(key);
    if (choice !== 'Apply') return false;
  }
  const edit = new vscode.WorkspaceEdit();
  edit.replace(uri, new vscode.Range(0, 0, doc.lineCount, 0), newText);
  return vscode.workspace.applyEdit(edit);
}

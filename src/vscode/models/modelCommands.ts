// Select, import and download models. Imports of checkpoints (.pth,
// .safetensors) go through the engine's converter to GGUF; downloads are
// resumable, checksum-checked, show progress and can be cancelled — the
// only network use of the extension, and only on request.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

import { CATALOG, modelUrl, OFFICIAL_BASE_URL, WORLD_VOCAB } from '../../core/models/catalog';
import { EMBEDDED_MODEL } from '../../core/models/defaultModel';
import { download, DownloadError, DownloadProgress } from '../../core/models/download';
import { listModels, planImport } from '../../core/models/modelFiles';
import { readSettings, SECTION } from '../config';
import type { EngineService } from '../engine/engineService';
import type { Log } from '../log';

const mb = (n: number) => `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)} MB`;

/** Writes rwkvx.model.path where it is set now (workspace or user settings) and loads the model. */
export async function useModel(engine: EngineService, file: string): Promise<void> {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const where = cfg.inspect<string>('model.path');
  const target = where?.workspaceFolderValue !== undefined ? vscode.ConfigurationTarget.WorkspaceFolder : where?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  const before = readSettings().modelPath;
  await cfg.update('model.path', file, target);
  // The settings listener reloads on a change; the same path again needs an explicit reload.
  if (before === file) await engine.reload();
}

export interface ImportArgs {
  path?: string;
  vocab?: string;
  /** Use the model afterwards (default true). */
  use?: boolean;
}

export async function importModel(engine: EngineService, log: Log, args: ImportArgs = {}): Promise<string | undefined> {
  let file = args.path;
  if (!file) {
    const picked = await vscode.window.showOpenDialog({
      title: 'Import a model',
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      filters: { 'RWKV models': ['gguf', 'pth', 'safetensors'] },
    });
    file = picked?.[0]?.fsPath;
    if (!file) return undefined;
  }
  const vocabCandidates = [args.vocab, path.join(engine.modelsDir, WORLD_VOCAB.file)].filter((v): v is string => !!v);
  const plan = planImport(file, engine.modelsDir, vocabCandidates);
  if (plan.convert && !plan.convert.vocab && /\.pth$/i.test(file)) {
    if (args.path) throw new Error(`${path.basename(file)} carries no vocabulary: pass the World vocabulary file (${WORLD_VOCAB.file})`);
    const pick = await vscode.window.showOpenDialog({ title: `This checkpoint has no vocabulary: choose ${WORLD_VOCAB.file}`, canSelectMany: false, filters: { Vocabulary: ['txt'] } });
    if (!pick?.[0]) return undefined;
    plan.convert.vocab = pick[0].fsPath;
  }
  if (plan.convert) {
    const conv = plan.convert;
    const ok = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `RWKV: converting ${path.basename(file)} to GGUF`, cancellable: true },
      async (progress, token) => {
        let last = 0;
        const r = await engine.convert(conv.input, plan.gguf, conv.vocab, token, (p) => {
          const pct = p.total > 0 ? (100 * p.done) / p.total : 0;
          progress.report({ increment: pct - last, message: `${p.done}/${p.total} tensors` });
          last = pct;
        });
        log.info(`import: converted ${conv.input} → ${r.output} (${mb(r.size)}, ${r.elapsedMs} ms)`);
        return !token.isCancellationRequested;
      },
    );
    if (!ok) return undefined;
  }
  log.info(`import: ${plan.gguf}`);
  if (args.use !== false) await useModel(engine, plan.gguf);
  return plan.gguf;
}

export interface DownloadArgs {
  /** A model URL (HTTPS, or a loopback address); default: pick from the official catalog. */
  url?: string;
  sha256?: string;
  /** Catalog id (g1-0.1b, …) instead of a URL. */
  id?: string;
  vocabUrl?: string;
  use?: boolean;
}

async function fetchWithProgress(title: string, url: string, dest: string, sha256: string | undefined, log: Log): Promise<string | undefined> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const ctl = new AbortController();
    const sub = token.onCancellationRequested(() => ctl.abort());
    let lastPct = 0;
    try {
      const r = await download({
        url,
        dest,
        ...(sha256 ? { sha256 } : {}),
        signal: ctl.signal,
        onProgress: (p: DownloadProgress) => {
          const pct = p.total ? (100 * p.received) / p.total : 0;
          const rate = p.bytesPerSecond > 0 ? `, ${mb(p.bytesPerSecond)}/s` : '';
          progress.report({ increment: pct - lastPct, message: `${mb(p.received)}${p.total ? ` of ${mb(p.total)}` : ''}${rate}${p.resumedFrom ? ' (resumed)' : ''}` });
          lastPct = pct;
        },
      });
      if (r.verifiedBy === 'none' && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])/.test(url)) {
        fs.rmSync(dest, { force: true });
        throw new DownloadError('checksum', `${new URL(url).host} states no SHA-256 for ${path.basename(dest)} and the catalog has none: the file was not kept`);
      }
      log.info(`download: ${url} → ${dest} (${mb(r.size)}, sha256 ${r.sha256}, checked by ${r.verifiedBy}${r.resumedFrom ? `, resumed at ${mb(r.resumedFrom)}` : ''})`);
      return r.path;
    } catch (e) {
      if (e instanceof DownloadError && e.code === 'aborted') {
        log.info(`download: cancelled; ${path.basename(dest)}.part is kept and the next download resumes it`);
        return undefined;
      }
      throw e;
    } finally {
      sub.dispose();
    }
  });
}

export async function downloadModel(engine: EngineService, log: Log, args: DownloadArgs = {}): Promise<string | undefined> {
  const base = readSettings().downloadBaseUrl || OFFICIAL_BASE_URL;
  let url = args.url;
  let sha = args.sha256;
  if (!url) {
    let entry = args.id ? CATALOG.find((c) => c.id === args.id) : undefined;
    if (!entry) {
      const pick = await vscode.window.showQuickPick(
        CATALOG.map((c) => ({ label: c.label, description: `about ${mb(c.approxBytes)}`, detail: c.detail, entry: c })),
        { title: 'Download an official RWKV-7 G1 model (from Hugging Face, BlinkDL/rwkv7-g1)', placeHolder: 'Pick a model; it is converted to GGUF on this machine' },
      );
      if (!pick) return undefined;
      entry = pick.entry;
    }
    url = modelUrl(entry, base);
    sha = sha ?? entry.sha256;
  }
  const file = decodeURIComponent(new URL(url).pathname.split('/').pop() || 'model.pth');
  const dest = path.join(engine.modelsDir, file);
  const got = fs.existsSync(dest) ? dest : await fetchWithProgress(`RWKV: downloading ${file}`, url, dest, sha, log);
  if (!got) return undefined;
  let vocab: string | undefined;
  if (/\.pth$/i.test(file)) {
    vocab = path.join(engine.modelsDir, WORLD_VOCAB.file);
    if (!fs.existsSync(vocab)) {
      const vocabUrl = args.vocabUrl ?? WORLD_VOCAB.url;
      const v = await fetchWithProgress('RWKV: downloading the World vocabulary', vocabUrl, vocab, args.vocabUrl ? undefined : WORLD_VOCAB.sha256, log);
      if (!v) return undefined;
    }
  }
  const gguf = await importModel(engine, log, { path: got, ...(vocab ? { vocab } : {}), use: args.use });
  // The checkpoint served its purpose once converted.
  if (gguf && gguf !== got) fs.rmSync(got, { force: true });
  return gguf;
}

export async function selectModel(engine: EngineService, log: Log, extensionPath: string): Promise<string | undefined> {
  type Item = vscode.QuickPickItem & { run: () => Promise<string | undefined> };
  const current = engine.model?.path;
  const items: Item[] = [];
  const embedded = path.join(extensionPath, EMBEDDED_MODEL);
  const seen = new Set<string>();
  const add = (p: string, label: string, description: string) => {
    if (seen.has(p)) return;
    seen.add(p);
    items.push({ label: `${p === current ? '$(check) ' : ''}${label}`, description, detail: p, run: async () => (await useModel(engine, p), p) });
  };
  if (fs.existsSync(embedded)) add(embedded, 'Embedded default model', 'ships with the extension');
  for (const m of listModels(engine.modelsDir)) add(m.path, m.name, mb(m.size));
  if (current) add(current, path.basename(current, '.gguf'), 'loaded now');
  items.push({ label: '$(folder-opened) Import a model file…', description: '.gguf, .pth or .safetensors', run: () => importModel(engine, log) });
  items.push({ label: '$(cloud-download) Download an official model…', description: 'RWKV-7 G1, from Hugging Face', run: () => downloadModel(engine, log) });
  const pick = await vscode.window.showQuickPick(items, { title: 'RWKV: select the model', matchOnDetail: true });
  return pick?.run();
}

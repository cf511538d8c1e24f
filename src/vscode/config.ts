// The extension's settings (package.json "contributes.configuration"), read
// in one place with their defaults.
import * as vscode from 'vscode';

export type Device = 'auto' | 'cpu' | 'cuda';

export interface Settings {
  modelPath: string;
  device: Device;
  threads: number;
  /** 0: from the model and device (64K on CPU). */
  contextBudget: number;
  extraIgnore: string[];
  completion: { enabled: boolean; delayMs: number; maxTokens: number };
  chat: { maxTokens: number; temperature: number };
  downloadBaseUrl: string;
}

export const SECTION = 'rwkvx';

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const num = (key: string, def: number, min: number, max: number) => {
    const v = Number(c.get<number>(key, def));
    return Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : def;
  };
  const device = c.get<string>('device', 'auto');
  return {
    modelPath: (c.get<string>('model.path', '') ?? '').trim(),
    device: device === 'cpu' || device === 'cuda' ? device : 'auto',
    threads: num('engine.threads', 0, 0, 1024),
    contextBudget: num('context.budgetTokens', 0, 0, 1 << 20),
    extraIgnore: (c.get<string[]>('context.extraIgnore', []) ?? []).filter((s) => typeof s === 'string' && s.trim() !== ''),
    completion: {
      enabled: c.get<boolean>('completion.enabled', true),
      delayMs: num('completion.delayMs', 150, 0, 5000),
      maxTokens: num('completion.maxTokens', 64, 1, 1024),
    },
    chat: { maxTokens: num('chat.maxTokens', 512, 1, 8192), temperature: num('chat.temperature', 1.0, 0, 5) },
    downloadBaseUrl: (c.get<string>('download.baseUrl', '') ?? '').trim(),
  };
}

/** Which settings need what when they change. */
export function affects(e: vscode.ConfigurationChangeEvent): { model: boolean; context: boolean } {
  const k = (s: string) => e.affectsConfiguration(`${SECTION}.${s}`);
  return {
    model: k('model.path') || k('device') || k('engine.threads'),
    context: k('context.budgetTokens') || k('context.extraIgnore') || e.affectsConfiguration('files.exclude'),
  };
}

// What the status bar says: tokens in context / budget, stale share, device
// and state in one short line, and the details in the tooltip.

export interface StatusInput {
  engine: 'starting' | 'converting' | 'loading' | 'ready' | 'restarting' | 'no-model' | 'error';
  engineError?: string;
  engineProgress?: { label: string; done: number; total: number };
  model?: { name: string; device: string; note?: string; params: number };
  context?: {
    state: string;
    tokensInContext: number;
    budgetTokens: number;
    staleShare: number;
    files: number;
    filesLeftOut: number;
    pendingChanges: number;
    compacting: boolean;
    error?: string;
    lastUpdate?: { files: number; refedTokens: number; newTokens: number; ms: number };
  };
  progress?: { phase: string; tokensDone: number; tokensTotal: number; filesDone: number; filesTotal: number; tokensPerSecond: number; secondsLeft?: number };
  completion?: { lastMs?: number; lastSource?: string; medianMs?: number };
  noWorkspace?: boolean;
}

export interface StatusView {
  text: string;
  tooltip: string[];
  /** For colouring: problems are 'error', work in progress 'busy'. */
  level: 'ok' | 'busy' | 'warning' | 'error';
}

export function compact(n: number): string {
  // Budgets are powers of two: 65,536 reads as 64K, not 66K.
  if (n >= 1024 && n % 1024 === 0 && n < 1 << 30) return n >= 1 << 20 && n % (1 << 20) === 0 ? `${n / (1 << 20)}M` : `${n / 1024}K`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}K`;
  return String(Math.round(n));
}

/** "CPU (avx512, 2 threads)" → "CPU"; "CUDA: NVIDIA H100 80GB" → "NVIDIA H100 80GB". */
export function shortDevice(device: string): string {
  const cuda = /^(?:cuda|gpu)[^:]*:\s*(.+)$/i.exec(device);
  if (cuda) return cuda[1].replace(/\s*\(.*\)$/, '');
  return device.replace(/\s*\(.*\)$/, '') || device;
}

function duration(s: number): string {
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function summarize(i: StatusInput): StatusView {
  const tip: string[] = [];
  const device = i.model ? shortDevice(i.model.device) : '';
  if (i.model) tip.push(`Model: ${i.model.name} (${compact(i.model.params)} parameters) on ${i.model.device}`);
  if (i.model?.note) tip.push(`Note: ${i.model.note}`);
  switch (i.engine) {
    case 'no-model':
      return { text: '$(circle-slash) RWKV: no model', tooltip: [i.engineError ?? 'No model', 'Click to open the chat; use "RWKV: Download Model" or "RWKV: Import Model".'], level: 'warning' };
    case 'error':
      return { text: '$(error) RWKV: engine error', tooltip: [`Engine: ${i.engineError ?? 'failed'}`, 'Run "RWKV: Show Engine Status and Log" for details.'], level: 'error' };
    case 'restarting':
      return { text: '$(sync~spin) RWKV: restarting', tooltip: [`The engine process stopped (${i.engineError ?? 'unknown reason'}); restarting it.`], level: 'warning' };
    case 'starting':
    case 'converting':
    case 'loading': {
      const p = i.engineProgress;
      const pct = p && p.total > 0 ? ` ${Math.floor((100 * p.done) / p.total)}%` : '';
      return { text: `$(sync~spin) RWKV: ${i.engine === 'converting' ? 'converting' : 'loading'}${pct}`, tooltip: [p ? `${p.label}: ${p.done}/${p.total}` : 'Starting the engine'], level: 'busy' };
    }
  }
  const c = i.context;
  if (i.noWorkspace || !c) {
    tip.push(i.noWorkspace ? 'No workspace folder is open: answers use no workspace context.' : 'The context is starting.');
    return { text: `$(hubot) RWKV · ${device}`, tooltip: tip, level: 'ok' };
  }
  const used = `${compact(c.tokensInContext)}/${compact(c.budgetTokens)}`;
  const stale = c.staleShare >= 0.005 ? ` · ${Math.round(c.staleShare * 100)}% stale` : '';
  let text: string;
  let level: StatusView['level'] = 'ok';
  const p = i.progress;
  if ((c.state === 'building' || c.state === 'starting') && p) {
    const pct = p.tokensTotal > 0 ? Math.floor((100 * p.tokensDone) / p.tokensTotal) : 0;
    text = `$(sync~spin) RWKV: reading ${pct}% · ${device}`;
    level = 'busy';
  } else if (c.state === 'paused') {
    text = `$(debug-pause) RWKV: paused · ${used}${stale}`;
    level = 'warning';
  } else if (c.state === 'error') {
    text = `$(warning) RWKV: context error · ${device}`;
    level = 'error';
  } else if (c.state === 'updating' || c.compacting || c.pendingChanges > 0) {
    text = `$(sync~spin) RWKV ${used}${stale} · ${device}`;
    level = 'busy';
  } else text = `$(check) RWKV ${used}${stale} · ${device}`;
  tip.push(`Context: ${c.state}${c.compacting ? ' (compacting)' : ''} — ${c.tokensInContext.toLocaleString('en-US')} of ${c.budgetTokens.toLocaleString('en-US')} tokens, ${c.files} files${c.filesLeftOut ? `, ${c.filesLeftOut} left out (budget)` : ''}`);
  tip.push(`Stale copies: ${(c.staleShare * 100).toFixed(1)}% of the stream`);
  if (c.pendingChanges) tip.push(`Pending edits: ${c.pendingChanges}`);
  if (p && (c.state === 'building' || c.state === 'starting' || c.compacting)) {
    tip.push(`Reading: ${p.filesDone}/${p.filesTotal} files, ${compact(p.tokensDone)}/${compact(p.tokensTotal)} tokens at ${Math.round(p.tokensPerSecond)} tok/s${p.secondsLeft !== undefined ? `, ${duration(p.secondsLeft)} left` : ''}`);
  }
  if (c.lastUpdate) tip.push(`Last update: ${c.lastUpdate.files} file(s), ${c.lastUpdate.newTokens + c.lastUpdate.refedTokens} tokens fed in ${c.lastUpdate.ms} ms`);
  if (c.error) tip.push(`Error: ${c.error}`);
  if (i.completion?.lastMs !== undefined) {
    tip.push(`Last completion: ${Math.round(i.completion.lastMs)} ms (${i.completion.lastSource})${i.completion.medianMs !== undefined ? `, median ${Math.round(i.completion.medianMs)} ms` : ''}`);
  }
  return { text, tooltip: tip, level };
}

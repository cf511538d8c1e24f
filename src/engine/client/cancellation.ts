// Cancellation tokens for callers that hold an AbortSignal (the CLI's Ctrl-C).
import { CancellationToken, CancellationTokenSource } from 'vscode-jsonrpc';

export function cancellationFromSignal(signal: AbortSignal): CancellationToken {
  const source = new CancellationTokenSource();
  if (signal.aborted) source.cancel();
  else signal.addEventListener('abort', () => source.cancel(), { once: true });
  return source.token;
}

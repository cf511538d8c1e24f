// Entry of the engine process (forked by the engine client). Serves the
// engine protocol over the IPC channel and is the only code that loads the
// native addon, so a crash in the engine takes down this process only.
import { CancellationToken, createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';

import { ENGINE_METHODS, notificationType, requestType, toResponseError } from '../../protocol/engine';
import { findAddon, loadAddon } from './addon';
import { EngineHost, Notify } from './engine-host';

function main(): void {
  if (!process.send) {
    process.stderr.write('rwkvx engine host: must be started by the engine client (child_process.fork with an IPC channel)\n');
    process.exit(2);
  }
  const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
  const notify: Notify = (method, params) => {
    void connection.sendNotification(notificationType(method), params);
  };
  const epoch = Number(process.env.RWKVX_HOST_EPOCH ?? '0') || 0;
  const host = new EngineHost(
    () => {
      const addonPath = findAddon();
      if (addonPath === null) throw new Error('native/build/Release/rwkvx.node not found; build it with npm install (or npm run build:addon)');
      return { addon: loadAddon(addonPath), path: addonPath };
    },
    notify,
    epoch,
    () => process.exit(0),
  );
  for (const method of ENGINE_METHODS) {
    const handler = host.handlers[method] as (params: unknown, token: CancellationToken) => Promise<unknown>;
    connection.onRequest(requestType(method), async (params: unknown, token: CancellationToken) => {
      try {
        return await handler(params ?? {}, token);
      } catch (e) {
        throw toResponseError(e);
      }
    });
  }
  // Ctrl-C in a terminal reaches the whole process group; the front end
  // decides what to stop (it aborts the engine call), not this process.
  process.on('SIGINT', () => undefined);
  // The front end went away: nothing left to serve.
  process.on('disconnect', () => {
    host.disposeAll();
    process.exit(0);
  });
  connection.listen();
}

main();

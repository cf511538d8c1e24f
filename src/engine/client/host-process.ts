// One run of the engine process: the forked child, its JSON-RPC connection,
// the calls pending on it, and how it ended.
import { ChildProcess, fork } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CancellationToken, createMessageConnection, IPCMessageReader, IPCMessageWriter, MessageConnection } from 'vscode-jsonrpc/node';

import { ClientErrorCodes, EngineError } from '../../common/errors';
import { EngineMethod, ParamsOf, ResultOf, fromResponseError, requestType } from '../../protocol/engine';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of what the process wrote to stderr. */
  stderr: string;
  /** Set when the process could not be started at all. */
  spawnError?: string;
  /** True when the client asked it to stop. */
  intended: boolean;
}

export interface SpawnOptions {
  hostModule: string;
  execPath: string;
  env: NodeJS.ProcessEnv;
  epoch: number;
  onLog: (line: string) => void;
}

const STDERR_TAIL_BYTES = 4096;

/** Candidates for the host entry: the bundle beside us, or the compiled tree. */
export function defaultHostModule(dir: string = __dirname): string {
  const candidates = [path.join(dir, 'engine-host.js'), path.join(dir, '..', 'host', 'main.js')];
  return candidates.find((c) => fs.existsSync(c)) ?? candidates[0];
}

/** Describes an exit for people. */
export function describeExit(info: ExitInfo): string {
  if (info.spawnError) return `could not be started (${info.spawnError})`;
  if (info.signal === 'SIGKILL') return 'was killed (SIGKILL; out of memory?)';
  if (info.signal) return `crashed (${info.signal})`;
  return `exited with code ${info.code}`;
}

export class HostProcess {
  readonly connection: MessageConnection;
  readonly exited: Promise<ExitInfo>;
  readonly startedAt = Date.now();
  private readonly child: ChildProcess;
  private readonly pending = new Set<{ method: string; reject: (e: Error) => void }>();
  private stderrTail = '';
  private intended = false;
  private exitInfo: ExitInfo | null = null;

  constructor(private readonly options: SpawnOptions) {
    const electron = process.versions.electron !== undefined;
    this.child = fork(options.hostModule, [], {
      execPath: options.execPath,
      execArgv: [],
      env: {
        ...options.env,
        RWKVX_HOST_EPOCH: String(options.epoch),
        // Each running engine call holds a libuv worker; leave room for several sessions.
        UV_THREADPOOL_SIZE: options.env.UV_THREADPOOL_SIZE ?? '16',
        // Under Electron (VS Code), process.execPath is Electron: make it act as Node.
        ...(electron ? { ELECTRON_RUN_AS_NODE: '1' } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => this.log(s));
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-STDERR_TAIL_BYTES);
      this.log(s);
    });
    this.exited = new Promise<ExitInfo>((resolve) => {
      const finish = (info: Omit<ExitInfo, 'stderr' | 'intended'>) => {
        if (this.exitInfo) return;
        this.exitInfo = { ...info, stderr: this.stderrTail, intended: this.intended };
        this.failPending(this.exitInfo);
        this.connection.dispose();
        resolve(this.exitInfo);
      };
      this.child.on('error', (e) => {
        // 'error' without a pid: the spawn itself failed and no 'exit' follows.
        if (this.child.pid === undefined) finish({ code: null, signal: null, spawnError: e.message });
      });
      this.child.on('exit', (code, signal) => {
        // Let the stderr pipe drain so the tail holds the last words.
        const done = () => finish({ code, signal });
        if (this.child.stderr && !this.child.stderr.readableEnded) {
          this.child.stderr.once('end', done);
          setTimeout(done, 200).unref();
        } else {
          done();
        }
      });
    });
    this.connection = createMessageConnection(new IPCMessageReader(this.child), new IPCMessageWriter(this.child));
    this.connection.onError(() => {
      // Transport errors surface as the process exit that follows them.
    });
    this.connection.listen();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  private log(s: string): void {
    for (const line of s.split('\n')) if (line.length > 0) this.options.onLog(line);
  }

  private failPending(info: ExitInfo): void {
    for (const p of this.pending) {
      const tail = info.stderr.trim().split('\n').slice(-5).join('\n');
      const what = info.intended ? 'was stopped' : describeExit(info);
      p.reject(
        new EngineError(
          info.intended ? ClientErrorCodes.disposed : ClientErrorCodes.exited,
          `the engine process ${what} while '${p.method}' was running` +
            (info.intended ? '' : '; it is being restarted') +
            (tail ? `\n--- engine stderr ---\n${tail}` : ''),
        ),
      );
    }
    this.pending.clear();
  }

  request<M extends EngineMethod>(method: M, params: ParamsOf<M>, token?: CancellationToken): Promise<ResultOf<M>> {
    if (this.exitInfo) return Promise.reject(new EngineError(ClientErrorCodes.exited, `the engine process ${describeExit(this.exitInfo)}`));
    return new Promise<ResultOf<M>>((resolve, reject) => {
      const entry = { method, reject };
      this.pending.add(entry);
      const sent = token
        ? this.connection.sendRequest(requestType(method), params, token)
        : this.connection.sendRequest(requestType(method), params);
      sent.then(
        (r) => {
          this.pending.delete(entry);
          resolve(r);
        },
        (e) => {
          // A failure of the connection itself is answered by the exit above.
          if (this.exitInfo && !this.pending.has(entry)) return;
          this.pending.delete(entry);
          reject(fromResponseError(e));
        },
      );
    });
  }

  /** Asks the process to exit (shutdown request), then kills it if it lingers. */
  async stop(graceMs = 1000): Promise<ExitInfo> {
    this.intended = true;
    if (this.exitInfo) return this.exitInfo;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await Promise.race([this.request('shutdown', {}), this.exited]);
      if (this.child.connected) this.child.disconnect();
    } catch {
      this.child.kill('SIGKILL');
    }
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  /** For tests and emergencies: sends a signal to the process. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }
}

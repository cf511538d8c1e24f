// The front ends' handle on the engine process: forks it (under Node or
// Electron), sends typed requests, routes progress and streamed text, and
// restarts the process with back-off when it dies. Ids of models, sessions
// and snapshots do not survive a restart: owners listen to onDidRestart and
// rebuild.
import { CancellationToken, Emitter, Event } from 'vscode-jsonrpc';

import { ClientErrorCodes, EngineError } from '../../common/errors';
import {
  EngineMethod,
  FeedParams,
  FeedResult,
  GenerateParams,
  GenerateResult,
  HelloResult,
  LoadModelParams,
  LoadModelResult,
  ConvertParams,
  ConvertResult,
  ParamsOf,
  ProgressNotification,
  ResultOf,
  TextNotification,
  notificationType,
} from '../../protocol/engine';
import { defaultHostModule, describeExit, ExitInfo, HostProcess } from './host-process';
import { AsyncQueue } from './stream';

export interface RestartPolicy {
  /** Delay before the first restart after a crash. */
  initialDelayMs: number;
  /** Upper bound of the doubling delay. */
  maxDelayMs: number;
  /** Consecutive crashes after which the client gives up (until restart()). */
  maxRestarts: number;
  /** A process that lived this long resets the crash count. */
  stableAfterMs: number;
}

export interface EngineClientOptions {
  /** The engine process's entry script (default: found beside this module). */
  hostModule?: string;
  /** The executable that runs it (default: this process's; Electron is made to act as Node). */
  execPath?: string;
  env?: NodeJS.ProcessEnv;
  restart?: Partial<RestartPolicy>;
}

export interface CrashEvent {
  /** Epoch of the process that died. */
  epoch: number;
  reason: string;
  exit: ExitInfo;
  /** Whether a restart is scheduled (false once the client gave up). */
  willRestart: boolean;
}

export interface RestartEvent {
  /** Epoch of the new process; ids of older epochs are gone. */
  epoch: number;
  reason: string;
  hello: HelloResult;
}

export interface CallOptions {
  token?: CancellationToken;
  onProgress?: (p: ProgressNotification) => void;
}

export interface TextChunk {
  text: string;
  tokens: number[];
}

/** Streamed generation: iterate the text pieces; `result` settles at the end. */
export interface GenerateStream extends AsyncIterable<TextChunk> {
  readonly result: Promise<GenerateResult>;
}

const DEFAULT_POLICY: RestartPolicy = { initialDelayMs: 250, maxDelayMs: 10_000, maxRestarts: 5, stableAfterMs: 60_000 };

type State = 'idle' | 'starting' | 'running' | 'waiting' | 'failed' | 'disposed';

export class EngineClient {
  private readonly policy: RestartPolicy;
  private readonly hostModule: string;
  private readonly execPath: string;
  private readonly env: NodeJS.ProcessEnv;
  private state: State = 'idle';
  private host: HostProcess | null = null;
  private ready: Promise<HostProcess> | null = null;
  private epochValue = 0;
  private crashes = 0;
  private lastFailure = '';
  private restartTimer: NodeJS.Timeout | null = null;
  private nextStreamId = 1;
  private readonly progressListeners = new Map<string, (p: ProgressNotification) => void>();
  private readonly textListeners = new Map<string, (t: TextNotification) => void>();

  private readonly crashEmitter = new Emitter<CrashEvent>();
  private readonly restartEmitter = new Emitter<RestartEvent>();
  private readonly logEmitter = new Emitter<string>();
  /** The engine process died (pending calls have been rejected). */
  readonly onDidCrash: Event<CrashEvent> = this.crashEmitter.event;
  /** A new engine process is up after a crash: reload models and rebuild sessions. */
  readonly onDidRestart: Event<RestartEvent> = this.restartEmitter.event;
  /** Lines the engine process wrote to stdout / stderr. */
  readonly onLog: Event<string> = this.logEmitter.event;

  constructor(options: EngineClientOptions = {}) {
    this.policy = { ...DEFAULT_POLICY, ...options.restart };
    this.hostModule = options.hostModule ?? defaultHostModule();
    this.execPath = options.execPath ?? process.execPath;
    this.env = options.env ?? process.env;
  }

  /** Restart count of the engine process; part of every id it hands out. */
  get epoch(): number {
    return this.epochValue;
  }

  /** Pid of the running engine process, if any. */
  get pid(): number | undefined {
    return this.host?.alive ? this.host.pid : undefined;
  }

  /** Starts the engine process (if needed) and says hello. */
  async start(): Promise<HelloResult> {
    const host = await this.whenReady();
    return host.request('hello', {});
  }

  /** Sends one request, starting or awaiting the engine process as needed. */
  async request<M extends EngineMethod>(method: M, params: ParamsOf<M>, token?: CancellationToken): Promise<ResultOf<M>> {
    const host = await this.whenReady();
    return host.request(method, params, token);
  }

  // ------------------------------------------------------- conveniences

  loadModel(params: LoadModelParams, options: CallOptions = {}): Promise<LoadModelResult> {
    return this.withProgress(options, (progressId) => this.request('loadModel', { ...params, progressId }, options.token));
  }

  feed(params: Omit<FeedParams, 'progressId'>, options: CallOptions = {}): Promise<FeedResult> {
    return this.withProgress(options, (progressId) => this.request('feed', { ...params, progressId }, options.token));
  }

  convert(params: Omit<ConvertParams, 'progressId'>, options: CallOptions = {}): Promise<ConvertResult> {
    return this.withProgress(options, (progressId) => this.request('convert', { ...params, progressId }, options.token));
  }

  /** Generates after the session's context (and `prompt`, if given), streaming the text. */
  generate(params: Omit<GenerateParams, 'streamId' | 'progressId'>, options: CallOptions = {}): GenerateStream {
    const streamId = `g${this.nextStreamId++}`;
    const queue = new AsyncQueue<TextChunk>();
    this.textListeners.set(streamId, (t) => queue.push({ text: t.text, tokens: t.tokens }));
    const result = this.withProgress(options, (progressId) =>
      this.request('generate', { ...params, streamId, progressId }, options.token),
    ).then(
      (r) => {
        this.textListeners.delete(streamId);
        queue.end();
        return r;
      },
      (e) => {
        this.textListeners.delete(streamId);
        queue.end(e);
        throw e;
      },
    );
    result.catch(() => undefined); // a caller that only iterates sees the error there
    return {
      result,
      [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
    };
  }

  private async withProgress<T>(options: CallOptions, send: (progressId: string | undefined) => Promise<T>): Promise<T> {
    if (!options.onProgress) return send(undefined);
    const progressId = `p${this.nextStreamId++}`;
    this.progressListeners.set(progressId, options.onProgress);
    try {
      return await send(progressId);
    } finally {
      this.progressListeners.delete(progressId);
    }
  }

  // ------------------------------------------------------------ lifecycle

  /** After the client gave up on a crashing engine: try again now. */
  restart(): Promise<HelloResult> {
    if (this.state === 'disposed') return Promise.reject(this.disposedError());
    if (this.state === 'failed') {
      this.state = 'idle';
      this.crashes = 0;
    }
    return this.start();
  }

  /** Stops the engine process; later calls fail with ERR_CLIENT_DISPOSED. */
  async dispose(): Promise<void> {
    if (this.state === 'disposed') return;
    this.state = 'disposed';
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const host = this.host;
    this.host = null;
    if (host) await host.stop();
    this.crashEmitter.dispose();
    this.restartEmitter.dispose();
    this.logEmitter.dispose();
  }

  /** The running engine process, if any (for diagnostics and tests). */
  get process(): HostProcess | null {
    return this.host;
  }

  private disposedError(): EngineError {
    return new EngineError(ClientErrorCodes.disposed, 'the engine client was disposed');
  }

  private whenReady(): Promise<HostProcess> {
    switch (this.state) {
      case 'running':
        return Promise.resolve(this.host!);
      case 'disposed':
        return Promise.reject(this.disposedError());
      case 'failed':
        return Promise.reject(
          new EngineError(ClientErrorCodes.unavailable, `the engine process keeps failing (${this.lastFailure}); gave up after ${this.crashes} tries`),
        );
      case 'idle':
        this.ready = this.launch();
        return this.ready;
      default:
        return this.ready!;
    }
  }

  /** Forks a process and waits for its hello; a process that dies first counts as a crash. */
  private launch(delayMs = 0, reason = ''): Promise<HostProcess> {
    this.state = delayMs > 0 ? 'waiting' : 'starting';
    return new Promise<HostProcess>((resolve, reject) => {
      const go = () => {
        this.restartTimer = null;
        if (this.state === 'disposed') return reject(this.disposedError());
        this.state = 'starting';
        const epoch = this.epochValue;
        const host = new HostProcess({
          hostModule: this.hostModule,
          execPath: this.execPath,
          env: this.env,
          epoch,
          onLog: (line) => this.logEmitter.fire(line),
        });
        this.host = host;
        host.connection.onNotification(notificationType('progress'), (p) => this.progressListeners.get(p.progressId)?.(p));
        host.connection.onNotification(notificationType('text'), (t) => this.textListeners.get(t.streamId)?.(t));
        host.connection.onNotification(notificationType('log'), (l) => this.logEmitter.fire(`[${l.level}] ${l.message}`));
        void host.exited.then((info) => this.onExit(host, epoch, info));
        host.request('hello', {}).then(
          (hello) => {
            if (this.host !== host || this.state === 'disposed') return;
            this.state = 'running';
            resolve(host);
            if (reason) this.restartEmitter.fire({ epoch, reason, hello });
          },
          (e) => {
            // The exit handler decides between retrying and giving up; follow it.
            void host.exited.then(() => {
              if (this.state === 'disposed') reject(this.disposedError());
              else this.whenReady().then(resolve, reject);
            });
            if (host.alive) host.kill();
            void e;
          },
        );
      };
      if (delayMs > 0) this.restartTimer = setTimeout(go, delayMs);
      else go();
    });
  }

  private onExit(host: HostProcess, epoch: number, info: ExitInfo): void {
    if (this.host !== host || this.state === 'disposed' || info.intended) return;
    this.host = null;
    const lived = Date.now() - host.startedAt;
    this.crashes = lived >= this.policy.stableAfterMs ? 1 : this.crashes + 1;
    const reason = `the engine process ${describeExit(info)}`;
    this.lastFailure = reason;
    this.epochValue = epoch + 1;
    const willRestart = this.crashes <= this.policy.maxRestarts;
    if (willRestart) {
      const delay = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** (this.crashes - 1));
      this.ready = this.launch(delay, reason);
      this.ready.catch(() => undefined);
    } else {
      this.state = 'failed';
    }
    this.crashEmitter.fire({ epoch, reason, exit: info, willRestart });
  }
}

// The chat's engine side: forks of the workspace context and streamed
// generation through the engine client, with the G1 models' sampling
// defaults (sample from the likely head, discourage repeats).
import type { CancelToken } from '../../core/async/cancel';
import type { AnswerStream, ChatEngine, ChatFork } from '../../core/chat/controller';
import type { EngineService } from '../engine/engineService';
import type { WorkspaceContext } from '../context/workspaceContext';

export class EngineChat implements ChatEngine {
  constructor(private readonly engine: EngineService, private readonly context: WorkspaceContext) {}

  async fork(): Promise<ChatFork> {
    await this.engine.ready();
    return this.context.fork();
  }

  generate(session: string, prompt: string, options: { maxTokens: number; temperature: number; stop: string[] }, token: CancelToken): AnswerStream {
    const stream = this.engine.client.generate(
      {
        sessionId: session,
        prompt,
        maxTokens: options.maxTokens,
        stop: options.stop,
        sampler: { temperature: options.temperature, topP: 0.3, presencePenalty: 0.4, frequencyPenalty: 0.4 },
      },
      { token },
    );
    const result = stream.result.then((r) => ({ tokens: r.nGenerated, tokensPerSecond: r.tokensPerSecond, elapsedMs: r.elapsedMs, stopReason: r.stopReason }));
    result.catch(() => undefined);
    return {
      result,
      async *[Symbol.asyncIterator]() {
        for await (const chunk of stream) yield chunk.text;
      },
    };
  }
}

// The engine client: what front ends (extension, CLI, context log adapters) import.
export { EngineClient } from './client';
export type { CallOptions, CrashEvent, EngineClientOptions, GenerateStream, RestartEvent, RestartPolicy, TextChunk } from './client';
export { defaultHostModule } from './host-process';
export type { ExitInfo } from './host-process';

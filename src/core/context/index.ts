// The whole-workspace context log: what the CLI and the extension use.
export { ContextLog, ContextUnavailableError } from './contextLog';
export type {
  BuildStats, ContextDeps, ContextOptions, ContextReport, ContextState, ContextStatus, QueryFork, UpdateStats,
} from './contextLog';
export type { ProgressEvent, Phase } from './progress';
export * from './ports';
export { ClientEnginePort, fingerprintOf, toPortError } from './clientPort';
export type { ClientPortOptions, EngineRequester, PortModel } from './clientPort';
export { FolderStorage } from './nodeStorage';
export { systemClock } from './systemClock';
export { FakeEngine, byteTokenizer, type Tokenizer } from './fakeEngine';
export { FakeClock } from './fakeClock';
export { NodeFileSystem } from '../workspace/nodeFs';
export { Discovery, DEFAULT_BUILTIN_FOLDERS } from '../workspace/discovery';
export type { DiscoveryOptions, DiscoveryReport, IncludedFile, SkippedEntry, SkipReason } from '../workspace/discovery';
export { WorldTokenizer } from '../tokenizer/worldTokenizer';

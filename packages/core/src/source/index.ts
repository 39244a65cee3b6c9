export type { ResourceKey, Source, SourceMessage, SourcePhase, SourceProblem, SourceSink, SourceStatus } from './source.js';
export { formatResourceKey, resourceKey } from './resource-key.js';
export { ResyncTracker } from './resync-tracker.js';
export { applySourceMessages } from './engine-sink.js';
export { createFilesSource, type FilesSource } from './files-source.js';

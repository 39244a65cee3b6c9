/**
 * The Engine: incremental calculation graph from resources to dataplane messages. See
 * docs/engine.md.
 */
export { createEngine, type Engine, type EngineOptions, type EngineStats } from './engine.js';
export { LabelIndex } from './label-index.js';
export { namedPortSetId } from './active-rules-calculator.js';

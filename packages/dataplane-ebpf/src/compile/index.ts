export { compile, compileInto, emptyTables, policyNames, type CompileOptions, type CompileIntoResult, type CompileResult, type CompilerMemory, type SlotMemory, type Tables } from './compiler.js';
export { computeRegions, type Region } from './classes.js';
export { classRows, type Row } from './evaluate.js';
export { slotProgram, type Block, type IrRule, type PortCond, type Program } from './program.js';
export { type FwdSlotMemory, type HostFacts, type HostInterface } from './forward.js';

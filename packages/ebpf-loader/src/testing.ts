/**
 * `@gingham/ebpf-loader/testing`: helpers for test suites and benchmarks of code built on the
 * loader. Nothing here belongs in a product: a scratch bpffs is mounted on a temporary
 * directory so that tests pin without touching the host's /sys/fs/bpf.
 */
export { mountScratchBpffs, type ScratchBpffs } from './pin.js';

#!/usr/bin/env bash
# Rebuilds the datapath object (bpf/gingham.bpf.o) and any bench reference programs
# (bpf/bench/*.bpf.c) from their C sources with clang. The objects are committed: without clang
# this keeps them and exits 0, so a checkout can build the TypeScript side anywhere.
set -euo pipefail
cd "$(dirname "$0")/../bpf"
if ! command -v clang >/dev/null 2>&1; then
  echo "dataplane-ebpf: clang not found; keeping the committed BPF objects" >&2
  exit 0
fi
arch_inc=/usr/include/$(uname -m)-linux-gnu
shopt -s nullglob
for src in *.bpf.c bench/*.bpf.c; do
  out="${src%.c}.o"
  # -g for BTF (map definitions in .maps, func/line info for verifier logs); strip DWARF so the
  # committed objects stay small. The output is deterministic for a given clang.
  # Warnings fail the datapath build; bench reference programs only warn.
  werror=-Werror
  case "$src" in bench/*) werror= ;; esac
  clang -O2 -g -Wall $werror -target bpf -I"$arch_inc" -I. -c "$src" -o "$out"
  if command -v llvm-strip >/dev/null 2>&1; then llvm-strip -g "$out"; fi
done

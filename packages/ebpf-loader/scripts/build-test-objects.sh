#!/usr/bin/env bash
# Rebuilds the committed BPF test objects (test/bpf/*.o) from their C sources with clang.
# Without clang it keeps the committed objects and exits 0 (pure tests only need the .o files).
set -euo pipefail
cd "$(dirname "$0")/../test/bpf"
if ! command -v clang >/dev/null 2>&1; then
  echo "ebpf-loader: clang not found; keeping the committed test objects" >&2
  exit 0
fi
arch_inc=/usr/include/$(uname -m)-linux-gnu
for src in *.c; do
  # -g for BTF (map definitions in .maps); strip DWARF so the fixtures stay small.
  clang -O2 -g -target bpf -I"$arch_inc" -c "$src" -o "${src%.c}.o"
  if command -v llvm-strip >/dev/null 2>&1; then llvm-strip -g "${src%.c}.o"; fi
done

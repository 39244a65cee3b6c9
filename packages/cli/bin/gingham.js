#!/usr/bin/env node
// The `gingham` bin. It exists before the first build so that `npm ci` can link it; the
// command itself is the built dist/bin.js.
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('gingham: the CLI is not built yet; run `npm run build` in the repository root first\n');
  process.exit(70);
}
await import(built.href);

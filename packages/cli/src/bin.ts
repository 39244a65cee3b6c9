#!/usr/bin/env node
/**
 * The process around `runCli`: real streams, the exit code, and the last line of defence. A
 * reader that goes away (`gingham check … | head`) is not an error; anything that escapes
 * `runCli` is a bug, said in one line (the stack only with GINGHAM_DEBUG=1), never a raw trace.
 */
import { runCli } from './cli.js';
import { createProcessIo } from './io.js';

const io = createProcessIo();

function lastResort(err: unknown): void {
  const what = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err);
  process.stderr.write(`gingham: internal error: ${what.replace(/[\x00-\x1f\x7f-\x9f]/g, '?')}; please report it\n`);
  if (process.env.GINGHAM_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(70);
}
process.on('uncaughtException', lastResort);
process.on('unhandledRejection', lastResort);

runCli(process.argv.slice(2), io).then((code) => {
  process.exitCode = code;
}, lastResort);

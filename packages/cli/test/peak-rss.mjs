// Preloaded into the child processes of the CLI tests (`node --import`): on exit, writes the
// process's peak resident set size (getrusage maxrss, the same as VmHWM, in KiB) and its user
// CPU time (µs) to file descriptor 3, when the parent opened one.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  const usage = process.resourceUsage();
  try {
    writeSync(3, `${usage.maxRSS} ${usage.userCPUTime}\n`);
  } catch {
    // no fd 3: not run by the tests
  }
});

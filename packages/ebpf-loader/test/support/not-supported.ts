/**
 * Runs a test body; a `NotSupportedError` (missing kernel feature) skips the test locally but
 * fails it under CI=true, where every feature the suites use must be present.
 */
import { NotSupportedError } from '../../src/index.js';

export async function skipIfNotSupported(ctx: { skip: (note?: string) => void }, body: () => unknown): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof NotSupportedError && process.env.CI !== 'true') {
      ctx.skip(`not supported here: ${e.feature}`);
      return;
    }
    throw e;
  }
}

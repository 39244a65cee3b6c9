/**
 * Selector fields: length limit (the CRDs' MaxLength=1024), syntax (the selector parser), and
 * where `global()` may appear (only as a whole EntityRule namespaceSelector).
 */
import { validateSelector } from '../selector/index.js';
import type { FieldPath } from './path.js';
import type { Reporter } from './report.js';

export const MAX_SELECTOR_LENGTH = 1024;

const ONLY_GLOBAL = /^[ \t]*global\([ \t]*\)[ \t]*$/;

export type GlobalRule =
  /** `global()` is not allowed anywhere in the text (Calico's substring test). */
  | 'forbidden'
  /** `global()` is allowed, but only as the whole selector (EntityRule namespaceSelector). */
  | 'whole';

export function checkSelector(r: Reporter, path: FieldPath, text: string, global: GlobalRule = 'forbidden'): void {
  if (text.length > MAX_SELECTOR_LENGTH) {
    r.error('invalid-selector', path, `selector is too long (${text.length} characters); at most ${MAX_SELECTOR_LENGTH}`);
    return;
  }
  if (text.includes('global(')) {
    if (global === 'forbidden') {
      r.error('invalid-selector', path, 'global() can only be used in an EntityRule namespaceSelector');
      return;
    }
    if (!ONLY_GLOBAL.test(text)) {
      r.error('invalid-selector', path, 'global() cannot be combined with other selectors');
      return;
    }
  }
  const result = validateSelector(text);
  if (!result.ok) r.error('invalid-selector', path, result.message);
}

/**
 * A small structural schema language for manifests: which fields exist, their JSON types, enums,
 * bounds and list sizes. `checkShape` reports type errors (errors) and unknown fields
 * (warnings, with a "did you mean" when a known field is close). Semantic rules that need more
 * than one field live in the per-kind validators, which run on the same data afterwards and
 * tolerate anything this pass rejected.
 */
import type { Reporter } from './report.js';
import type { FieldPath } from './path.js';
import { suggest } from './suggest.js';
import { isObject, isSet, show } from './values.js';

export type Shape =
  | { readonly t: 'string'; readonly oneOf?: readonly string[]; readonly maxLength?: number }
  | { readonly t: 'int'; readonly min?: number; readonly max?: number }
  | { readonly t: 'number' }
  | { readonly t: 'bool' }
  | { readonly t: 'intOrString' }
  | { readonly t: 'list'; readonly of: Shape; readonly minItems?: number; readonly maxItems?: number }
  | {
      readonly t: 'object';
      readonly fields: Readonly<Record<string, Shape>>;
      readonly required?: readonly string[];
      /** Unknown fields are accepted silently (resources whose full schema we do not model). */
      readonly open?: boolean;
    }
  | { readonly t: 'stringMap' }
  | { readonly t: 'any' };

type ObjectShape = Extract<Shape, { t: 'object' }>;

/** Builders, so shape tables read like the API they describe. */
export const S = {
  string: (opts: { maxLength?: number } = {}): Shape => ({ t: 'string', ...opts }),
  oneOf: (...values: string[]): Shape => ({ t: 'string', oneOf: values }),
  int: (min?: number, max?: number): Shape => ({ t: 'int', ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) }),
  number: (): Shape => ({ t: 'number' }),
  bool: (): Shape => ({ t: 'bool' }),
  intOrString: (): Shape => ({ t: 'intOrString' }),
  list: (of: Shape, opts: { minItems?: number; maxItems?: number } = {}): Shape => ({ t: 'list', of, ...opts }),
  object: (fields: Record<string, Shape>, opts: { required?: readonly string[]; open?: boolean } = {}): ObjectShape => ({
    t: 'object',
    fields,
    ...opts,
  }),
  stringMap: (): Shape => ({ t: 'stringMap' }),
  any: (): Shape => ({ t: 'any' }),
} as const;

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (isObject(value)) return 'a mapping';
  if (typeof value === 'object') return 'a binary or tagged value';
  if (typeof value === 'number') return `the number ${String(value)}`;
  if (typeof value === 'boolean') return `the boolean ${String(value)}`;
  if (typeof value === 'string') return `the string ${show(value, 40)}`;
  return typeof value;
}

function quoteHint(value: unknown): string {
  return typeof value === 'number' || typeof value === 'boolean' ? ' (quote the value to make it a string)' : '';
}

function describe(shape: Shape): string {
  switch (shape.t) {
    case 'string':
      return 'a string';
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'bool':
      return 'true or false';
    case 'intOrString':
      return 'an integer or a string';
    case 'list':
      return 'a list';
    case 'object':
    case 'stringMap':
      return 'a mapping';
    case 'any':
      return 'a value';
  }
}

/**
 * Checks `value` against `shape`, reporting under `path`. `null` counts as "not set" (the
 * Kubernetes decoders treat it so), except for required scalar fields.
 */
export function checkShape(value: unknown, shape: Shape, path: FieldPath, r: Reporter): void {
  if (!isSet(value) || shape.t === 'any') return;
  const wrong = (): void =>
    r.error('wrong-type', path, `must be ${describe(shape)}, not ${typeName(value)}${shape.t === 'string' ? quoteHint(value) : ''}`);
  switch (shape.t) {
    case 'string': {
      if (typeof value !== 'string') return wrong();
      if (shape.maxLength !== undefined && value.length > shape.maxLength) {
        r.error('too-long', path, `must be at most ${shape.maxLength} characters (is ${value.length})`);
      }
      if (shape.oneOf && !shape.oneOf.includes(value)) {
        const hint = suggest(value, shape.oneOf);
        r.error(
          'invalid-value',
          path,
          `unsupported value ${show(value)}: must be one of ${shape.oneOf.join(', ')}${hint ? `; did you mean ${hint}?` : ''}`,
        );
      }
      return;
    }
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) return wrong();
      if ((shape.min !== undefined && value < shape.min) || (shape.max !== undefined && value > shape.max)) {
        r.error('out-of-range', path, `must be between ${shape.min ?? '-∞'} and ${shape.max ?? '∞'}, not ${value}`);
      }
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrong();
      return;
    case 'bool':
      if (typeof value !== 'boolean') return wrong();
      return;
    case 'intOrString':
      if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) return wrong();
      return;
    case 'stringMap':
      if (!isObject(value)) return wrong();
      for (const key of Object.keys(value)) {
        const v = value[key];
        if (typeof v !== 'string') {
          r.error('wrong-type', [...path, key], `must be a string, not ${typeName(v)}${quoteHint(v)}`);
        }
      }
      return;
    case 'list': {
      if (!Array.isArray(value)) return wrong();
      if (shape.maxItems !== undefined && value.length > shape.maxItems) {
        r.error('too-many-items', path, `too many items (${value.length}); at most ${shape.maxItems} allowed`);
      }
      if (shape.minItems !== undefined && value.length < shape.minItems) {
        r.error('too-few-items', path, `must have at least ${shape.minItems} item${shape.minItems === 1 ? '' : 's'}`);
      }
      value.forEach((item: unknown, i) => {
        if (item === null) r.error('wrong-type', [...path, i], `must be ${describe(shape.of)}, not null`);
        else checkShape(item, shape.of, [...path, i], r);
      });
      return;
    }
    case 'object':
      checkObject(value, shape, path, r);
      return;
  }
}

function checkObject(value: unknown, shape: ObjectShape, path: FieldPath, r: Reporter): void {
  if (!isObject(value)) {
    r.error('wrong-type', path, `must be a mapping, not ${typeName(value)}`);
    return;
  }
  const known = Object.keys(shape.fields);
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(shape.fields, key)) {
      const sub = shape.fields[key];
      if (sub) checkShape(value[key], sub, [...path, key], r);
    } else if (!shape.open) {
      const hint = suggest(key, known);
      r.warn('unknown-field', [...path, key], `unknown field ${show(key)}${hint ? `; did you mean ${show(hint)}?` : ''}`, 'key');
    }
  }
  for (const key of shape.required ?? []) {
    const sub = shape.fields[key];
    const present = Object.hasOwn(value, key) && (isSet(value[key]) || sub?.t === 'object' || sub?.t === 'stringMap');
    if (!present) r.error('missing-field', [...path, key], 'required field is missing');
  }
}

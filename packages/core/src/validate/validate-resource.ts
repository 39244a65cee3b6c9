/**
 * `validateResource`: every rule Gingham knows for one parsed manifest object, returned as
 * issues (never thrown). Order: identity (apiVersion, kind, name), field types and unknown
 * fields, metadata, then the kind's own cross-field rules.
 */
import type { Issue } from '../model/issues.js';
import { findKind, explainUnsupported, type KindDefinition } from './kinds.js';
import { checkMetadata } from './metadata.js';
import { createReporter, NOWHERE, type Locate, type Reporter } from './report.js';
import { checkShape } from './schema.js';
import { field, isObject, obj, str } from './values.js';

export interface ValidateOptions {
  /** Maps a field path to a line and column in the source; without it positions are 0:0. */
  readonly at?: Locate;
  /** File name for issues; `<input>` by default. */
  readonly file?: string;
}

/** `ns/name` for namespaced kinds (namespace `default` when unset), `name` otherwise, `-` when unnamed. */
export function resourceDisplayName(resource: unknown, namespaced: boolean): string {
  const name = str(obj(resource, 'metadata'), 'name');
  if (!name) return '-';
  if (!namespaced) return name;
  return `${str(obj(resource, 'metadata'), 'namespace') || 'default'}/${name}`;
}

/** Checks apiVersion, kind and metadata.name; returns the kind's definition when all are usable. */
export function checkIdentity(r: Reporter, resource: unknown): KindDefinition | undefined {
  if (!isObject(resource)) {
    r.error('not-an-object', [], 'a manifest must be a mapping with apiVersion, kind and metadata');
    return undefined;
  }
  const apiVersion = field(resource, 'apiVersion');
  const kind = field(resource, 'kind');
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    r.error('missing-api-version', ['apiVersion'], typeof apiVersion === 'string' || apiVersion === undefined ? 'apiVersion is required' : 'apiVersion must be a string');
  }
  if (typeof kind !== 'string' || kind === '') {
    r.error('missing-kind', ['kind'], typeof kind === 'string' || kind === undefined ? 'kind is required' : 'kind must be a string');
  }
  if (typeof apiVersion !== 'string' || apiVersion === '' || typeof kind !== 'string' || kind === '') return undefined;
  const def = findKind(apiVersion, kind);
  if (!def) {
    const { code, message } = explainUnsupported(apiVersion, kind);
    r.error(code, code === 'unknown-kind' ? ['kind'] : ['apiVersion'], message);
    return undefined;
  }
  const metadata = field(resource, 'metadata');
  const name = field(metadata, 'name');
  if (typeof name !== 'string' || name === '') {
    const generated = typeof field(metadata, 'generateName') === 'string';
    r.error(
      'missing-name',
      ['metadata', 'name'],
      generated ? 'metadata.name is required (generateName is not supported offline)' : 'metadata.name is required',
    );
    return undefined;
  }
  return def;
}

/**
 * Validates one resource. `atOrOptions` is either a locator (path → line/column) or
 * `{ at, file }`. Unknown fields are warnings; everything else is an error.
 */
export function validateResource(resource: unknown, atOrOptions: Locate | ValidateOptions = {}): Issue[] {
  const options: ValidateOptions = typeof atOrOptions === 'function' ? { at: atOrOptions } : atOrOptions;
  const kind = str(resource, 'kind') || '-';
  const probe = findKind(str(resource, 'apiVersion') ?? '', kind);
  const r = createReporter({
    file: options.file ?? '<input>',
    kind,
    name: resourceDisplayName(resource, probe?.namespaced ?? false),
    at: options.at ?? NOWHERE,
  });
  const def = checkIdentity(r, resource);
  if (!def || !isObject(resource)) return r.issues;
  checkShape(resource, def.shape, [], r);
  checkMetadata(r, field(resource, 'metadata'), def);
  def.validate?.(r, resource);
  return r.issues;
}

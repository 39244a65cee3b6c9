/**
 * Reading saved API bodies (what `openstack … -f json` or `curl` of the Neutron and Keystone APIs
 * return: `{"ports": […]}`, `{"security_groups": […]}`, `{"projects": […]}`, …) and placing
 * every problem at file:line:col. Bodies are parsed with `JSON.parse` (fast on large clouds);
 * only when something must be located is the text parsed again with positions. Pure: the caller
 * reads the files.
 */
import { LineCounter, parseDocument, isNode, type Node } from 'yaml';
import type { NeutronInputs } from '../neutron-types.js';
import { COLLECTION_KEYS, type ConversionProblem, type NeutronCollection, type NeutronPath } from './convert.js';

/** One saved API body. */
export interface BodyInput {
  readonly collection: NeutronCollection;
  /** File name for messages. */
  readonly file: string;
  readonly text: string;
}

/** A problem placed in a file. */
export interface LocatedProblem {
  readonly severity: 'error' | 'warning';
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Dotted path inside the body: `ports[3].fixed_ips[0].ip_address`. */
  readonly path: string;
  readonly object: string;
  readonly message: string;
}

/** `file:line:col: [warning: ]object path: message`, the house format of located problems. */
export function formatLocatedProblem(p: LocatedProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.object}${p.path ? ` ${p.path}` : ''}: ${p.message}`;
}

/** `ports[3].fixed_ips[0].ip_address` */
export function formatNeutronPath(path: NeutronPath): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : /^[A-Za-z_][\w:-]*$/.test(s) ? `${i === 0 ? '' : '.'}${s}` : `[${JSON.stringify(s)}]`)).join('');
}

/** Singular keys accepted for one-object bodies (`GET /v2.0/ports/{id}` → `{"port": {…}}`). */
const SINGULAR: Readonly<Record<NeutronCollection, string>> = {
  ports: 'port',
  securityGroups: 'security_group',
  securityGroupRules: 'security_group_rule',
  networks: 'network',
  subnets: 'subnet',
  floatingIps: 'floatingip',
  qosPolicies: 'policy',
  projects: 'project',
};

export interface ReadBodiesResult {
  readonly inputs: NeutronInputs;
  /** Syntax and shape errors of the bodies themselves; when any, `inputs` holds only what parsed. */
  readonly problems: readonly LocatedProblem[];
  /** Places conversion problems in the file their object came from. */
  locate(problems: readonly ConversionProblem[]): LocatedProblem[];
}

/** Parses the bodies; several bodies of one collection are concatenated (paginated saves). */
export function readBodies(bodies: readonly BodyInput[]): ReadBodiesResult {
  const problems: LocatedProblem[] = [];
  const lists = new Map<NeutronCollection, unknown[]>();
  // For each collection, where each item came from: its file and index in that file's list.
  const origins = new Map<NeutronCollection, { body: BodyInput; key: string; index: number }[]>();
  for (const body of bodies) {
    const key = COLLECTION_KEYS[body.collection];
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.text);
    } catch (e) {
      const { line, col } = syntaxErrorPosition(body.text, e as Error);
      problems.push({ severity: 'error', file: body.file, line, col, path: '', object: 'body', message: `not valid JSON: ${(e as Error).message}` });
      continue;
    }
    let items: unknown[] | undefined;
    let listKey: string = key;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      const o = parsed as Record<string, unknown>;
      if (Array.isArray(o[key])) items = o[key] as unknown[];
      else if (typeof o[SINGULAR[body.collection]] === 'object' && o[SINGULAR[body.collection]] !== null) {
        items = [o[SINGULAR[body.collection]]];
        listKey = SINGULAR[body.collection];
      }
    }
    if (!items) {
      problems.push({
        severity: 'error',
        file: body.file,
        line: 1,
        col: 1,
        path: '',
        object: 'body',
        message: `expected the API body {"${key}": […]} (as GET ${apiPath(body.collection)} returns it)`,
      });
      continue;
    }
    const list = lists.get(body.collection) ?? [];
    const from = origins.get(body.collection) ?? [];
    items.forEach((item, index) => {
      list.push(item);
      from.push({ body, key: listKey, index: listKey === key ? index : -1 });
    });
    lists.set(body.collection, list);
    origins.set(body.collection, from);
  }
  const get = <T>(c: NeutronCollection): T[] | undefined => lists.get(c) as T[] | undefined;
  const inputs: NeutronInputs = {
    ports: get('ports') ?? [],
    securityGroups: get('securityGroups') ?? [],
    ...optional('securityGroupRules', get<NonNullable<NeutronInputs['securityGroupRules']>[number]>('securityGroupRules')),
    ...optional('networks', get<NonNullable<NeutronInputs['networks']>[number]>('networks')),
    ...optional('subnets', get<NonNullable<NeutronInputs['subnets']>[number]>('subnets')),
    ...optional('floatingIps', get<NonNullable<NeutronInputs['floatingIps']>[number]>('floatingIps')),
    ...optional('qosPolicies', get<NonNullable<NeutronInputs['qosPolicies']>[number]>('qosPolicies')),
    ...optional('projects', get<NonNullable<NeutronInputs['projects']>[number]>('projects')),
  };

  const positions = new Map<BodyInput, (path: NeutronPath) => { line: number; col: number }>();
  const locatorFor = (body: BodyInput) => {
    let l = positions.get(body);
    if (!l) {
      l = makeLocator(body.text);
      positions.set(body, l);
    }
    return l;
  };
  return {
    inputs,
    problems,
    locate(conversionProblems) {
      return conversionProblems.map((p) => {
        if (p.collection === 'options') return { severity: p.severity, file: '<options>', line: 0, col: 0, path: formatNeutronPath(p.path), object: p.object, message: p.message };
        const [, index, ...rest] = p.path;
        const origin = typeof index === 'number' ? origins.get(p.collection)?.[index] : undefined;
        if (!origin) return { severity: p.severity, file: '<input>', line: 0, col: 0, path: formatNeutronPath(p.path), object: p.object, message: p.message };
        const inFile: NeutronPath = origin.index < 0 ? [origin.key, ...rest] : [origin.key, origin.index, ...rest];
        const { line, col } = locatorFor(origin.body)(inFile);
        return { severity: p.severity, file: origin.body.file, line, col, path: formatNeutronPath(inFile), object: p.object, message: p.message };
      });
    },
  };
}

function optional<K extends string, T>(key: K, v: T | undefined): { [P in K]?: T } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: T };
}

function apiPath(c: NeutronCollection): string {
  switch (c) {
    case 'ports':
      return '/v2.0/ports';
    case 'securityGroups':
      return '/v2.0/security-groups';
    case 'securityGroupRules':
      return '/v2.0/security-group-rules';
    case 'networks':
      return '/v2.0/networks';
    case 'subnets':
      return '/v2.0/subnets';
    case 'floatingIps':
      return '/v2.0/floatingips';
    case 'qosPolicies':
      return '/v2.0/qos/policies';
    case 'projects':
      return '/v3/projects (Keystone)';
  }
}

/** line:col of a path in a JSON text: the deepest node on the path that exists (the object that lacks a field). */
function makeLocator(text: string): (path: NeutronPath) => { line: number; col: number } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: false });
  return (path) => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : (doc.getIn(path.slice(0, n), true) as unknown);
      if (isNode(node) && (node as Node).range) {
        const pos = lineCounter.linePos((node as Node).range![0]);
        return { line: pos.line, col: pos.col };
      }
    }
    return { line: 1, col: 1 };
  };
}

/** Where JSON.parse stopped: V8 reports a character position ("at position 17", "line 2 column 5"). */
function syntaxErrorPosition(text: string, e: Error): { line: number; col: number } {
  const lc = /line (\d+) column (\d+)/.exec(e.message);
  if (lc) return { line: Number(lc[1]), col: Number(lc[2]) };
  const pos = /position (\d+)/.exec(e.message);
  const offset = pos ? Number(pos[1]) : text.trimEnd().length;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

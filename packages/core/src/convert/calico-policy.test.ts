import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import { convertCalicoPolicy } from './calico-policy.js';
import { entityRuleSelectorText } from './calico-rules.js';
import { namespaceSelectorForRule } from './selectors.js';

const np = (spec: Record<string, unknown>, ns = 'prod'): Resource =>
  ({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: ns }, spec }) as Resource;
const gnp = (spec: Record<string, unknown>, kind = 'GlobalNetworkPolicy'): Resource =>
  ({ apiVersion: 'projectcalico.org/v3', kind, metadata: { name: 'g' }, spec }) as Resource;
const convert = (r: Resource) => convertCalicoPolicy(r as Resource<string, never>);

describe('Calico policy selectors (byte for byte)', () => {
  it.each([
    [{}, 'projectcalico.org/namespace == "prod"'],
    [{ selector: "app == 'web'" }, '(app == "web" && projectcalico.org/namespace == "prod")'],
    [{ selector: "a == 'x' || b == 'y'" }, '((a == "x" || b == "y") && projectcalico.org/namespace == "prod")'],
    [{ selector: 'all()' }, '(all() && projectcalico.org/namespace == "prod")'],
    [
      { selector: "app == 'web'", serviceAccountSelector: "role == 'x'" },
      '((app == "web" && projectcalico.org/namespace == "prod") && pcsa.role == "x")',
    ],
  ])('NetworkPolicy %j → %s', (spec, expected) => {
    expect(convert(np(spec)).value!.selector).toBe(expected);
  });

  it.each([
    [{}, 'all()'],
    [{ selector: "app == 'web'" }, 'app == "web"'],
    [{ selector: "app == 'web'", namespaceSelector: "team == 'a'" }, '(app == "web" && pcns.team == "a")'],
    [{ namespaceSelector: 'all()' }, 'has(projectcalico.org/namespace)'],
    [{ selector: 'all()', namespaceSelector: "team == 'a'" }, '(has(projectcalico.org/namespace) && pcns.team == "a")'],
    [{ serviceAccountSelector: 'all()' }, 'has(projectcalico.org/serviceaccount)'],
    [{ selector: 'has(x)', serviceAccountSelector: "k == 'v'" }, '(has(x) && pcsa.k == "v")'],
  ])('GlobalNetworkPolicy %j → %s', (spec, expected) => {
    expect(convert(gnp(spec)).value!.selector).toBe(expected);
  });
});

describe('entity rule selectors (GetEntityRuleSelector)', () => {
  it.each([
    ['selector in a namespaced policy', { selector: "app == 'db'" }, 'prod', `(projectcalico.org/namespace == 'prod') && (app == 'db')`],
    ['no selector fields', { nets: ['10.0.0.0/8'] }, 'prod', ''],
    ['notSelector alone scopes to the namespace', { notSelector: 'has(x)' }, 'prod', `projectcalico.org/namespace == 'prod'`],
    ['namespaceSelector is pcns-prefixed', { namespaceSelector: "team == 'a'" }, 'prod', 'pcns.team == "a"'],
    ['namespaceSelector all()', { namespaceSelector: 'all()' }, 'prod', 'has(projectcalico.org/namespace)'],
    ['namespaceSelector global()', { namespaceSelector: 'global()' }, '', '!has(projectcalico.org/namespace)'],
    ['namespaceSelector with selector', { namespaceSelector: "team == 'a'", selector: 'has(app)' }, 'prod', '(pcns.team == "a") && (has(app))'],
    ['selector in a global policy', { selector: 'has(app)' }, '', 'has(app)'],
    [
      'serviceAccounts names',
      { serviceAccounts: { names: ['b', 'a'] } },
      'prod',
      `(projectcalico.org/namespace == 'prod') && (projectcalico.org/serviceaccount in {"a", "b"})`,
    ],
    [
      'serviceAccounts names and selector, with selector',
      { serviceAccounts: { names: ['a'], selector: "r == 'x'" }, selector: 'has(app)' },
      '',
      '((pcsa.r == "x") && (projectcalico.org/serviceaccount in {"a"})) && (has(app))',
    ],
  ])('%s', (_name, er, ns, expected) => {
    expect(entityRuleSelectorText(er, ns, 'x')).toBe(expected);
  });

  it('canonicalises the rule selector and passes notSelector through unscoped', () => {
    const p = convert(np({ ingress: [{ action: 'Allow', source: { selector: "app == 'db'", notSelector: "x == 'y'" } }] })).value!;
    expect(p.ingress[0]!.source).toEqual({
      selector: '(projectcalico.org/namespace == "prod" && app == "db")',
      notSelector: 'x == "y"',
    });
  });
});

describe('Calico policy fields', () => {
  it('ids, tier defaulting, order, flags', () => {
    expect(convert(np({ order: 5 })).value).toMatchObject({ id: 'np/prod/p', tier: 'default', order: 5, kind: 'NetworkPolicy' });
    expect(convert(gnp({ tier: 'sec', doNotTrack: true, applyOnForward: true }))).toMatchObject({
      value: { id: 'gnp/g', tier: 'sec', doNotTrack: true, applyOnForward: true, preDNAT: false, namespace: '' },
    });
    expect(convert(gnp({}, 'StagedGlobalNetworkPolicy')).value).toMatchObject({ id: 'sgnp/g', staged: { action: 'Set' } });
    expect(convert(np({ stagedAction: 'Delete' }, 'prod')).value!.staged).toBeUndefined();
    const snp = { ...np({ stagedAction: 'Delete' }), kind: 'StagedNetworkPolicy' } as Resource;
    expect(convert(snp).value).toMatchObject({ id: 'snp/prod/p', staged: { action: 'Delete' } });
    expect('order' in convert(gnp({})).value!).toBe(false);
  });

  it.each([
    [{}, ['Ingress']],
    [{ ingress: [{ action: 'Allow' }] }, ['Ingress']],
    [{ egress: [{ action: 'Allow' }] }, ['Egress']],
    [{ ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] }, ['Ingress', 'Egress']],
    [{ types: ['Egress', 'Ingress'] }, ['Ingress', 'Egress']],
  ])('types defaulting %j → %j', (spec, types) => {
    expect(convert(gnp(spec)).value!.types).toEqual(types);
  });

  it('converts protocols, ports, ICMP, ipVersion and CIDRs', () => {
    const p = convert(
      gnp({
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { nets: ['10.1.2.3', 'FD00::/8'], ports: [80, '8000:8080', 'http', '443'] } },
          { action: 'Deny', protocol: 'ICMP', icmp: { type: 8, code: 0 }, notICMP: { type: 3 } },
          { action: 'Pass', protocol: 'ICMPv6' },
          { action: 'Log', protocol: 'UDP', ipVersion: 6, notProtocol: 132 },
        ],
      }),
    ).value!;
    expect(p.ingress).toEqual([
      {
        action: 'Allow',
        protocol: { number: 6, text: 'TCP' },
        source: {
          nets: ['10.1.2.3/32', 'fd00::/8'],
          ports: [
            { kind: 'range', min: 80, max: 80 },
            { kind: 'range', min: 8000, max: 8080 },
            { kind: 'named', name: 'http' },
            { kind: 'range', min: 443, max: 443 },
          ],
        },
        destination: {},
      },
      { action: 'Deny', ipVersion: 4, protocol: { number: 1, text: 'ICMP' }, icmp: { type: 8, code: 0 }, notICMP: { type: 3 }, source: {}, destination: {} },
      { action: 'Pass', ipVersion: 6, protocol: { number: 58, text: 'ICMPv6' }, source: {}, destination: {} },
      { action: 'Log', ipVersion: 6, protocol: { number: 17, text: 'UDP' }, notProtocol: { number: 132, text: '132' }, source: {}, destination: {} },
    ]);
  });

  it('drops an unconvertible rule with a warning and keeps the others', () => {
    const c = convert(gnp({ ingress: [{ action: 'Allow', source: { nets: ['bogus'] } }, { action: 'Deny' }] }));
    expect(c.value!.ingress).toEqual([{ action: 'Deny', source: {}, destination: {} }]);
    expect(c.issues).toMatchObject([{ severity: 'warning', code: 'rule-dropped', path: 'spec.ingress[0].source.nets[0]', kind: 'GlobalNetworkPolicy', name: 'g' }]);
  });

  it('skips a policy whose selector does not parse, with an error', () => {
    const c = convert(gnp({ selector: 'app ==' }));
    expect(c.value).toBeUndefined();
    expect(c.issues[0]).toMatchObject({ severity: 'error', code: 'invalid-selector' });
  });

  it('warns that HTTP matches are not evaluated', () => {
    const c = convert(gnp({ ingress: [{ action: 'Allow', http: { methods: ['GET'] } }] }));
    expect(c.issues).toMatchObject([{ code: 'http-match-ignored' }]);
    expect(c.value!.ingress).toHaveLength(1);
  });

  it('keeps rule names from the rule metadata annotation', () => {
    const c = convert(gnp({ ingress: [{ action: 'Allow', metadata: { annotations: { name: 'web' } } }] }));
    expect(c.value!.ingress[0]!.name).toBe('web');
  });
});

describe('rule namespaceSelector rewriting', () => {
  it('rewrites all() and global() in the selector, never inside a string literal', () => {
    expect(namespaceSelectorForRule('all()')).toBe('has(projectcalico.org/namespace)');
    expect(namespaceSelectorForRule('global()')).toBe('!has(projectcalico.org/namespace)');
    expect(namespaceSelectorForRule("team == 'all()'")).toBe('pcns.team == "all()"');
    expect(namespaceSelectorForRule("!(env == 'dev') && all()")).toBe(
      '(!pcns.env == "dev" && has(projectcalico.org/namespace))',
    );
  });
});

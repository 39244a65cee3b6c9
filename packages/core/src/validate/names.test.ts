import { describe, expect, it } from 'vitest';
import {
  checkGlobalNetworkPolicyName,
  checkInterfaceName,
  checkLabelValue,
  checkNetworkPolicyName,
  checkPortName,
  checkQualifiedName,
  checkSubdomainName,
  checkTierName,
} from './names.js';

const ok = (problems: string[]): boolean => problems.length === 0;

describe('resource names are DNS-1123 subdomains', () => {
  it.each([
    ['a', true],
    ['my-name.example', true],
    ['a'.repeat(253), true],
    ['a'.repeat(254), false],
    ['My-Name', false],
    ['-lead', false],
    ['trail-', false],
    ['a..b', false],
    ['under_score', false],
    ['', false],
  ])('%j valid=%s', (name, valid) => {
    expect(ok(checkSubdomainName(name))).toBe(valid);
  });

  it('says how many bytes too long a name is', () => {
    expect(checkSubdomainName('a'.repeat(256))).toContain('name is too long by 3 bytes (at most 253)');
  });
});

describe('tier names are a single label of at most 63 characters', () => {
  it.each([
    ['security', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['sec.urity', false],
    ['Security', false],
  ])('%j valid=%s', (name, valid) => {
    expect(ok(checkTierName(name))).toBe(valid);
  });
});

describe('Calico policy names', () => {
  it.each([
    ['thing', true],
    ['th.ing', true],
    ['t.h.i.ng', false],
    ['knp.default.my.policy', true],
    ['ossg.default.x', true],
    ['tHiNg', false],
    ['t~!s.h.i.ng', false],
  ])('NetworkPolicy %j valid=%s', (name, valid) => {
    expect(ok(checkNetworkPolicyName(name))).toBe(valid);
  });

  it.each([
    ['thing', true],
    ['th.ing', true],
    ['t.h.i.ng', false],
    ['knp.default.thing', false],
    ['tHiNg', false],
    ['t~!s.h.i.ng', false],
  ])('GlobalNetworkPolicy %j valid=%s', (name, valid) => {
    expect(ok(checkGlobalNetworkPolicyName(name))).toBe(valid);
  });
});

describe('label keys are qualified names and values are label values', () => {
  it.each([
    ['app', true],
    ['MyLabel', true],
    ['example.com/MyName', true],
    ['Example.com/name', false],
    ['/name', false],
    ['a/b/c', false],
    ['.mylabel', false],
    ['my!nvalid-label', false],
    [`${'a'.repeat(63)}`, true],
    [`${'a'.repeat(64)}`, false],
  ])('key %j valid=%s', (key, valid) => {
    expect(ok(checkQualifiedName(key))).toBe(valid);
  });

  it.each([
    ['', true],
    ['v1.2_x-y', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['my-invalid-label$', false],
    ['-x', false],
  ])('value %j valid=%s', (value, valid) => {
    expect(ok(checkLabelValue(value))).toBe(valid);
  });
});

describe('endpoint port names follow the IANA service-name rule', () => {
  it.each([
    ['http', true],
    ['web-8080', true],
    ['a'.repeat(15), true],
    ['a'.repeat(16), false],
    ['HTTP', false],
    ['8080', false],
    ['a--b', false],
    ['-a', false],
    ['', false],
  ])('%j valid=%s', (name, valid) => {
    expect(ok(checkPortName(name))).toBe(valid);
  });
});

describe('interface names', () => {
  it.each([
    ['eth0', false, true],
    ['a_b.c-d', false, true],
    ['a'.repeat(15), false, true],
    ['a'.repeat(16), false, false],
    ['*', true, true],
    ['*', false, false],
    ['eth 0', false, false],
  ])('%j (wildcard allowed: %s) valid=%s', (name, wildcard, valid) => {
    expect(ok(checkInterfaceName(name, wildcard))).toBe(valid);
  });
});

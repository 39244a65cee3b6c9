import { describe, expect, it } from 'vitest';
import { parseCalicoPort, parseCalicoProtocol, protocolSupportsPorts } from './protocol.js';

describe('Calico rule protocols', () => {
  it.each([
    ['TCP', 6],
    ['UDP', 17],
    ['ICMP', 1],
    ['ICMPv6', 58],
    ['SCTP', 132],
    ['UDPLite', 136],
    [1, 1],
    [255, 255],
    ['6', 6],
  ])('%j is protocol %i', (value, n) => {
    expect(parseCalicoProtocol(value)).toEqual({ ok: true, number: n });
  });

  it.each([
    [0, 'protocol number invalid'],
    [256, 'protocol number invalid'],
    [-1, 'protocol number invalid'],
    [6.5, 'protocol number invalid'],
    ['0', 'protocol number invalid'],
    ['tcp', 'did you mean TCP?'],
    ['icmpv6', 'did you mean ICMPv6?'],
    ['GRE', 'protocol name invalid'],
  ])('%j is rejected (%s)', (value, message) => {
    const p = parseCalicoProtocol(value);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.message).toContain(message);
  });

  it('only TCP, UDP and SCTP carry ports', () => {
    expect([1, 6, 17, 58, 132, 136].filter(protocolSupportsPorts)).toEqual([6, 17, 132]);
  });
});

describe('Calico rule ports', () => {
  it.each([
    [80, { kind: 'range', min: 80, max: 80 }],
    ['80', { kind: 'range', min: 80, max: 80 }],
    ['1:65535', { kind: 'range', min: 1, max: 65535 }],
    ['http', { kind: 'named', name: 'http' }],
    ['My_port.1-x', { kind: 'named', name: 'My_port.1-x' }],
  ])('%j parses', (value, port) => {
    expect(parseCalicoPort(value)).toEqual({ ok: true, port });
  });

  it.each([
    [0, 'port range invalid, port number must be between 1 and 65535'],
    [65536, 'port range invalid, port number must be between 1 and 65535'],
    ['70000', 'invalid port format (70000)'],
    ['90:80', 'minimum port number (90) is greater than maximum port number (80) in port range'],
    ['0:80', 'port range invalid, port number must be between 1 and 65535'],
    ['1:70000', 'invalid maximum port number in range (1:70000)'],
    ['http!', 'invalid name for named port (http!)'],
    ['a'.repeat(129), 'invalid name for named port'],
  ])('%j is rejected: %s', (value, message) => {
    const p = parseCalicoPort(value);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.message).toContain(message);
  });
});

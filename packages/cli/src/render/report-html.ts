/**
 * A compliance report as one self-contained HTML page for an auditor: the scope and the time
 * of the flow logs, the summary counts, the namespaces and one row per endpoint (protection,
 * applied policies, exposure with the witness flow behind each "yes", the peers seen). Plain
 * markup and inline CSS: nothing is loaded from anywhere, and it prints as it shows.
 */
import type { ComplianceReport, EndpointCompliance, Flow } from '@gingham/core';
import { escapeXml, formatCount, formatTime } from './markup.js';

const STYLE = `
body{font:14px system-ui,sans-serif;color:#24292f;margin:24px;max-width:1400px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.yes{color:#1a7f37;font-weight:600}.no{color:#cf222e;font-weight:600}.warn{color:#9a6700;font-weight:600}
.muted{color:#57606a}code{font-size:12px}.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:170px}.card b{font-size:22px;display:block}
`;

const flowText = (f: Flow): string => {
  const l4 = f.dstPort !== undefined ? ` ${String(f.protocol)} ${f.dstPort}` : f.icmp ? ` ${String(f.protocol)} type ${f.icmp.type}` : ` ${String(f.protocol)}`;
  return `${f.src} → ${f.dst}${l4}`;
};

function protectedCell(ok: boolean): string {
  return ok ? '<span class="yes">yes</span>' : '<span class="no">no</span>';
}

function exposedCell(open: boolean | undefined, witness: Flow | undefined): string {
  if (open === undefined) return '';
  return open ? `<span class="warn">yes</span><br><code class="muted">${escapeXml(witness ? flowText(witness) : '')}</code>` : '<span class="muted">no</span>';
}

function peersCell(peers: EndpointCompliance['trafficFrom']): string {
  if (!peers) return '';
  if (peers.length === 0) return '<span class="muted">none seen</span>';
  return peers
    .slice(0, 12)
    .map((p) => `${escapeXml(p.peer)} <span class="muted">${formatCount(p.allowed)} allowed${p.denied ? `, <span class="no">${formatCount(p.denied)} denied</span>` : ''}</span>`)
    .join('<br>')
    .concat(peers.length > 12 ? `<br><span class="muted">… ${peers.length - 12} more</span>` : '');
}

/** The report as an HTML page. */
export function renderReportHtml(report: ComplianceReport, generatedAt: Date): string {
  const s = report.summary;
  const access = report.type === 'network-access';
  const card = (label: string, value: number, of?: number): string => `<div class="card">${escapeXml(label)}<b>${formatCount(value)}${of !== undefined ? `<span class="muted"> / ${formatCount(of)}</span>` : ''}</b></div>`;
  const cards = [
    card('endpoints in scope', s.endpointsNumInScope),
    card('ingress protected', s.endpointsNumIngressProtected, s.endpointsNumInScope),
    card('egress protected', s.endpointsNumEgressProtected, s.endpointsNumInScope),
    card('namespaces fully protected (ingress)', s.namespacesNumIngressProtected, s.namespacesNumInScope),
    ...(access
      ? [
          card('reachable from the internet', s.endpointsNumIngressFromInternet ?? 0, s.endpointsNumInScope),
          card('reach the internet', s.endpointsNumEgressToInternet ?? 0, s.endpointsNumInScope),
          card('reachable from other namespaces', s.endpointsNumIngressFromOtherNamespace ?? 0, s.endpointsNumInScope),
        ]
      : []),
  ];
  const scope = [
    report.scope.namespaces ? `namespaces ${report.scope.namespaces.join(', ')}` : 'every namespace and host endpoint',
    report.scope.selector !== undefined ? `endpoints matching ${report.scope.selector}` : '',
  ].filter(Boolean).join('; ');
  const flows = report.flows ? `flow logs: ${formatCount(report.flows.records)} records${report.flows.records > 0 ? ` from ${formatTime(report.flows.start)} to ${formatTime(report.flows.end)}` : ''}` : 'no flow logs given: the traffic columns are left out';
  const head = ['endpoint', 'kind', 'ingress protected', 'egress protected', 'policies (ingress / egress)', 'profiles'];
  if (access) head.push('from internet', 'to internet', 'from other namespaces', 'to other namespaces');
  if (report.flows) head.push('traffic from', 'traffic to');
  const rows = report.endpoints.map((e) => {
    const cells = [
      `<b>${escapeXml(e.endpoint)}</b><br><span class="muted">node ${escapeXml(e.node)}${e.serviceAccount ? `, account ${escapeXml(e.serviceAccount)}` : ''}</span>`,
      e.kind,
      protectedCell(e.ingressProtected),
      protectedCell(e.egressProtected),
      `${e.appliedPolicies.ingress.map(escapeXml).join('<br>') || '<span class="muted">none</span>'}<hr>${e.appliedPolicies.egress.map(escapeXml).join('<br>') || '<span class="muted">none</span>'}`,
      e.profiles.map(escapeXml).join('<br>'),
    ];
    if (access) {
      cells.push(
        exposedCell(e.ingressFromInternet, e.witnesses?.ingressFromInternet),
        exposedCell(e.egressToInternet, e.witnesses?.egressToInternet),
        exposedCell(e.ingressFromOtherNamespace, e.witnesses?.ingressFromOtherNamespace),
        exposedCell(e.egressToOtherNamespace, e.witnesses?.egressToOtherNamespace),
      );
    }
    if (report.flows) cells.push(peersCell(e.trafficFrom), peersCell(e.trafficTo));
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  const nsRows = report.namespaces.map((n) => `<tr><td>${escapeXml(n.namespace)}</td><td>${n.endpoints}</td><td>${protectedCell(n.ingressProtected)}</td><td>${protectedCell(n.egressProtected)}</td></tr>`);
  const title = `Gingham ${report.type} report`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeXml(title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeXml(title)}</h1>
<p class="muted">Generated ${escapeXml(generatedAt.toISOString().slice(0, 19).replace('T', ' '))} UTC. Scope: ${escapeXml(scope)}. ${escapeXml(flows)}.</p>
<p class="muted">Protected: at least one enforced policy of that direction applies (profiles do not count). ${
    access
      ? 'Exposure is exact over every address, protocol and port, by the endpoints’ own policies; each “yes” shows a flow that is allowed today. Internet: any address outside 10/8, 172.16/12 and 192.168/16. Other namespaces: pods of another namespace (for a host endpoint: any pod not on its node).'
      : ''
  }</p>
<div class="cards">${cards.join('')}</div>
<h2>Namespaces</h2>
<table><tr><th>namespace</th><th>endpoints</th><th>ingress protected</th><th>egress protected</th></tr>${nsRows.join('') || '<tr><td colspan="4" class="muted">none in scope</td></tr>'}</table>
<h2>Endpoints</h2>
<table><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>${rows.join('\n') || `<tr><td colspan="${head.length}" class="muted">none in scope</td></tr>`}</table>
</body></html>
`;
}

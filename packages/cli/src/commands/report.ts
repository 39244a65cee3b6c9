/**
 * `gingham report inventory|network-access`: Calico Enterprise's compliance reports computed
 * offline from manifests (and flow logs): per endpoint, whether policy governs its ingress and
 * egress, which policies apply, and for network access its exposure to the internet and to other
 * namespaces (exact, with a witness flow) and the peers seen. Text for people, HTML for an
 * auditor, JSON for machines.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { complianceReport, createServiceGraph, GinghamError, type ComplianceReport, type ComplianceReportType, type Flow } from '@gingham/core';
import { readFlowRecords, renderBadRecords } from '../flow-records.js';
import { UsageError, type CliIo } from '../io.js';
import { loadModel, renderIssues } from '../manifests.js';
import { renderReportHtml } from '../render/report-html.js';
import { renderTable } from '../table.js';
import { escapeText } from '../term.js';

export const reportHelp = `gingham report inventory|network-access -f PATH... [--flows FILE...] [-o report.html|report.json]
               [--namespace NS]... [--selector SEL] [--json]

Compliance reports as Calico Enterprise defines them, computed from the manifests:

  inventory        per endpoint (pods and host endpoints): whether its ingress and its egress
                   are protected (an enforced policy of that direction applies; profiles do not
                   count), the policies that apply, per namespace whether all of it is protected
  network-access   the inventory, plus whether each endpoint can be reached from the internet
                   (any address outside 10/8, 172.16/12, 192.168/16) or from pods of other
                   namespaces, and reach them: exact over every address, protocol and port,
                   each "yes" with a flow that is allowed today; with --flows, the peers the
                   flow logs saw sending to and receiving from each endpoint

  -f PATH          the cluster's manifests (repeatable)
  --flows FILE     flow records (repeatable; - for standard input)
  --namespace NS   only endpoints of these namespaces (repeatable)
  --selector SEL   only endpoints whose labels match (e.g. "app == 'db'")
  -o FILE          report.html: a page for an auditor; report.json: the report as data
                   (the summary still goes to standard output)
  --json           the report as JSON on standard output

Exit codes: 0 reported, 1 manifests or records with errors, 2 usage.`;

const yesNo = (b: boolean | undefined): string => (b === undefined ? '' : b ? 'yes' : 'no');

function flowText(f: Flow | undefined): string {
  if (!f) return '';
  const l4 = f.dstPort !== undefined ? `${String(f.protocol)} ${f.dstPort}` : f.icmp ? `${String(f.protocol)} type ${f.icmp.type}` : String(f.protocol);
  return `${f.src} -> ${f.dst} ${l4}`;
}

function summaryText(r: ComplianceReport): string {
  const s = r.summary;
  const access = r.type === 'network-access';
  const lines = [
    `${r.type} report: ${s.endpointsNumInScope} endpoint(s) in ${s.namespacesNumInScope} namespace(s)`,
    `  ingress protected: ${s.endpointsNumIngressProtected}/${s.endpointsNumInScope} endpoints, ${s.namespacesNumIngressProtected}/${s.namespacesNumInScope} namespaces`,
    `  egress protected:  ${s.endpointsNumEgressProtected}/${s.endpointsNumInScope} endpoints, ${s.namespacesNumEgressProtected}/${s.namespacesNumInScope} namespaces`,
  ];
  if (access) {
    lines.push(
      `  reachable from the internet: ${s.endpointsNumIngressFromInternet}, reach the internet: ${s.endpointsNumEgressToInternet}`,
      `  reachable from other namespaces: ${s.endpointsNumIngressFromOtherNamespace}, reach other namespaces: ${s.endpointsNumEgressToOtherNamespace}`,
    );
  }
  if (r.flows) lines.push(`  flow logs: ${r.flows.records} record(s)`);
  if (r.endpoints.length === 0) return [...lines, '', 'no endpoint in scope (check --namespace and --selector)'].join('\n');
  const head = ['ENDPOINT', 'INGRESS', 'EGRESS', 'POLICIES'];
  if (access) head.push('FROM-INTERNET', 'TO-INTERNET', 'FROM-OTHER-NS', 'TO-OTHER-NS');
  if (r.flows) head.push('SEEN-FROM');
  const rows = r.endpoints.map((e) => {
    const row = [escapeText(e.endpoint), e.ingressProtected ? 'protected' : 'UNPROTECTED', e.egressProtected ? 'protected' : 'UNPROTECTED', String(new Set([...e.appliedPolicies.ingress, ...e.appliedPolicies.egress]).size)];
    if (access) row.push(yesNo(e.ingressFromInternet), yesNo(e.egressToInternet), yesNo(e.ingressFromOtherNamespace), yesNo(e.egressToOtherNamespace));
    if (r.flows) row.push(String(e.trafficFrom?.length ?? 0));
    return row;
  });
  lines.push('', renderTable([head, ...rows]));
  const exposed = r.endpoints.filter((e) => e.ingressFromInternet);
  if (exposed.length > 0) {
    lines.push('', 'reachable from the internet, for example:');
    for (const e of exposed.slice(0, 10)) lines.push(`  ${escapeText(e.endpoint)}: ${escapeText(flowText(e.witnesses?.ingressFromInternet))}`);
  }
  const unprotected = r.endpoints.filter((e) => !e.ingressProtected || !e.egressProtected).length;
  if (unprotected > 0) lines.push('', `next: ${unprotected} endpoint(s) rely on profiles alone in some direction; gingham recommend --flows … proposes namespace policies from observed traffic`);
  return lines.join('\n');
}

export async function reportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      flows: { type: 'string', multiple: true },
      namespace: { type: 'string', multiple: true },
      selector: { type: 'string' },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [kind, ...extra] = positionals;
  if (kind !== 'inventory' && kind !== 'network-access') throw new UsageError(kind === undefined ? 'say which report: gingham report inventory or gingham report network-access' : `unknown report "${escapeText(kind)}": inventory or network-access`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${escapeText(extra[0]!)}"`);
  const type: ComplianceReportType = kind;
  if ((values.file ?? []).length === 0) throw new UsageError('-f PATH is required (the manifests to report on)');
  const flows = values.flows ?? [];
  if (flows.filter((f) => f === '-').length > 1) throw new UsageError('standard input can be read once: give --flows - at most once');
  const format = values.output === undefined ? undefined : /\.html?$/i.test(values.output) ? 'html' : /\.json$/i.test(values.output) ? 'json' : undefined;
  if (values.output !== undefined && format === undefined) throw new UsageError('-o must name a .html or .json file');
  const model = await loadModel(values.file ?? [], io);
  if (!model.ok) {
    io.stderr(renderIssues(model.issues));
    io.stderr('refusing to report on manifests with errors (fix them, or check with gingham lint)');
    return 1;
  }
  let graph;
  let read;
  if (flows.length > 0) {
    const builder = createServiceGraph({ snapshot: model.snapshot, maxFlowsPerEdge: 0 });
    read = await readFlowRecords(flows, values.file ?? [], io, (r) => builder.add(r));
    graph = builder.result();
  }
  let report: ComplianceReport;
  try {
    report = complianceReport(model.snapshot, { type, ...(values.namespace ? { namespaces: values.namespace } : {}), ...(values.selector !== undefined ? { selector: values.selector } : {}), ...(graph ? { graph } : {}) });
  } catch (e) {
    if (e instanceof GinghamError && e.code === 'INVALID_QUERY') throw new UsageError(`--selector: ${e.message}`);
    throw e;
  }
  if (values.json) io.stdout(JSON.stringify(report, null, 2));
  else io.stdout(summaryText(report));
  if (values.output !== undefined) {
    const text = format === 'html' ? renderReportHtml(report, new Date()) : `${JSON.stringify(report, null, 2)}\n`;
    await writeFile(values.output, text);
    if (!values.json) io.stdout(`wrote ${escapeText(values.output)}${format === 'html' ? ': open it in a browser, or print it for the auditor' : ''}`);
  }
  if (read && read.bad.length > 0) {
    io.stderr(renderBadRecords(read));
    io.stderr(`gingham report: ${read.bad.length + read.moreBad} bad record(s) were left out (see above)`);
    return 1;
  }
  return 0;
}

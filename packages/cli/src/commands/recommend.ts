/**
 * `gingham recommend`: per namespace, a StagedNetworkPolicy in the `namespace-isolation` tier
 * allowing exactly the traffic classes the flow records show reaching only a profile today (as
 * Calico Enterprise's recommender groups them), ready to apply; rerun with the earlier output in
 * -f, the rules grow and the status moves Learning → Stabilizing → Stable. Before printing, the
 * recommendation is checked against the records it came from: if enforcing it would deny an
 * observed allowed flow, the command says which and exits 1. Records stream; only distinct
 * allowed flow keys are kept for the check.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { stringify as stringifyYaml } from 'yaml';
import { createRecommender, parseRfc3339, recommendationClosure, verifyRecommendation, type FlowRecord, type RecommendResult, type RecommendationCheck, type RecommendationClosure } from '@gingham/core';
import { readFlowRecords, renderBadRecords } from '../flow-records.js';
import { UsageError, type CliIo } from '../io.js';
import { loadModel, renderIssues } from '../manifests.js';
import { escapeText } from '../term.js';

export const recommendHelp = `gingham recommend --flows FILE... -f PATH... [--namespace NS]... [-o FILE] [--json]
                  [--staged-action Learn|Set] [--now TIME] [--interval 2m30s] [--stabilization 10m]
                  [--pass-intra-namespace]

Recommends, for each namespace, a StagedNetworkPolicy in the namespace-isolation tier that
allows exactly the traffic the flow records show reaching only a profile today (nothing else
protects it), grouped as Calico Enterprise's recommender groups it: per peer namespace and
protocol with the ports merged, per network set, then the private (RFC 1918) and public
networks. Everything else from and to the namespace's pods would be denied. The tier (created
when the manifests lack it) sits after every other tier, so what policies decide today is left
alone. The output is YAML ready to apply (gingham apply -f, kubectl, calicoctl).

The summary (standard error) says how much traffic that no record shows the recommendations
would close, measured exactly as gingham diff measures a change, grouped by peers and ports.

Rerun on newer records with the earlier output in -f: rules only grow, and the status
annotation moves Learning (rules changed) → Stabilizing (unchanged for more than twice
--interval) → Stable (unchanged for more than --stabilization), as Calico's does.

  --flows FILE        flow records (repeatable; - for standard input)
  -f PATH             the cluster's manifests, with earlier recommendations (repeatable)
  --namespace NS      only these namespaces (repeatable; default all but kube-*, calico-*,
                      tigera-*, openshift-*)
  --staged-action A   Learn (default, as Calico: previews nothing until activated) or Set
                      (staged: gingham preview and gingham diff --staged show its effect)
  --now TIME          when the run happens (RFC 3339 or unix seconds; default: the end of the
                      newest record)
  --interval D, --stabilization D   Calico's periods (defaults 2m30s and 10m)
  --pass-intra-namespace            traffic within a namespace Passes to the next tier
  --no-closure        skip measuring what the recommendations close (an exact diff of the
                      whole cluster: seconds on small clusters, long on thousands of pods)
  -o FILE             write the YAML there (default: standard output); the summary goes to
                      standard error
  --json              the full result and the check, as JSON

Exit codes: 0 recommended, 1 manifests or records with errors, or the recommendation would
deny an observed flow (it is then not printed), 2 usage.`;

/** `150`, `150s`, `2m30s`, `10m`, `1h` → seconds. */
export function parseDuration(text: string, flag: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t);
  if (!m || t === '') throw new UsageError(`${flag}: "${escapeText(text)}" is not a duration (e.g. 150s, 2m30s, 10m, 1h)`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

function parseNow(text: string): number {
  if (/^\d+$/.test(text.trim())) return Number(text.trim());
  const t = parseRfc3339(text);
  if (t === undefined) throw new UsageError(`--now: "${escapeText(text)}" is not an RFC 3339 time (2025-12-07T10:00:00Z) or unix seconds`);
  return t;
}

function summary(result: RecommendResult, check: RecommendationCheck): string {
  const lines: string[] = [];
  const r = result.records;
  lines.push(`${r.total} record(s): ${r.used} unprotected allowed flow record(s) used, ${r.protected} decided by policies, ${r.denied} denied, ${r.outOfScope} out of scope, ${r.unsupported} not usable`);
  if (result.recommendations.length === 0) lines.push('nothing to recommend: no namespace in scope has traffic that only a profile allows');
  for (const rec of result.recommendations) {
    const spec = rec.policy.spec!;
    lines.push(`  ${escapeText(rec.namespace)}: ${rec.status}${rec.changed ? ' (rules changed)' : ''}, ${spec.egress?.length ?? 0} egress and ${spec.ingress?.length ?? 0} ingress rule(s) from ${rec.flows.egress + rec.flows.ingress} record(s)  [${escapeText(rec.policy.metadata.name)}]`);
  }
  if (result.notLearning.length > 0) lines.push(`left alone (activated or dismissed, not Learn): ${result.notLearning.map(escapeText).join(', ')}`);
  if (result.tier) lines.push(`the ${escapeText(result.tier.metadata.name)} tier is new: it is in the output, after every other tier`);
  lines.push(`check: enforced, the recommendations keep all ${check.kept} of ${check.observed} observed allowed flow(s)`);
  return lines.join('\n');
}

function closureSummary(closure: RecommendationClosure): string {
  const lines = [`closes: ${closure.closed} set(s) of flows no record shows (${closure.closedPairs} peer pair(s); exact, by gingham diff)${closure.opened > 0 ? `, opens ${closure.opened}` : ''}`];
  for (const g of closure.groups.slice(0, 8)) lines.push(`  ${escapeText(g.from)} -> ${escapeText(g.to)}  ${escapeText(`${g.protocol}${g.ports ? ` ${g.ports}` : ''}`)}  (${g.pairs} pair(s))`);
  if (closure.groups.length > 8) lines.push(`  … and ${closure.groups.length - 8} more group(s) (--json lists them)`);
  return lines.join('\n');
}

export async function recommendCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      flows: { type: 'string', multiple: true },
      namespace: { type: 'string', short: 'n', multiple: true },
      'staged-action': { type: 'string' },
      now: { type: 'string' },
      interval: { type: 'string' },
      stabilization: { type: 'string' },
      'pass-intra-namespace': { type: 'boolean' },
      'no-closure': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const flows = values.flows ?? [];
  if (flows.length === 0) throw new UsageError('--flows FILE is required (flow records, JSON lines)');
  if (flows.filter((f) => f === '-').length > 1) throw new UsageError('standard input can be read once: give --flows - at most once');
  const stagedAction = values['staged-action'] ?? 'Learn';
  if (stagedAction !== 'Learn' && stagedAction !== 'Set') throw new UsageError(`--staged-action must be Learn or Set, not "${escapeText(stagedAction)}"`);
  const now = values.now === undefined ? undefined : parseNow(values.now);
  const interval = values.interval === undefined ? undefined : parseDuration(values.interval, '--interval');
  const stabilization = values.stabilization === undefined ? undefined : parseDuration(values.stabilization, '--stabilization');

  const model = await loadModel(values.file ?? [], io);
  if (!model.ok) {
    io.stderr(renderIssues(model.issues));
    io.stderr('refusing to recommend from manifests with errors (fix them, or check with gingham lint)');
    return 1;
  }
  const recommender = createRecommender({
    snapshot: model.snapshot,
    previous: model.resources,
    stagedAction,
    ...(now !== undefined ? { now } : {}),
    ...(interval !== undefined ? { interval } : {}),
    ...(stabilization !== undefined ? { stabilization } : {}),
    ...(values.namespace ? { namespaces: values.namespace } : {}),
    ...(values['pass-intra-namespace'] ? { passIntraNamespace: true } : {}),
  });
  // For the check: one record per distinct allowed flow key.
  const distinct = new Map<string, FlowRecord>();
  const read = await readFlowRecords(flows, values.file ?? [], io, (record) => {
    recommender.add(record);
    if (record.action !== 'allow') return;
    const key = [record.reporter, record.source_type, record.source_namespace, record.source_name, record.dest_type, record.dest_namespace, record.dest_name, record.proto, record.dest_port].join('|');
    if (!distinct.has(key)) distinct.set(key, record);
  });
  if (read.bad.length > 0) {
    io.stderr(renderBadRecords(read));
    io.stderr(`gingham recommend: ${read.bad.length + read.moreBad} bad record(s); refusing to recommend from part of the traffic (fix or remove them)`);
    return 1;
  }
  const result = recommender.result();
  const check = verifyRecommendation(model.snapshot, result, distinct.values());
  const wantClosure = check.broken.length === 0 && result.recommendations.length > 0 && !values['no-closure'];
  if (values.json) {
    const closure = wantClosure ? recommendationClosure(model.snapshot, result) : undefined;
    io.stdout(JSON.stringify({ ...result, check: { observed: check.observed, kept: check.kept, broken: check.broken }, ...(closure ? { closure } : {}) }, null, 2));
  }
  if (check.broken.length > 0) {
    io.stderr(`gingham recommend: enforced, the recommendation would deny ${check.broken.length} observed allowed flow(s):`);
    for (const r of check.broken.slice(0, 10)) io.stderr(`  ${escapeText(`${r.source_namespace}/${r.source_name} -> ${r.dest_namespace}/${r.dest_name} ${r.proto} ${r.dest_port} (${r.reporter})`)}`);
    io.stderr('this happens when the namespace-isolation tier already exists before tiers that allow these flows; not printed');
    return 1;
  }
  if (!values.json) {
    const docs = [...(result.tier ? [result.tier] : []), ...result.recommendations.map((r) => r.policy)];
    const yaml = docs.map((d) => stringifyYaml(d).trimEnd()).join('\n---\n');
    // The policies and the check first: the closure is a whole-cluster diff (minutes on a large
    // cluster), and a person can act on what is already printed while it runs.
    if (values.output !== undefined) {
      if (docs.length > 0) await writeFile(values.output, `${yaml}\n`);
      io.stderr(summary(result, check));
      io.stderr(docs.length > 0 ? `wrote ${docs.length} resource(s) to ${escapeText(values.output)}; next: gingham preview -f ... -f ${escapeText(values.output)} (with --staged-action Set), then apply` : 'nothing written');
    } else {
      if (docs.length > 0) io.stdout(yaml);
      io.stderr(summary(result, check));
    }
    if (wantClosure) {
      io.stderr('measuring what the recommendations close that no record shows (an exact whole-cluster diff; --no-closure skips it) ...');
      io.stderr(closureSummary(recommendationClosure(model.snapshot, result)));
    }
  }
  return 0;
}

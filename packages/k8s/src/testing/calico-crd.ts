/**
 * The inverse of reading Calico's CRDs: a `projectcalico.org/v3` resource as Calico stores it in
 * the Kubernetes datastore (`crd.projectcalico.org/v1`, libcalico-go's
 * `ConvertCalicoResourceToK8sResource`), so tests can put what Calico would have written.
 * Test code.
 */
import type { Resource } from '@gingham/core';
import { CALICO_METADATA_ANNOTATION, TIERED_POLICY_KINDS } from '../reduce/calico-crd.js';

export interface CalicoCrdStyle {
  /**
   * How a tiered policy's name is stored: `annotation` (default) keeps the v3 name in the
   * `projectcalico.org/metadata` annotation and names the CR `<tier>.<name>`; `legacy` names a
   * default-tier policy `default.<name>` with no annotation, as older Calico releases did.
   */
  readonly policyNames?: 'annotation' | 'legacy';
}

export function calicoCrdObject(resource: Resource, style: CalicoCrdStyle = {}): Record<string, unknown> {
  const meta: Record<string, unknown> = { ...resource.metadata };
  if (TIERED_POLICY_KINDS.has(resource.kind)) {
    const tier = ((resource.spec ?? {}) as { tier?: string }).tier || 'default';
    const name = resource.metadata.name;
    const prefixed = name.startsWith(`${tier}.`) ? name : `${tier}.${name}`;
    if (style.policyNames === 'legacy' && tier === 'default') {
      meta['name'] = prefixed;
    } else {
      meta['name'] = prefixed;
      meta['annotations'] = { ...(resource.metadata.annotations ?? {}), [CALICO_METADATA_ANNOTATION]: JSON.stringify({ name, creationTimestamp: null }) };
    }
  }
  return { apiVersion: 'crd.projectcalico.org/v1', kind: resource.kind, metadata: meta, spec: resource.spec ?? {} };
}

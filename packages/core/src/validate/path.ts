/**
 * Field paths: where in a resource something is, as segments (`['spec', 'ingress', 0]`) and as
 * the text issues show (`spec.ingress[0]`). Keys that are not plain identifiers are quoted
 * (`metadata.labels["app.kubernetes.io/name"]`) so a path is never ambiguous.
 */

export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `['spec', 'ingress', 0, 'source', 'nets', 1]` → `spec.ingress[0].source.nets[1]`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

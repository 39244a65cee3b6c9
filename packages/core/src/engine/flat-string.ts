/**
 * `flatString`: the same text as one flat string. Strings built by concatenation (`${ns}/${name}`,
 * `${ip}/32`) are rope nodes in V8; once hashed as a Map key they are flattened *and* keep the
 * rope node, so a long-lived copy costs about twice the flat text. The Engine keeps one such
 * string per endpoint (its id, its address), so it stores the flat form. Never changes the text.
 */
export function flatString(s: string): string {
  // `normalize()` hands back V8's flattened string; strings that normalisation would change
  // (never the case for Kubernetes names or canonical CIDRs) are kept as they are.
  const flat = s.normalize();
  return flat === s ? flat : s;
}

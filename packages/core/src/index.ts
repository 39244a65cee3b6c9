/**
 * @gingham/core: the pure policy core. No I/O, no `node:` imports, no clocks, no randomness.
 * Everything public is exported here and only here.
 */
export { GinghamError } from './errors.js';
export type * from './model/types.js';
export type * from './model/resources.js';
export type { Issue } from './model/issues.js';
export { formatIssue } from './model/issues.js';
export { base64UrlNoPad, makeUniqueId, sha1, sha224, sha256, toHex } from './hash/index.js';

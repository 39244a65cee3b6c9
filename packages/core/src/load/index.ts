/**
 * Loading manifests: paths to bounded, strictly decoded texts (with caller-supplied file-system
 * calls), then text to resources: YAML (multi-document) and JSON, `List` kinds, limits against
 * hostile input, validation with file:line:col positions.
 */
export { loadManifests, type LoadInput, type LoadedResource, type LoadResult } from './load-manifests.js';
export { DEFAULT_LIMITS, type LoadOptions } from './limits.js';
export {
  readManifestPaths,
  describeRefusal,
  MANIFEST_FILE_PATTERN,
  type ManifestFs,
  type ManifestStat,
  type ManifestFileHandle,
  type ReadManifestPathsOptions,
  type ManifestPathsResult,
  type RefusedPath,
  type RefusalReason,
} from './manifest-paths.js';
export { decodeUtf8, type Utf8Result } from './utf8.js';

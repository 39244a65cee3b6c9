/**
 * Loading manifests from text: YAML (multi-document) and JSON, `List` kinds, limits against
 * hostile input, validation with file:line:col positions.
 */
export { loadManifests, type LoadInput, type LoadedResource, type LoadResult } from './load-manifests.js';
export { DEFAULT_LIMITS, type LoadOptions } from './limits.js';
export { readManifestPaths, ManifestPathError, MANIFEST_FILE_PATTERN, type ManifestFs } from './manifest-paths.js';

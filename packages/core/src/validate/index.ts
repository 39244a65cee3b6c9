/**
 * Validation of manifest objects against Calico's and Kubernetes' rules. Pure: issues are
 * returned, never thrown or logged.
 */
export { validateResource, resourceDisplayName, type ValidateOptions } from './validate-resource.js';
export { SUPPORTED_KINDS, SUPPORTED_API_VERSIONS, type SupportedKind } from './kinds.js';
export { formatPath, type FieldPath, type PathSegment } from './path.js';
export type { Locate, Position } from './report.js';

/**
 * @gingham/k8s/testing: a test Kubernetes API server that speaks the real protocol (for this
 * package's tests, the agent's, and benchmarks) and helpers to shape objects as the API server
 * and Calico store them. Test code: never for production.
 */
export {
  createTestApiServer,
  mergePatch,
  ALL_TEST_APIS,
  type TestApiServer,
  type TestApiServerOptions,
  type TestFault,
  type TestRequestRecord,
  type TestVerb,
  type ObjectRef,
  type ApiObject,
} from './testing/api-server.js';
export { testCertificates, type TestCertificates } from './testing/certs.js';
export { calicoCrdObject, type CalicoCrdStyle } from './testing/calico-crd.js';

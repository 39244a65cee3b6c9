/**
 * @gingham/openstack/testing: a test Keystone + Neutron HTTP server and builders of realistic
 * Neutron objects, for tests and benchmarks of anything that reads OpenStack.
 */
export { createTestCloud, type RequestRecord, type TestCloud, type TestCloudObjects, type TestCloudOptions, type TestCollection, type TestFault } from './test-cloud.js';
export { securityGroup, sgRule, syntheticCloud, testMac, testUuid, vmPort, type SyntheticCloudOptions, type VmPortOptions } from './fixtures.js';

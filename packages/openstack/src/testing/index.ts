/**
 * @gingham/openstack/testing: builders of realistic Neutron objects, for tests and benchmarks
 * of anything that reads OpenStack.
 */
export { securityGroup, sgRule, syntheticCloud, testMac, testUuid, vmPort, type SyntheticCloudOptions, type VmPortOptions } from './fixtures.js';

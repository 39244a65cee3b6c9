/**
 * @gingham/openstack: Neutron ports and security groups as Calico's OpenStack driver maps them
 * (`convertNeutron`), the saved-API-body reader behind `gingham openstack convert`, and a
 * `Source` that keeps them current from Keystone and Neutron (`createOpenStackSource`).
 */
export type {
  KeystoneProject,
  NeutronAddressPair,
  NeutronDnsAssignment,
  NeutronFixedIp,
  NeutronFloatingIp,
  NeutronInputs,
  NeutronNetwork,
  NeutronPort,
  NeutronQosPolicy,
  NeutronQosRule,
  NeutronSecurityGroup,
  NeutronSecurityGroupRule,
  NeutronSubnet,
} from './neutron-types.js';

// The conversion (pure).
export {
  convertNeutron,
  createConversionMemo,
  type ConversionMemo,
  type ConversionProblem,
  type ConvertedResource,
  type ConvertNeutronOptions,
  type NeutronCollection,
  type NeutronConversion,
  type NeutronPath,
} from './convert/convert.js';
export {
  endpointName,
  namespaceForRegion,
  securityGroupPolicyName,
  securityGroupSelector,
  tapInterfaceName,
  FQDN_ANNOTATION,
  NETWORK_ID_ANNOTATION,
  NETWORK_NAME_LABEL,
  PROJECT_ID_LABEL,
  PROJECT_NAME_LABEL,
  PROJECT_PARENT_ID_LABEL,
  SG_LABEL_PREFIX,
  SG_NAME_LABEL_PREFIX,
} from './convert/names.js';
export { IP_PROTOCOL_MAP } from './convert/security-group.js';
export { DEFAULT_QOS_SETTINGS, type QosSettings } from './convert/qos.js';
export { formatResourceList, type ListFormat } from './convert/list.js';
export { formatLocatedProblem, formatNeutronPath, readBodies, type BodyInput, type LocatedProblem, type ReadBodiesResult } from './convert/read-bodies.js';

// Talking to OpenStack.
export { createKeystoneSession, keystoneV3Url, type ApplicationCredentials, type EndpointInterface, type KeystoneCredentials, type KeystoneOptions, type KeystoneSession, type PasswordCredentials } from './client/keystone.js';
export { keystoneOptionsFromEnv } from './client/os-env.js';
export { createNeutronClient, type ListQuery, type NeutronClient, type NeutronClientOptions, type NeutronListing } from './client/neutron.js';
export type { FetchLike } from './client/http.js';

// The Source.
export { createOpenStackSource, SLIM_PORT_FIELDS, type OpenStackSource, type OpenStackSourceOptions, type OpenStackSourceStatus } from './source/openstack-source.js';

export { OpenStackError, OpenStackHttpError, type OpenStackErrorCode } from './errors.js';

/**
 * Directory fetch (relay side): certificates and CRLs from allow-listed LDAP and HTTP
 * directories, for the browser, which verifies everything it receives. See README.md here.
 */
export { type DirectoryItem, type ItemKind, classifyDer, itemsFromBody } from './classify.js';
export {
  type AllowEntry,
  type DirectoryConfig,
  DEFAULT_ALLOW,
  DEFAULT_CONFIG,
  configFromEnv,
  makeConfig,
  parseAllowList
} from './config.js';
export {
  DIRECTORY_ERROR_MESSAGE,
  DIRECTORY_ERROR_STATUS,
  DirectoryError,
  type DirectoryErrorCode,
  isDirectoryError
} from './errors.js';
export { type AuditSink, type DirectoryAuditEvent, consoleAuditSink } from './audit.js';
export {
  type DirectoryEndpoint,
  type DirectoryEndpointOptions,
  type DirectoryErrorResponse,
  type DirectoryFetchResponse,
  type DirectoryRequestEvent,
  createDirectoryEndpoint
} from './endpoint.js';
export { type FetchOptions, type FetchResult, fetchDirectory } from './fetch.js';
export { type ResolvedAddress, type Resolver, isPublicAddress, systemResolver } from './policy.js';
export { type DirectoryTarget, type HttpTarget, type LdapTarget, describeTarget, parseDirectoryUrl } from './url.js';

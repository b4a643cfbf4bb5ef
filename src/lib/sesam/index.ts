/**
 * SESAM-Vitale message layer (docs/domain/transmission.md §7–9): Content-Description values, subjects and
 * compostage, routing, OCT framing, the SMTP message composer and parser. Isomorphic: no Node
 * imports; persistent compostage stores live in src/lib/client/store and src/lib/server.
 */
export * from './errors.js';
export * from './description.js';
export * from './time.js';
export * from './compostage.js';
export * from './subject.js';
export * from './address.js';
export * from './routing.js';
export * from './base64.js';
export * from './compose.js';
export * from './oct.js';
export * from './parse.js';
export * from './package.js';
export * from './deadline.js';
// Returns in our own formats (docs/returns/): the acknowledgement of a file's lots.
export { ARL_MAX_BYTES, ARL_MAX_LOTS, buildArl, matchArl, parseArl, type Arl, type ArlLot, type ArlMatch } from './returns/arl.js';
export { ReturnFormatError, type ReturnFormatErrorCode } from './returns/errors.js';
export { RSP_MAX_BYTES, RSP_MAX_LINES, buildRsp, parseRsp, type Rsp, type RspLine } from './returns/rsp.js';
// Reading one returned message: ARL, RSP, OCT acknowledgement, signed service message, DSN.
export { ReturnMessageError, type ReturnMessageErrorCode } from './returns/mime.js';
export { SERVICE_TEXT, composeServiceMessage, type ServiceMessageInput } from './returns/service.js';
export { SERVICE_CODES, readReturn, type ReadReturnOptions, type ReturnKind, type ReturnReading, type ServiceCode, type SignerValidator } from './returns/read.js';

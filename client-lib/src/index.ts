/**
 * The smart card client library: pcsc-lite's API for Chrome extensions, over a port to the connector extension.
 *
 *   import { connect, SCARD_SCOPE_SYSTEM } from '…/client-lib/src/index.js';
 *   const pcsc = await connect(CONNECTOR_ID, { name: 'My app' });
 *   const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
 *
 * Every SCard* method returns a promise of a plain object of its outputs (bytes as Uint8Array) and rejects with a
 * PcscError carrying pcsc-lite's code. The protocol underneath is described in docs/protocol.md.
 */
export { connect, Connection, type ConnectOptions, type ConnectorRestart, type ReaderInfo } from './client.js';
export { PcscError, isPcscError, ProtocolError, describePcscError, pcscErrorName } from './errors.js';
export type { PcscApi, ReaderStateIn, ReaderStateOut, ScardIoRequest } from '../../src/pcsc/api.js';
export type { PortLike } from '../../src/protocol/port.js';
export { PROTOCOL_VERSION } from '../../src/protocol/messages.js';
export * from './constants.js';

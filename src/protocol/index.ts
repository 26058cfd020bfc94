/**
 * The client protocol, version 1 (docs/protocol.md): shared by the client library, the connector's router and any other
 * link that speaks it. A pure core: no chrome.*, DOM or Node API; the transport is anything shaped like a port.
 */
export * from './messages.js';
export * from './functions.js';
export * from './codec.js';
export * from './port.js';
export * from './native.js';

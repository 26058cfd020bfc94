/**
 * The driver interface, owned by the daemon as pcscd owns `ifdhandler.h`: what a reader driver implements (`IfdReader`,
 * `IfdSlot`) and how it fails (`DriverError` with an `IFD_*` code). Drivers (`src/ccid`, the host's vpcd reader, the
 * benchmark's in-memory card) import this; the daemon (`src/pcsc`) uses it and never imports a driver.
 */
export type { IfdProtocol, IfdReader, IfdSlot, PowerAction } from './ifd.js';
export { DriverError, IFD, ifdCodeName, isDriverError, readerRemoved } from './errors.js';
export type { IfdCode } from './errors.js';

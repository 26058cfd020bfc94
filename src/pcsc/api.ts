/**
 * The PC/SC API as this stack exposes it: pcsc-lite's SCard* functions, promise-based, one object per client.
 *
 * The same surface is offered in-process (by the daemon, `src/pcsc/daemon.ts`) and, later, by the client library over
 * Chrome messaging. Names and parameters are pcsc-lite's (`winscard.h`); outputs come back as plain objects. A call that
 * pcsc-lite would answer with anything but SCARD_S_SUCCESS rejects with a `PcscError` carrying that exact code — the
 * warnings (SCARD_W_RESET_CARD, SCARD_W_REMOVED_CARD, …) included, as they are return values in C too.
 *
 * Buffers: C callers state how large their receive buffer is; a response that does not fit is
 * SCARD_E_INSUFFICIENT_BUFFER with the needed length (pcsc-lite never truncates). Here a caller may state that limit
 * (`recvLength`, `bufferLength`); without one the result is always whole (pcsc-lite's SCARD_AUTOALLOCATE).
 */

/** SCARD_IO_REQUEST: the protocol control information of SCardTransmit. */
export interface ScardIoRequest {
  /** SCARD_PROTOCOL_T0, _T1 or _RAW. */
  dwProtocol: number;
}

/** SCARD_READERSTATE, input side. */
export interface ReaderStateIn {
  /** A reader name from SCardListReaders, or `\\?PnP?\Notification`. */
  szReader: string;
  /** What the caller believes: SCARD_STATE_* flags, with the event counter in the high 16 bits. */
  dwCurrentState: number;
  /** Opaque, returned as given (pcsc-lite's pvUserData). */
  pvUserData?: unknown;
}

/** SCARD_READERSTATE, output side. */
export interface ReaderStateOut {
  szReader: string;
  dwCurrentState: number;
  /** SCARD_STATE_* flags with the reader's event counter in the high 16 bits. */
  dwEventState: number;
  /** The card's ATR when a card is present (empty otherwise). */
  rgbAtr: Uint8Array;
  pvUserData?: unknown;
}

export interface PcscApi {
  SCardEstablishContext(dwScope: number): Promise<{ hContext: number }>;
  SCardReleaseContext(hContext: number): Promise<void>;
  SCardIsValidContext(hContext: number): Promise<void>;
  /** `groups` is ignored, as in pcsc-lite. `bufferLength`: the caller's buffer in characters (multi-string length). */
  SCardListReaders(
    hContext: number,
    groups?: string | null,
    options?: { bufferLength?: number },
  ): Promise<{ readers: string[] }>;
  SCardListReaderGroups(hContext: number, options?: { bufferLength?: number }): Promise<{ groups: string[] }>;
  SCardConnect(
    hContext: number,
    szReader: string,
    dwShareMode: number,
    dwPreferredProtocols: number,
  ): Promise<{ hCard: number; dwActiveProtocol: number }>;
  SCardReconnect(
    hCard: number,
    dwShareMode: number,
    dwPreferredProtocols: number,
    dwInitialization: number,
  ): Promise<{ dwActiveProtocol: number }>;
  SCardDisconnect(hCard: number, dwDisposition: number): Promise<void>;
  SCardBeginTransaction(hCard: number): Promise<void>;
  SCardEndTransaction(hCard: number, dwDisposition: number): Promise<void>;
  SCardStatus(hCard: number): Promise<{ szReaderName: string; dwState: number; dwProtocol: number; atr: Uint8Array }>;
  /** `dwTimeout` in ms, or INFINITE (0xFFFFFFFF). On SCARD_E_TIMEOUT the error's `readerStates` holds the states seen. */
  SCardGetStatusChange(
    hContext: number,
    dwTimeout: number,
    readerStates: ReaderStateIn[],
  ): Promise<{ readerStates: ReaderStateOut[] }>;
  SCardControl(
    hCard: number,
    dwControlCode: number,
    input: Uint8Array,
    options?: { recvLength?: number },
  ): Promise<{ output: Uint8Array }>;
  SCardGetAttrib(hCard: number, dwAttrId: number, options?: { bufferLength?: number }): Promise<{ attr: Uint8Array }>;
  SCardSetAttrib(hCard: number, dwAttrId: number, attr: Uint8Array): Promise<void>;
  SCardTransmit(
    hCard: number,
    ioSendPci: ScardIoRequest,
    sendBuffer: Uint8Array,
    options?: { recvLength?: number },
  ): Promise<{ recvPci: ScardIoRequest; recvBuffer: Uint8Array }>;
  SCardCancel(hContext: number): Promise<void>;
}

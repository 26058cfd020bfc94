/**
 * The only host globals a core (src/ifd, ccid, pcsc, sim, protocol, util) may use: the ones that every host it runs
 * on — a page, an extension service worker, Node — provides with the same meaning (they are in the WinterTC
 * "Minimum Common Web API"). tsconfig.core.json compiles the cores with lib ES2022 and this file instead of lib DOM
 * and @types/node, so naming anything else (navigator, chrome, document, fetch, process, Buffer, ...) is a compile
 * error. The main tsconfig.json, with the real DOM and Node declarations, does not include this file.
 *
 * console is left out on purpose: a core logs through a logger it is given, which decides what may be shown (APDU
 * bytes only when APDU logging is on, PIN data never).
 */

/** Opaque: a number in a browser, a Timeout object in Node. A core only hands it back to clearTimeout. */
interface CoreTimerHandle {
  readonly __coreTimerHandle: never;
}
declare function setTimeout(handler: () => void, timeout?: number): CoreTimerHandle;
declare function clearTimeout(handle: CoreTimerHandle | undefined): void;
declare function queueMicrotask(callback: () => void): void;

declare class TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array<ArrayBuffer>;
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: string;
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}

/** WebUSB rejects with DOMExceptions (NotFoundError, NetworkError, ...): the simulator throws the same. */
declare class DOMException extends Error {
  constructor(message?: string, name?: string);
  readonly code: number;
}

/** WebIDL's BufferSource, which @types/w3c-web-usb names in transferOut and controlTransferOut. */
type BufferSource = ArrayBufferView<ArrayBuffer> | ArrayBuffer;

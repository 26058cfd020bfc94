/**
 * A reader that speaks vsmartcard's vpcd protocol: the host plays vpcd (the reader side, a TCP *server*) and a virtual
 * card such as vsmartcard's `vicc` connects to it as a TCP client.
 *
 * Wire protocol (vsmartcard `vpcd/vpcd.c`, as documented there): every message is a 2-byte big-endian length followed
 * by that many bytes. From the reader, a 1-byte message is a control code (00 power off, 01 power on, 02 reset,
 * 04 get ATR — only the last is answered, with the ATR); anything longer is a command APDU, answered with the response
 * APDU. The card is present exactly while the card emulator is connected.
 *
 * Differences from Debian's vpcd on purpose: loopback only (vpcd listens on every interface, which lets anyone on the
 * network play a card), and each frame goes out in one write with TCP_NODELAY (vpcd writes length and payload in two
 * sends, and Nagle plus delayed ACKs cost ~48 ms per APDU).
 */
import net from 'node:net';
import type { IfdProtocol, IfdReader, IfdSlot, PowerAction } from '../../ifd/ifd.js';
import { DriverError, IFD, readerRemoved } from '../../ifd/errors.js';
import { parseAtr } from '../../ccid/atr.js';
import {
  CM_IOCTL_GET_FEATURE_REQUEST,
  SCARD_ATTR_ATR_STRING,
  SCARD_ATTR_ICC_INTERFACE_STATUS,
  SCARD_ATTR_ICC_PRESENCE,
  SCARD_ATTR_MAXINPUT,
  SCARD_ATTR_VENDOR_NAME,
} from '../../pcsc/constants.js';
import type { HostLog } from './types.js';

/** vsmartcard's default vpcd port (vpcd.h VPCDPORT). */
export const VPCD_DEFAULT_PORT = 35963;

/** The control codes of the vpcd protocol (vpcd.h VPCD_CTRL_*). */
export const VPCD_CTRL = { OFF: 0x00, ON: 0x01, RESET: 0x02, ATR: 0x04 } as const;

/** pcsc-lite's reader name is "<friendlyName> 00 00", the same as Debian's vpcd reader ("Virtual PCD 00 00"). */
export const VPCD_FRIENDLY_NAME = 'Virtual PCD';

/** The largest payload a 2-byte length can carry. */
const MAX_FRAME = 0xffff;

export interface VpcdReaderOptions {
  /** TCP port on 127.0.0.1 (default 35963; 0 picks a free one, see `port`). */
  port?: number;
  /** Friendly name (default "Virtual PCD"). */
  name?: string;
  log?: HostLog;
  /**
   * How long to wait for the card's answer before giving up (default 60 s). A virtual card has no time extension
   * mechanism: a card that says nothing for this long is taken as mute.
   */
  responseTimeoutMs?: number;
}

/** Encodes one vpcd message: 2-byte big-endian length, then the payload (one buffer, for one write). */
export function encodeVpcdFrame(payload: Uint8Array): Buffer {
  if (payload.length > MAX_FRAME)
    throw new RangeError(`vpcd frame: payload of ${payload.length} bytes exceeds ${MAX_FRAME}`);
  const out = Buffer.allocUnsafe(2 + payload.length);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, 2);
  return out;
}

/** Splits a byte stream into vpcd messages; keeps an incomplete tail for the next chunk. */
export class VpcdFrameDecoder {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): Uint8Array[] {
    this.#pending = this.#pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#pending, chunk]);
    const frames: Uint8Array[] = [];
    while (this.#pending.length >= 2) {
      const n = this.#pending.readUInt16BE(0);
      if (this.#pending.length < 2 + n) break;
      frames.push(new Uint8Array(this.#pending.subarray(2, 2 + n)));
      this.#pending = this.#pending.subarray(2 + n);
    }
    return frames;
  }
}

interface Pending {
  resolve(payload: Uint8Array): void;
  reject(e: DriverError): void;
  timer: ReturnType<typeof setTimeout>;
}

const noCard = () => new DriverError(IFD.ICC_NOT_PRESENT, 'no virtual card is connected to the vpcd reader');

function u32le(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
}

class VpcdSlot implements IfdSlot {
  readonly slot = 0;
  readonly #reader: VpcdReader;
  readonly #listeners = new Set<(present: boolean) => void>();
  #atr: Uint8Array = new Uint8Array(0);
  #powered = false;

  constructor(reader: VpcdReader) {
    this.#reader = reader;
  }

  async iccPresence(): Promise<boolean> {
    this.#reader.checkOpen();
    return this.#reader.connected;
  }

  async power(action: PowerAction): Promise<Uint8Array> {
    this.#reader.checkOpen();
    if (action === 'down') {
      this.#powered = false;
      this.#atr = new Uint8Array(0);
      // Powering off an absent card is not an error for pcscd (IFDHPowerICC on an empty slot succeeds in vpcd too).
      if (this.#reader.connected) await this.#reader.send(Uint8Array.of(VPCD_CTRL.OFF), false);
      return new Uint8Array(0);
    }
    if (!this.#reader.connected) throw noCard();
    await this.#reader.send(Uint8Array.of(action === 'up' ? VPCD_CTRL.ON : VPCD_CTRL.RESET), false);
    const atr = await this.#reader.send(Uint8Array.of(VPCD_CTRL.ATR), true);
    if (atr.length === 0 || atr.length > 33) {
      throw new DriverError(
        IFD.ERROR_POWER_ACTION,
        `the virtual card answered "get ATR" with ${atr.length} bytes (1 to 33 expected)`,
      );
    }
    this.#atr = atr;
    this.#powered = true;
    return atr;
  }

  async setProtocol(protocol: IfdProtocol): Promise<void> {
    this.#reader.checkOpen();
    if (!this.#reader.connected) throw noCard();
    if (!this.#powered) throw new DriverError(IFD.COMMUNICATION_ERROR, 'the virtual card is not powered');
    // vicc cards work at APDU level, so there is no PPS to run: accept whatever protocol the ATR offers (ISO 7816-3
    // §8.2.3: TD bytes list the protocols; none means T=0 only).
    const offered = parseAtr(this.#atr).protocols;
    const t = protocol === 1 ? 0 : 1;
    if (!offered.includes(t)) {
      throw new DriverError(
        IFD.PROTOCOL_NOT_SUPPORTED,
        `the virtual card's ATR does not offer T=${t} (it offers T=${offered.join(', T=')})`,
      );
    }
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    this.#reader.checkOpen();
    if (!this.#reader.connected) throw noCard();
    if (!this.#powered) throw new DriverError(IFD.COMMUNICATION_ERROR, 'the virtual card is not powered');
    if (apdu.length < 4) {
      // A 1-byte payload would be read as a control code by the card; every APDU has at least a 4-byte header.
      throw new DriverError(IFD.COMMUNICATION_ERROR, `a command APDU has at least 4 bytes, got ${apdu.length}`);
    }
    const response = await this.#reader.send(apdu, true);
    if (response.length < 2) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `the virtual card's response has ${response.length} bytes (a status word needs 2)`,
      );
    }
    return response;
  }

  async control(code: number, _input: Uint8Array): Promise<Uint8Array> {
    this.#reader.checkOpen();
    // PC/SC part 10 §2.2: a reader with no features answers GET_FEATURE_REQUEST with an empty list.
    if (code === CM_IOCTL_GET_FEATURE_REQUEST) return new Uint8Array(0);
    throw new DriverError(
      IFD.ERROR_NOT_SUPPORTED,
      `the vpcd reader has no control code 0x${code.toString(16).toUpperCase()}`,
    );
  }

  getAttribute(tag: number): Uint8Array | undefined {
    switch (tag) {
      case SCARD_ATTR_ATR_STRING:
      case 0x0303: // ifdhandler.h TAG_IFD_ATR
        return this.#powered ? this.#atr.slice() : new Uint8Array(0);
      case SCARD_ATTR_ICC_PRESENCE:
        return Uint8Array.of(this.#reader.connected ? 2 : 0);
      case SCARD_ATTR_ICC_INTERFACE_STATUS:
        return Uint8Array.of(this.#reader.connected && this.#powered ? 1 : 0);
      case SCARD_ATTR_MAXINPUT:
        return u32le(MAX_FRAME);
      case SCARD_ATTR_VENDOR_NAME:
        return new TextEncoder().encode('Virtual Smart Card Architecture');
      default:
        return undefined;
    }
  }

  async setAttribute(_tag: number, _value: Uint8Array): Promise<void> {
    throw new DriverError(IFD.ERROR_TAG, 'the vpcd reader has no settable attributes');
  }

  onCardEvent(listener: (present: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  cardEvent(present: boolean): void {
    if (!present) {
      this.#powered = false;
      this.#atr = new Uint8Array(0);
    }
    for (const l of [...this.#listeners]) l(present);
  }
}

/**
 * The vpcd reader: one slot, one card connection at a time (as vpcd: a second card emulator is turned away while one
 * is connected).
 */
export class VpcdReader implements IfdReader {
  readonly friendlyName: string;
  readonly slots: readonly IfdSlot[];
  readonly #slot: VpcdSlot;
  readonly #server: net.Server;
  readonly #log: HostLog;
  readonly #timeoutMs: number;
  readonly #removedListeners = new Set<() => void>();
  #socket: net.Socket | undefined;
  #decoder = new VpcdFrameDecoder();
  #pending: Pending | undefined;
  /** Exchanges run one at a time: vpcd answers are not tagged, so order is the only way to pair them. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(server: net.Server, options: VpcdReaderOptions) {
    this.#server = server;
    this.friendlyName = options.name ?? VPCD_FRIENDLY_NAME;
    this.#log = options.log ?? (() => {});
    this.#timeoutMs = options.responseTimeoutMs ?? 60_000;
    this.#slot = new VpcdSlot(this);
    this.slots = [this.#slot];
    server.on('connection', (socket) => this.#accept(socket));
  }

  /** Starts listening on 127.0.0.1:port. Rejects with a clear message when the port is taken or not allowed. */
  static async listen(options: VpcdReaderOptions = {}): Promise<VpcdReader> {
    const port = options.port ?? VPCD_DEFAULT_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`vpcd port must be an integer from 0 to 65535, got ${String(port)}`);
    }
    const server = net.createServer();
    const reader = new VpcdReader(server, options);
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        const why =
          e.code === 'EADDRINUSE'
            ? `port ${port} on 127.0.0.1 is already in use (is pcscd's vpcd driver or another host running?)`
            : e.code === 'EACCES'
              ? `no permission to listen on port ${port}`
              : e.message;
        reject(new Error(`cannot start the vpcd reader: ${why}`, { cause: e }));
      };
      server.once('error', onError);
      server.listen({ port, host: '127.0.0.1' }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (e) => reader.#log('error', `vpcd server: ${e.message}`));
    return reader;
  }

  /** The port actually listened on. */
  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /** True while a virtual card is connected. */
  get connected(): boolean {
    return this.#socket !== undefined;
  }

  checkOpen(): void {
    if (this.#closed) throw readerRemoved('the vpcd reader was closed');
  }

  onRemoved(listener: () => void): () => void {
    this.#removedListeners.add(listener);
    return () => this.#removedListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const socket = this.#socket;
    this.#drop(readerRemoved('the vpcd reader was closed'), false);
    socket?.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const l of [...this.#removedListeners]) l();
  }

  /**
   * Sends one message; with `answered`, resolves with the card's answer. Serialised: the next message goes out only
   * after the previous one was answered (or was a control code that gets no answer).
   */
  send(payload: Uint8Array, answered: boolean): Promise<Uint8Array> {
    const run = async (): Promise<Uint8Array> => {
      const socket = this.#socket;
      if (socket === undefined || this.#closed) throw noCard();
      if (payload.length > MAX_FRAME) {
        throw new DriverError(
          IFD.COMMUNICATION_ERROR,
          `a vpcd message holds at most ${MAX_FRAME} bytes, got ${payload.length}`,
        );
      }
      const frame = encodeVpcdFrame(payload);
      if (!answered) {
        socket.write(frame);
        return new Uint8Array(0);
      }
      return new Promise<Uint8Array>((resolve, reject) => {
        const timer = setTimeout(() => {
          if (this.#pending?.timer !== timer) return;
          this.#pending = undefined;
          reject(new DriverError(IFD.RESPONSE_TIMEOUT, `the virtual card did not answer within ${this.#timeoutMs} ms`));
          // The connection can no longer pair answers with requests: start over with a fresh card connection.
          this.#log('warn', 'vpcd: the virtual card did not answer; dropping its connection');
          this.#socket?.destroy();
        }, this.#timeoutMs);
        this.#pending = { resolve, reject, timer };
        socket.write(frame);
      });
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #accept(socket: net.Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    if (this.#socket !== undefined) {
      this.#log(
        'warn',
        `vpcd: a second virtual card tried to connect (from port ${socket.remotePort ?? '?'}); ` +
          'refused: one card per reader',
      );
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.#socket = socket;
    this.#decoder = new VpcdFrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.#decoder.push(chunk)) this.#answer(frame);
    });
    socket.on('error', (e) => this.#log('debug', `vpcd: connection error: ${e.message}`));
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#drop(new DriverError(IFD.ICC_NOT_PRESENT, 'the virtual card went away (its emulator disconnected)'), true);
    });
    this.#log('debug', `vpcd: virtual card connected from 127.0.0.1:${socket.remotePort ?? '?'}`);
    this.#slot.cardEvent(true);
  }

  #answer(frame: Uint8Array): void {
    const p = this.#pending;
    if (p === undefined) {
      this.#log('debug', `vpcd: ignoring an unrequested message of ${frame.length} bytes from the virtual card`);
      return;
    }
    this.#pending = undefined;
    clearTimeout(p.timer);
    p.resolve(frame);
  }

  #drop(error: DriverError, event: boolean): void {
    const p = this.#pending;
    this.#pending = undefined;
    if (p !== undefined) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    if (this.#socket === undefined) return;
    this.#socket = undefined;
    if (event) {
      this.#log('debug', 'vpcd: virtual card disconnected');
      this.#slot.cardEvent(false);
    }
  }
}

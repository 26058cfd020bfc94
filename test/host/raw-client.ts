/** A raw protocol 4.4 client over node:net, for hostile-input tests: it sends exactly the bytes it is given. */
import { connect, type Socket } from 'node:net';
import {
  CMD,
  READER_STATES_SIZE,
  decodeReaderStates,
  decodeStruct,
  encodeCString,
  encodeRequest,
  encodeStruct,
  structSize,
  type StructName,
} from '../../src/host/pcscd/wire.js';

export class RawClient {
  readonly socket: Socket;
  #buf = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#wake?.();
    });
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        this.#wake?.();
        resolve();
      }),
    );
  }

  static open(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Exactly n bytes; rejects if the server closes first. */
  async read(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (this.closed) throw new Error(`the server closed the connection (${this.#buf.length} of ${n} bytes read)`);
      await new Promise<void>((r) => {
        this.#wake = r;
      });
    }
    const out = new Uint8Array(this.#buf.subarray(0, n));
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  async call<N extends StructName>(
    command: number,
    name: N,
    body: Parameters<typeof encodeStruct<N>>[1],
    data?: Uint8Array,
  ) {
    this.write(encodeRequest(command, encodeStruct(name, body), data));
    return decodeStruct(name, await this.read(structSize(name)));
  }

  async readerStates() {
    this.write(encodeRequest(CMD.GET_READERS_STATE, new Uint8Array(0)));
    return decodeReaderStates(await this.read(READER_STATES_SIZE));
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closedPromise;
  }
}

/**
 * What libpcsclite does for establish → list → connect → transmit(00 00 00 00 after SELECT): resolves with the
 * response to the hello command, or throws on any failure.
 */
export async function helloOverRawSocket(
  path: string,
): Promise<{ client: RawClient; hContext: number; hCard: number; hello: Uint8Array }> {
  const c = await RawClient.open(path);
  const v = await c.call(CMD.VERSION, 'version', { major: 4, minor: 4, rv: 0 });
  if (v.rv !== 0) throw new Error(`VERSION rv ${v.rv.toString(16)}`);
  const e = await c.call(CMD.ESTABLISH_CONTEXT, 'establish', { dwScope: 2, hContext: 0, rv: 0 });
  if (e.rv !== 0) throw new Error(`ESTABLISH rv ${e.rv.toString(16)}`);
  const [reader] = await c.readerStates();
  if (reader === undefined) throw new Error('no reader');
  const co = await c.call(CMD.CONNECT, 'connect', {
    hContext: e.hContext,
    szReader: encodeCString(reader.name, 128),
    dwShareMode: 2,
    dwPreferredProtocols: 3,
    hCard: 0,
    dwActiveProtocol: 0,
    rv: 0,
  });
  if (co.rv !== 0) throw new Error(`CONNECT rv ${co.rv.toString(16)}`);
  const transmit = async (apdu: Uint8Array): Promise<Uint8Array> => {
    const t = await c.call(
      CMD.TRANSMIT,
      'transmit',
      {
        hCard: co.hCard,
        ioSendPciProtocol: co.dwActiveProtocol,
        ioSendPciLength: 16,
        cbSendLength: apdu.length,
        ioRecvPciProtocol: 0,
        ioRecvPciLength: 16,
        pcbRecvLength: 65548,
        rv: 0,
      },
      apdu,
    );
    if (t.rv !== 0) throw new Error(`TRANSMIT rv ${t.rv.toString(16)}`);
    return c.read(t.pcbRecvLength);
  };
  await transmit(
    Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x0a, 0xa0, 0x00, 0x00, 0x00, 0x62, 0x03, 0x01, 0x0c, 0x06, 0x01),
  );
  const hello = await transmit(Uint8Array.of(0, 0, 0, 0));
  return { client: c, hContext: e.hContext, hCard: co.hCard, hello };
}

/**
 * The Node host's reader sources, combined: real USB readers, simulated ones (`--demo`, `--sim`) and a vpcd reader
 * for vsmartcard's virtual cards, all feeding one daemon, which logs one line per reader and card event.
 */
import type { IfdReader } from '../../ifd/ifd.js';
import { memoryCardReader } from './memcard.js';
import { startSimReaders, type SimSource, type SimSpec } from './sim.js';
import type { HostLog, ReaderSink, ReaderSource } from './types.js';
import { startUsbReaders, type UsbSource, type UsbSourceOptions } from './usb.js';
import { VPCD_DEFAULT_PORT, VpcdReader, type VpcdReaderOptions } from './vpcd.js';

export type { HostLog, HostLogLevel, ReaderSink, ReaderSource } from './types.js';
export { parseSimSpec, defaultCards, SIM_CARDS, type SimSpec, type SimSource, type SimCardId } from './sim.js';
export { memoryCardReader } from './memcard.js';
export { VpcdReader, VPCD_DEFAULT_PORT, VPCD_CTRL, encodeVpcdFrame, VpcdFrameDecoder } from './vpcd.js';
export {
  startUsbReaders,
  usbBusStatus,
  NodeUsbAdapter,
  NodeUsbDeviceAdapter,
  classifyUsbFailure,
  NODE_USB_TRANSFER_TIMEOUT_MS,
  type UsbSource,
  type UsbSourceOptions,
  type NodeUsbLike,
} from './usb.js';

export interface ReaderOptions {
  /** Real USB readers through node-usb (default true). An object passes options (tests inject a stand-in). */
  usb?: boolean | UsbSourceOptions;
  /** The demo reader: a simulated GemPC Twin with the hello-world card. */
  demo?: boolean;
  /** Simulated readers: `PROFILE` or `PROFILE:CARD[,CARD]` (see `parseSimSpec`). */
  sim?: readonly (string | SimSpec)[];
  /** A vpcd reader: true = port 35963, a number = that port (0 = any free one), or its options. */
  vpcd?: boolean | number | VpcdReaderOptions;
  /**
   * The in-memory reader and card, twin of the native anchor's ifd_memcard.c (the differential suite's reader); a
   * string is its presence directory (the card is absent while `DIR/absent` exists).
   */
  memcard?: boolean | string;
}

export interface ReaderSet {
  readonly usb?: UsbSource;
  readonly sim?: SimSource;
  readonly vpcd?: VpcdReader;
  /** Powers every card down, removes every reader from the daemon, releases devices and sockets. */
  stop(): Promise<void>;
}

/**
 * A sink in front of the daemon that remembers the readers it holds, so that shutdown can power their cards down
 * (pcscd powers cards down as it exits, `RFCleanupReaders` → IFDHPowerICC(IFD_POWER_DOWN)). The daemon itself logs one
 * line per reader and card event.
 */
class TrackingSink implements ReaderSink {
  readonly #daemon: ReaderSink;
  readonly #log: HostLog;
  readonly #readers = new Map<IfdReader, () => void>();

  constructor(daemon: ReaderSink, log: HostLog) {
    this.#daemon = daemon;
    this.#log = log;
  }

  async addReader(reader: IfdReader): Promise<string[]> {
    const names = await this.#daemon.addReader(reader);
    this.#readers.set(
      reader,
      reader.onRemoved(() => this.#forget(reader)),
    );
    return names;
  }

  async removeReader(reader: IfdReader): Promise<void> {
    this.#forget(reader);
    await this.#daemon.removeReader(reader);
  }

  #forget(reader: IfdReader): void {
    this.#readers.get(reader)?.();
    this.#readers.delete(reader);
  }

  /** IFDHPowerICC(down) on every slot holding a card; failures are logged, never thrown. */
  async powerDownAll(): Promise<void> {
    const slots = [...this.#readers.keys()].flatMap((r) => r.slots.map((s) => ({ r, s })));
    await Promise.all(
      slots.map(async ({ r, s }) => {
        try {
          if (await s.iccPresence()) await s.power('down');
        } catch (e) {
          this.#log(
            'debug',
            `powering down a card in "${r.friendlyName}": ${e instanceof Error ? e.message : String(e)}`,
          );
        }
      }),
    );
  }
}

/**
 * Starts the requested reader sources, feeding `daemon`. A source that cannot start at all (a vpcd port in use, an
 * unknown simulator profile) stops the others and rejects with a message a person can act on; USB problems (no bus,
 * a busy reader) are logged and the rest served.
 */
export async function startReaders(
  daemon: ReaderSink,
  options: ReaderOptions,
  log: HostLog = () => {},
): Promise<ReaderSet> {
  const sink = new TrackingSink(daemon, log);
  const sources: ReaderSource[] = [];
  let vpcd: VpcdReader | undefined;
  let sim: SimSource | undefined;
  let usb: UsbSource | undefined;
  const stopAll = async () => {
    await sink.powerDownAll();
    for (const s of sources.splice(0).reverse()) {
      await s
        .stop()
        .catch((e: unknown) =>
          log('warn', `stopping the ${s.kind} readers: ${e instanceof Error ? e.message : String(e)}`),
        );
    }
  };
  try {
    // Simulated readers first: the demo reader is "… 00 00", as in the connector.
    if (options.demo === true || (options.sim?.length ?? 0) > 0) {
      sim = await startSimReaders(sink, { demo: options.demo === true, sim: options.sim ?? [], log });
      sources.push(sim);
    }
    if (options.memcard !== undefined && options.memcard !== false) {
      const reader = memoryCardReader(typeof options.memcard === 'string' ? { presenceDir: options.memcard } : {});
      await sink.addReader(reader);
      sources.push({ kind: 'memcard', stop: () => sink.removeReader(reader) });
    }
    if (options.vpcd !== undefined && options.vpcd !== false) {
      const vo: VpcdReaderOptions =
        typeof options.vpcd === 'object'
          ? options.vpcd
          : { port: options.vpcd === true ? VPCD_DEFAULT_PORT : options.vpcd };
      vpcd = await VpcdReader.listen({ log, ...vo });
      const reader = vpcd;
      await sink.addReader(reader);
      sources.push({ kind: 'vpcd', stop: () => sink.removeReader(reader) });
      log(
        'info',
        `vpcd: waiting for virtual cards on 127.0.0.1:${vpcd.port} (vicc -t iso7816 -H 127.0.0.1 -P ${vpcd.port})`,
      );
    }
    if (options.usb !== false) {
      usb = await startUsbReaders(sink, { log, ...(typeof options.usb === 'object' ? options.usb : {}) });
      sources.push(usb);
    }
  } catch (e) {
    await stopAll();
    if (vpcd !== undefined && !sources.some((s) => s.kind === 'vpcd')) await vpcd.close().catch(() => {});
    throw e;
  }
  const set: { -readonly [K in keyof ReaderSet]: ReaderSet[K] } = { stop: stopAll };
  if (usb !== undefined) set.usb = usb;
  if (sim !== undefined) set.sim = sim;
  if (vpcd !== undefined) set.vpcd = vpcd;
  return set;
}

/**
 * Simulated readers for the Node host: `--demo` (the connector's demo reader: a Gemalto GemPC Twin holding the
 * hello-world card) and `--sim PROFILE[:CARD]` (any simulator profile, with a card chosen per profile unless CARD says
 * otherwise). They go through the real CCID driver, exactly as a USB reader would.
 */
import type { IfdReader } from '../../ifd/ifd.js';
import { CcidReader } from '../../ccid/reader.js';
import { createDemoReader } from '../../sim/demo.js';
import {
  createSimulatedReader,
  dualProtocolCard,
  helloWorldCardT0,
  helloWorldCardT1,
  isProfileId,
  lowVoltageCard,
  pinCard,
  PROFILES,
  specificModeCard,
  type ProfileId,
  type SimCard,
  type SimulatedReader,
} from '../../sim/index.js';
import type { HostLog, ReaderSink, ReaderSource } from './types.js';

/** The cards `--sim PROFILE:CARD` accepts. */
export const SIM_CARDS = {
  'hello-t1': helloWorldCardT1,
  'hello-t0': helloWorldCardT0,
  dual: dualProtocolCard,
  specific: specificModeCard,
  pin: pinCard,
  'low-voltage': lowVoltageCard,
} as const satisfies Record<string, () => SimCard>;

export type SimCardId = keyof typeof SIM_CARDS;

/** One `--sim` argument: a profile, and the card for each slot (null = empty slot). */
export interface SimSpec {
  profile: ProfileId;
  /** The card of each slot; shorter than the slot count = the other slots stay empty. */
  cards: (SimCardId | null)[];
}

/**
 * The card a profile gets by default: the hello-world T=1 card, which every profile can run; the PIN-pad reader gets
 * the PIN card (so VERIFY through the keypad works), the two-slot reader a T=1 card and a T=0 card.
 */
export function defaultCards(profile: ProfileId): SimCardId[] {
  switch (profile) {
    case 'pinpad':
      return ['pin'];
    case 'two-slot':
      return ['hello-t1', 'hello-t0'];
    default:
      return ['hello-t1'];
  }
}

const isSimCard = (s: string): s is SimCardId => Object.prototype.hasOwnProperty.call(SIM_CARDS, s);

/**
 * Parses `PROFILE`, `PROFILE:CARD`, `PROFILE:none` or `PROFILE:CARD,CARD` (one per slot). Throws a RangeError naming
 * the valid values.
 */
export function parseSimSpec(text: string): SimSpec {
  const [profile = '', cardPart, ...extra] = text.split(':');
  if (!isProfileId(profile)) {
    throw new RangeError(`unknown reader profile "${profile}": one of ${Object.keys(PROFILES).join(', ')}`);
  }
  if (extra.length > 0) throw new RangeError(`--sim takes PROFILE or PROFILE:CARD, got "${text}"`);
  if (cardPart === undefined) return { profile, cards: defaultCards(profile) };
  const slots = PROFILES[profile].ccid.bMaxSlotIndex + 1;
  const names = cardPart.split(',');
  if (names.length > slots) {
    throw new RangeError(`profile ${profile} has ${slots} slot${slots === 1 ? '' : 's'}, got ${names.length} cards`);
  }
  const cards = names.map((n) => {
    if (n === 'none' || n === '') return null;
    if (!isSimCard(n))
      throw new RangeError(`unknown simulated card "${n}": one of ${Object.keys(SIM_CARDS).join(', ')}, none`);
    return n;
  });
  return { profile, cards };
}

export interface SimSourceOptions {
  /** The demo reader (GemPC Twin + hello-world card). */
  demo?: boolean;
  /** Further simulated readers (strings as `--sim` takes them, or parsed specs). */
  sim?: readonly (string | SimSpec)[];
  log?: HostLog;
}

export interface SimSource extends ReaderSource {
  readonly kind: 'sim';
  /** The simulated devices, in order (the demo reader first): tests insert and remove cards through them. */
  readonly devices: readonly SimulatedReader[];
}

/** Opens every requested simulated reader through the CCID driver and adds it to `sink`. */
export async function startSimReaders(sink: ReaderSink, options: SimSourceOptions): Promise<SimSource> {
  const log = options.log ?? (() => {});
  const specs = (options.sim ?? []).map((s) => (typeof s === 'string' ? parseSimSpec(s) : s));
  const devices: SimulatedReader[] = [];
  if (options.demo === true) devices.push(createDemoReader().device);
  for (const spec of specs) {
    const device = createSimulatedReader(spec.profile);
    spec.cards.forEach((card, slot) => {
      if (card !== null) device.insertCard(SIM_CARDS[card](), slot);
    });
    devices.push(device);
  }
  const readers: IfdReader[] = [];
  const stop = async () => {
    for (const r of readers.splice(0))
      await sink.removeReader(r).catch((e: unknown) => log('warn', `removing a simulated reader: ${String(e)}`));
  };
  try {
    for (const device of devices) {
      const reader = await CcidReader.open(device, {
        log: (level, message) => log(level === 'info' ? 'debug' : level, message),
      });
      try {
        await sink.addReader(reader);
      } catch (e) {
        await reader.close().catch(() => {});
        throw e;
      }
      readers.push(reader);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { kind: 'sim', devices, stop };
}

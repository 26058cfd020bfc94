/**
 * The simulated card: what sits behind the contacts of src/sim/card-interface.ts.
 *
 * Life cycle (ISO/IEC 7816-3 §6): activation at a class of operating conditions (the card answers only at the classes
 * its ATR's class indicator names, class A alone when it has none, §6.2.4, §8.3), then the card is in negotiable mode
 * (PPS allowed as the very first exchange, §9) or in specific mode when its ATR has TA2 (no PPS: the card stays mute
 * to one, §6.3.1). Then T=0 or T=1 exchanges, until deactivation (§6.4). Removal is the reader's business: the test
 * or reader simulator calls insert() / remove().
 */

import type { CardProtocol, SimCard, VoltageClass } from '../card-interface.js';
import { buildAtr, supportedClasses, type AtrProfile } from './atr.js';
import { CardApplications, type CardApplicationsOptions } from './applets.js';
import type { EdcKind } from './edc.js';
import { defaultFaults, type CardFaults } from './faults.js';
import { answerPps, DEFAULT_FIDI, type PpsRefusal } from './pps.js';
import { T0CardSession, type T0DataProcedure } from './t0.js';
import { T1CardSession } from './t1.js';

export interface SimulatedCardOptions extends CardApplicationsOptions {
  /** What the card's ATR says (protocols, TA1, T=1 parameters, classes, historical bytes). */
  atr: AtrProfile;
  /** T=0: how the card asks for and sends data bytes (default 'ins'). */
  t0DataProcedure?: T0DataProcedure;
  /** PPS with a Fi/Di the card does not take: answer at Fd/Dd ('default', the default) or stay mute. */
  ppsRefusal?: PpsRefusal;
  /** Overrides which PPS1 values the card takes (default: see cardTakesFidi). */
  acceptsFidi?: (fidi: number) => boolean;
  /** Faults armed from the start. */
  faults?: Partial<CardFaults>;
  /** Whether the card starts in the slot (default true). */
  inserted?: boolean;
}

const EMPTY = new Uint8Array(0);

export class SimulatedCard implements SimCard {
  /** The ATR the card answers with. */
  readonly atr: Uint8Array;
  /** Fault hooks; tests may change them at any time. */
  readonly faults: CardFaults;
  /** The card's applications (for tests: PIN tries left, what is selected). */
  readonly applications: CardApplications;
  /** Classes of operating conditions at which the card answers. */
  readonly classes: readonly VoltageClass[];

  private readonly profile: AtrProfile;
  private readonly options: SimulatedCardOptions;
  private readonly t0: T0CardSession;
  private readonly t1: T1CardSession;
  private readonly ifsc: number;
  private readonly edc: EdcKind;
  private isInserted: boolean;
  private voltage: VoltageClass | null = null;
  private crashed = false;
  private ppsWindowOpen = false;
  private currentProtocol: CardProtocol;
  private fidi = DEFAULT_FIDI;
  private exchanges = 0;

  constructor(options: SimulatedCardOptions) {
    this.options = options;
    this.profile = options.atr;
    this.atr = buildAtr(options.atr); // validates the profile
    this.classes = supportedClasses(options.atr);
    this.faults = defaultFaults(options.faults);
    this.applications = new CardApplications(options);
    this.ifsc = options.atr.t1?.ifsc ?? 32;
    this.edc = options.atr.t1?.edc ?? 'lrc';
    this.t0 = new T0CardSession(this.applications, this.faults, options.t0DataProcedure ?? 'ins');
    this.t1 = new T1CardSession(this.applications, this.faults, { ifsc: this.ifsc, edc: this.edc });
    this.isInserted = options.inserted ?? true;
    this.currentProtocol = this.initialProtocol();
  }

  get inserted(): boolean {
    return this.isInserted;
  }

  /** Puts the card in the slot (unpowered). */
  insert(): void {
    this.isInserted = true;
  }

  /** Takes the card out: it loses power at once. */
  remove(): void {
    this.isInserted = false;
    this.deactivate();
  }

  get powered(): boolean {
    return this.voltage !== null;
  }

  get protocol(): CardProtocol {
    return this.currentProtocol;
  }

  /** Whether the card is in specific mode (its ATR has TA2). */
  get specificMode(): boolean {
    return this.profile.specificMode !== undefined;
  }

  get parameters(): { fidi: number; ifsc: number; edc: EdcKind } {
    return { fidi: this.fidi, ifsc: this.ifsc, edc: this.edc };
  }

  /** The IFSD the reader announced with S(IFS request) (32 until then). */
  get ifsd(): number {
    return this.t1.ifsd;
  }

  /** Exchanges (PPS, T=0 transmissions, T=1 blocks) the card received since its last activation. */
  get exchangeCount(): number {
    return this.exchanges;
  }

  activate(voltage: VoltageClass): Uint8Array | null {
    this.deactivate();
    if (!this.isInserted || this.faults.mute || !this.classes.includes(voltage)) return null;
    this.voltage = voltage;
    return this.answerToReset();
  }

  warmReset(): Uint8Array | null {
    if (this.voltage === null) return null;
    if (this.faults.mute) return null;
    return this.answerToReset();
  }

  deactivate(): void {
    this.voltage = null;
    this.ppsWindowOpen = false;
  }

  pps(request: Uint8Array): Uint8Array | null {
    if (!this.beginExchange()) return null;
    if (!this.ppsWindowOpen) return null; // specific mode, or not the first exchange after the ATR
    this.ppsWindowOpen = false;
    const outcome = answerPps(request, {
      protocols: this.profile.protocols,
      ta1: this.profile.ta1,
      refusal: this.options.ppsRefusal ?? 'default',
      ...(this.options.acceptsFidi ? { acceptsFidi: this.options.acceptsFidi } : {}),
    });
    if (outcome === null) return null;
    this.currentProtocol = outcome.protocol;
    this.fidi = outcome.fidi;
    return outcome.response;
  }

  t0Transmit(bytes: Uint8Array): Uint8Array {
    if (!this.beginExchange() || this.currentProtocol !== 0) return EMPTY;
    this.ppsWindowOpen = false;
    return this.t0.transmit(bytes);
  }

  t1Block(block: Uint8Array): Uint8Array | null {
    if (!this.beginExchange() || this.currentProtocol !== 1) return null;
    this.ppsWindowOpen = false;
    return this.t1.receive(block);
  }

  private answerToReset(): Uint8Array {
    this.crashed = false;
    this.exchanges = 0;
    this.currentProtocol = this.initialProtocol();
    this.fidi = this.initialFidi();
    this.ppsWindowOpen = !this.specificMode;
    this.t0.reset();
    this.t1.reset();
    this.applications.reset();
    return this.atr.slice();
  }

  private initialProtocol(): CardProtocol {
    return this.profile.specificMode?.protocol ?? this.profile.protocols[0]!;
  }

  /** Negotiable mode starts at Fd/Dd (§6.3.1); specific mode uses TA1 unless TA2 says the parameters are implicit. */
  private initialFidi(): number {
    const sm = this.profile.specificMode;
    if (sm && !sm.implicitParameters) return this.profile.ta1 ?? DEFAULT_FIDI;
    return DEFAULT_FIDI;
  }

  /** False when the card cannot answer: unpowered, mute, or crashed by the mute-after-N fault. */
  private beginExchange(): boolean {
    if (this.voltage === null || this.crashed || this.faults.mute) return false;
    const left = this.faults.muteAfterExchanges;
    if (left !== undefined) {
      if (left <= 0) {
        this.faults.muteAfterExchanges = undefined;
        this.crashed = true;
        return false;
      }
      this.faults.muteAfterExchanges = left - 1;
    }
    this.exchanges++;
    return true;
  }
}

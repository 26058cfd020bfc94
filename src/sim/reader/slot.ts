/**
 * One slot of the simulated reader: the CCID 1.1 §6.1 command set acting on the card behind it.
 *
 * `handle` takes a framed PC_to_RDR command (already checked for dwLength and bSlot by the device) and returns the
 * outcome: command status, bError, the message-specific byte 9 and the payload. bmICCStatus is added by the device from
 * `iccStatus` after the command ran. Most commands complete synchronously; Secure may wait for the keypad.
 */
import type { SimCard, VoltageClass } from '../card-interface.js';
import { readAtrFacts, type AtrFacts } from './atr-facts.js';
import {
  CHAIN,
  COMMAND_STATUS,
  FEATURE,
  ICC_STATUS,
  PC_TO_RDR,
  SLOT_ERROR,
  exchangeLevelOf,
  type IccStatus,
  type ReaderExchangeLevel,
} from './ccid-constants.js';
import { isApduError, parseCommandApdu } from './command-apdu.js';
import type { Keypad } from './keypad.js';
import { insertPins, parsePinOperation, type PinOperation } from './pin-block.js';
import type { ReaderProfile } from './profiles.js';
import { checkParameters, parametersFromAtr, type ProtocolNum } from './slot-parameters.js';
import { transmitApdu, transmitTpdu } from './t0-link.js';
import { buildBlock } from './t1-block.js';
import { T1Link, concat, type LinkResult } from './t1-link.js';

export interface Command {
  type: number;
  slot: number;
  seq: number;
  /** Bytes 7, 8, 9 of the header (message-specific). */
  b7: number;
  b8: number;
  b9: number;
  data: Uint8Array;
}

export interface Outcome {
  commandStatus: 0 | 1;
  error: number;
  /** Byte 9 of the response: bChainParameter, bClockStatus, bProtocolNum or RFU. */
  byte9: number;
  data: Uint8Array;
  /** Time extensions (bError multipliers) the reader sends before this answer, e.g. while the card asked for WTX. */
  timeExtensions: readonly number[];
}

export type EscapeHandler = (slot: number, data: Uint8Array) => Uint8Array | null;

const EMPTY = new Uint8Array(0);

/** No time extension before the answer: shared by the outcomes that have none (never changed, only replaced). */
const NO_TIME_EXTENSIONS: readonly number[] = Object.freeze([]);

function ok(data: Uint8Array = EMPTY, byte9 = 0, timeExtensions: readonly number[] = NO_TIME_EXTENSIONS): Outcome {
  return { commandStatus: COMMAND_STATUS.PROCESSED, error: 0, byte9, data, timeExtensions };
}
function fail(error: number, byte9 = 0, timeExtensions: readonly number[] = NO_TIME_EXTENSIONS): Outcome {
  return { commandStatus: COMMAND_STATUS.FAILED, error, byte9, data: EMPTY, timeExtensions };
}

const VOLTAGE_BY_SELECT: Record<number, VoltageClass> = { 1: 'A', 2: 'B', 3: 'C' };
const VOLTAGE_SUPPORT_BIT: Record<VoltageClass, number> = { A: 0x01, B: 0x02, C: 0x04 };

/** The card as the reader's contacts see it: a muted card answers nothing (fault injection 'mute'). */
class Contacts implements SimCard {
  constructor(private readonly slot: Slot) {}
  private get card(): SimCard {
    return this.slot.card!;
  }
  get inserted(): boolean {
    return this.slot.card?.inserted ?? false;
  }
  get powered(): boolean {
    return this.card.powered;
  }
  get protocol() {
    return this.card.protocol;
  }
  get parameters() {
    return this.card.parameters;
  }
  activate(v: VoltageClass): Uint8Array | null {
    return this.slot.muted ? null : this.card.activate(v);
  }
  warmReset(): Uint8Array | null {
    return this.slot.muted ? null : this.card.warmReset();
  }
  deactivate(): void {
    this.card.deactivate();
  }
  pps(request: Uint8Array): Uint8Array | null {
    return this.slot.muted ? null : this.card.pps(request);
  }
  t0Transmit(bytes: Uint8Array): Uint8Array {
    return this.slot.muted ? EMPTY : this.card.t0Transmit(bytes);
  }
  t1Block(block: Uint8Array): Uint8Array | null {
    return this.slot.muted ? null : this.card.t1Block(block);
  }
}

export class Slot {
  card: SimCard | null = null;
  muted = false;
  /** Powered by an IccPowerOn that succeeded and not yet powered off or removed. */
  active = false;
  /** A class ABORT request arrived for this bSeq; commands fail with CMD_ABORTED until the bulk Abort (§5.3.1). */
  abortSeq: number | null = null;
  busy = false;
  /** bSeq of the last command this slot received (for RDR_to_PC_HardwareError, §6.3.2). */
  lastSeq = 0;

  private readonly contacts = new Contacts(this);
  private readonly level: ReaderExchangeLevel;
  private facts: AtrFacts | null = null;
  private protocol: ProtocolNum = 0;
  private parameters: Uint8Array = Uint8Array.of(0x11, 0, 0, 10, 0);
  private clockStopped = 0;
  /** No exchange since the ATR: a PPS request is still allowed (ISO/IEC 7816-3 §9.1). */
  private ppsAllowed = false;
  private t1: T1Link | null = null;
  private classGetResponse: number;
  private classEnvelope: number;
  private commandParts: Uint8Array[] | null = null;
  private pendingResponse: { data: Uint8Array; offset: number } | null = null;
  /** Character level: what the card sent that the host has not asked for yet (the I/O line's characters in order). */
  private charactersOut: number[] = [];
  private voltage: VoltageClass | null = null;

  constructor(
    readonly index: number,
    private readonly profile: ReaderProfile,
    private readonly keypad: Keypad,
    private readonly escape: EscapeHandler | null,
  ) {
    this.level = exchangeLevelOf(profile.ccid.dwFeatures);
    this.classGetResponse = profile.ccid.bClassGetResponse;
    this.classEnvelope = profile.ccid.bClassEnvelope;
  }

  get present(): boolean {
    return this.card !== null && this.card.inserted;
  }

  get iccStatus(): IccStatus {
    if (!this.present) return ICC_STATUS.ABSENT;
    return this.active ? ICC_STATUS.ACTIVE : ICC_STATUS.INACTIVE;
  }

  /** Card pulled out: contacts lost, all protocol state gone. */
  detach(): void {
    if (this.card !== null && this.active) this.card.deactivate();
    this.card = null;
    this.muted = false;
    this.resetSession();
  }

  /** The reader itself was reset (USB reset): the card is deactivated but stays in the slot. */
  powerDown(): void {
    if (this.card !== null && this.active) this.card.deactivate();
    this.resetSession();
    this.abortSeq = null;
  }

  /** Automatic activation on insertion (dwFeatures 0x04, CCID 1.1 §5.1). */
  autoActivate(): void {
    if (this.profile.ccid.dwFeatures & FEATURE.AUTO_ACTIVATION) this.powerOn(0);
  }

  private resetSession(): void {
    this.active = false;
    this.facts = null;
    this.t1 = null;
    this.commandParts = null;
    this.pendingResponse = null;
    this.charactersOut = [];
    this.clockStopped = 0;
    this.ppsAllowed = false;
    this.voltage = null;
  }

  handle(cmd: Command): Outcome | Promise<Outcome> {
    switch (cmd.type) {
      case PC_TO_RDR.IccPowerOn:
        return this.powerOn(cmd.b7);
      case PC_TO_RDR.IccPowerOff:
        if (this.card !== null && this.active) this.card.deactivate();
        this.resetSession();
        return ok(EMPTY, 0);
      case PC_TO_RDR.GetSlotStatus:
        return ok(EMPTY, this.clockStatus());
      case PC_TO_RDR.XfrBlock:
        return this.xfrBlock(cmd);
      case PC_TO_RDR.GetParameters:
        return this.present ? ok(this.parameters, this.protocol) : fail(SLOT_ERROR.ICC_MUTE, this.protocol);
      case PC_TO_RDR.ResetParameters:
        return this.resetParameters();
      case PC_TO_RDR.SetParameters:
        return this.setParameters(cmd);
      case PC_TO_RDR.Escape:
        return this.escapeCommand(cmd);
      case PC_TO_RDR.IccClock:
        return this.iccClock(cmd);
      case PC_TO_RDR.T0APDU:
        return this.t0Apdu(cmd);
      case PC_TO_RDR.Secure:
        return this.secure(cmd);
      case PC_TO_RDR.Mechanical:
        return this.mechanical(cmd);
      case PC_TO_RDR.Abort:
        this.abortSeq = null;
        return ok(EMPTY, this.clockStatus());
      case PC_TO_RDR.SetDataRateAndClockFrequency:
        return this.setDataRateAndClock(cmd);
      default:
        return fail(SLOT_ERROR.CMD_NOT_SUPPORTED);
    }
  }

  private clockStatus(): number {
    return this.active ? this.clockStopped : 0;
  }

  // --- IccPowerOn (CCID 1.1 §6.1.1) -------------------------------------------------------------------------------

  private powerOn(powerSelect: number): Outcome {
    if (!this.present) return fail(SLOT_ERROR.ICC_MUTE);
    if (powerSelect > 3) return fail(7);
    const support = this.profile.ccid.bVoltageSupport;
    let candidates: VoltageClass[];
    if (powerSelect === 0) {
      // Automatic selection: from the lowest class up (ISO/IEC 7816-3 §6.2.4 class selection).
      candidates = (['C', 'B', 'A'] as const).filter((v) => support & VOLTAGE_SUPPORT_BIT[v]);
    } else {
      const v = VOLTAGE_BY_SELECT[powerSelect]!;
      if ((support & VOLTAGE_SUPPORT_BIT[v]) === 0) return fail(7);
      candidates = [v];
    }
    const card = this.contacts;
    let atr: Uint8Array | null = null;
    if (this.active) {
      // Powered already: a warm reset at the current class (§6.2.3); another class needs a power-off first.
      if (powerSelect !== 0 && candidates[0] !== this.voltage) return fail(7);
      const voltage = this.voltage;
      this.resetSession();
      atr = card.warmReset();
      this.voltage = voltage;
    } else {
      this.resetSession();
      for (const v of candidates) {
        atr = card.activate(v);
        if (atr !== null) {
          this.voltage = v;
          break;
        }
        card.deactivate();
      }
    }
    if (atr === null) {
      this.active = false;
      return fail(SLOT_ERROR.ICC_MUTE);
    }
    this.active = true;
    this.setUpAfterAtr(atr);
    return ok(atr, 0);
  }

  private setUpAfterAtr(atr: Uint8Array): void {
    const facts = readAtrFacts(atr);
    this.facts = facts;
    this.charactersOut = [];
    const features = this.profile.ccid.dwFeatures;
    this.ppsAllowed = !facts.specificMode;
    let fidi = 0x11;
    const wanted = (facts.protocols[0] ?? 0) as ProtocolNum;
    // Automatic PPS (dwFeatures 0x80 / 0x40): the reader negotiates TA1 itself (ISO/IEC 7816-3 §9).
    if (features & (FEATURE.AUTO_PPS | FEATURE.AUTO_NEGOTIATION) && this.ppsAllowed) {
      this.ppsAllowed = false;
      if (facts.ta1 !== null && facts.ta1 !== 0x11 && this.voltage !== null) {
        const request = Uint8Array.of(0xff, 0x10 | wanted, facts.ta1, 0);
        request[3] = request[0]! ^ request[1]! ^ request[2]!;
        const answer = this.contacts.pps(request);
        if (answer !== null && answer.length === 4 && answer.every((b, i) => b === request[i])) {
          fidi = facts.ta1;
        } else if (answer === null) {
          // §9.3: no PPS response → deactivate; the reader starts again without PPS.
          this.contacts.deactivate();
          const again = this.contacts.activate(this.voltage);
          if (again === null) {
            this.active = false;
            return;
          }
        }
      }
    }
    this.protocol =
      this.card !== null && (this.card.protocol === 0 || this.card.protocol === 1) ? this.card.protocol : wanted;
    this.parameters = parametersFromAtr(this.protocol, facts, fidi);
    if (this.protocol === 1) {
      const edc = facts.crc ? 'crc' : 'lrc';
      this.t1 = new T1Link(this.contacts, facts.ifsc, edc);
      if (features & FEATURE.AUTO_IFSD) {
        // Automatic IFSD exchange as the first exchange (dwFeatures 0x400): S(IFS request) with dwMaxIFSD clamped to
        // the range ISO/IEC 7816-3 §11.4.2 allows.
        this.ppsAllowed = false;
        this.t1.negotiateIfsd(Math.max(1, Math.min(254, this.profile.ccid.dwMaxIFSD)));
      }
    }
  }

  // --- XfrBlock (CCID 1.1 §6.1.4) ----------------------------------------------------------------------------------

  private xfrBlock(cmd: Command): Outcome {
    if (!this.present) return fail(SLOT_ERROR.ICC_MUTE);
    if (!this.active) return fail(SLOT_ERROR.ICC_MUTE);
    const wLevel = cmd.b8 | (cmd.b9 << 8);
    if (this.level === 'tpdu') return this.xfrTpdu(cmd.data);
    if (this.level === 'character') return this.xfrCharacters(cmd.data, wLevel);
    return this.xfrApdu(cmd.data, wLevel);
  }

  /**
   * Character level (CCID 1.1 §6.1.4): the reader sends the command's characters to the card, then receives exactly
   * wLevelParameter characters from it. The card's characters form one stream on the I/O line: what it sent beyond
   * what was asked for waits for the next XfrBlock; fewer than asked means the waiting time ran out (ICC_MUTE).
   * The reader knows nothing of T=0 or T=1 here: the host runs the procedure bytes and frames the blocks.
   */
  private xfrCharacters(data: Uint8Array, expected: number): Outcome {
    if (data.length > 0) {
      let answer: Uint8Array | null;
      if (this.ppsAllowed && data[0] === 0xff) answer = this.ppsAnswer(data);
      else if (this.protocol === 1) answer = this.contacts.t1Block(data);
      else answer = this.contacts.t0Transmit(data);
      this.ppsAllowed = false;
      if (answer !== null) this.charactersOut.push(...answer);
    }
    if (this.charactersOut.length < expected) {
      this.charactersOut = [];
      return fail(SLOT_ERROR.ICC_MUTE);
    }
    return ok(Uint8Array.from(this.charactersOut.splice(0, expected)));
  }

  /** A PPS request as the first exchange after the ATR (ISO/IEC 7816-3 §9.1): the host negotiates. */
  private hostPps(data: Uint8Array): Outcome {
    const answer = this.ppsAnswer(data);
    return answer === null ? fail(SLOT_ERROR.ICC_MUTE) : ok(answer);
  }

  private ppsAnswer(data: Uint8Array): Uint8Array | null {
    this.ppsAllowed = false;
    const answer = this.contacts.pps(data);
    if (answer === null) return null;
    if (answer.length >= 3 && answer.length === data.length && answer.every((b, i) => b === data[i])) {
      if (answer[1]! & 0x10) this.parameters[0] = answer[2]!;
    }
    return answer;
  }

  private xfrTpdu(data: Uint8Array): Outcome {
    if (this.ppsAllowed && data.length > 0 && data[0] === 0xff) return this.hostPps(data);
    this.ppsAllowed = false;
    if (this.protocol === 1) {
      const answer = this.contacts.t1Block(data);
      return answer === null ? fail(SLOT_ERROR.ICC_MUTE) : ok(answer);
    }
    // T=0 TPDU: a 5-byte header, then exactly P3 bytes of data or none (ISO/IEC 7816-3 §10.3.2).
    if (data.length < 5) return fail(10);
    const p3 = data[4]!;
    if (data.length > 5 && data.length - 5 !== p3) return fail(14);
    const r = transmitTpdu(this.contacts, data.subarray(0, 5), data.subarray(5));
    if (!r.ok) return fail(r.error);
    const out = new Uint8Array(r.data.length + 2);
    out.set(r.data);
    out[r.data.length] = r.sw1;
    out[r.data.length + 1] = r.sw2;
    return ok(out);
  }

  private get maxPayload(): number {
    return this.profile.ccid.dwMaxCCIDMessageLength - 10;
  }

  private xfrApdu(data: Uint8Array, wLevel: number): Outcome {
    this.ppsAllowed = false;
    const extended = this.level === 'extended-apdu';
    if (wLevel === CHAIN.EMPTY_CONTINUE) {
      if (!extended || this.pendingResponse === null || data.length !== 0) return fail(8);
      return this.nextResponsePart();
    }
    if (wLevel !== CHAIN.BEGIN_AND_END && !extended) return fail(8);
    this.pendingResponse = null;
    let apduBytes: Uint8Array;
    switch (wLevel) {
      case CHAIN.BEGIN_AND_END:
        this.commandParts = null;
        apduBytes = data;
        break;
      case CHAIN.BEGIN:
        this.commandParts = [data];
        return ok(EMPTY, CHAIN.EMPTY_CONTINUE);
      case CHAIN.CONTINUE:
        if (this.commandParts === null) return fail(8);
        this.commandParts.push(data);
        return ok(EMPTY, CHAIN.EMPTY_CONTINUE);
      case CHAIN.END:
        if (this.commandParts === null) return fail(8);
        this.commandParts.push(data);
        apduBytes = concat(this.commandParts);
        this.commandParts = null;
        break;
      default:
        return fail(8);
    }
    const apdu = parseCommandApdu(apduBytes);
    if (isApduError(apdu)) return fail(10 + apdu.offset);
    // A short-APDU reader refuses extended lengths (CCID 1.1 §5.1 dwFeatures 0x20000): bError = the length field.
    if (apdu.extended && !extended) return fail(14);
    const wtx: number[] = [];
    const r = this.exchangeApdu(apduBytes, (m) => wtx.push(m));
    if (!r.ok) return fail(r.error, 0, wtx);
    if (r.data.length <= this.maxPayload) return ok(r.data, CHAIN.BEGIN_AND_END, wtx);
    if (!extended) return fail(SLOT_ERROR.XFR_OVERRUN, 0, wtx);
    this.pendingResponse = { data: r.data, offset: 0 };
    const first = this.nextResponsePart();
    first.timeExtensions = wtx;
    return first;
  }

  private nextResponsePart(): Outcome {
    const p = this.pendingResponse!;
    const start = p.offset;
    const end = Math.min(p.data.length, start + this.maxPayload);
    p.offset = end;
    const last = end === p.data.length;
    if (last) this.pendingResponse = null;
    const chain = start === 0 ? (last ? CHAIN.BEGIN_AND_END : CHAIN.BEGIN) : last ? CHAIN.END : CHAIN.CONTINUE;
    return ok(p.data.subarray(start, end), chain);
  }

  /** The reader as transport layer: APDU over T=0 (§12.2) or over its own T=1 link. */
  private exchangeApdu(apduBytes: Uint8Array, onWtx: (m: number) => void): LinkResult {
    if (this.protocol === 1) {
      if (this.t1 === null)
        this.t1 = new T1Link(this.contacts, this.facts?.ifsc ?? 32, this.facts?.crc ? 'crc' : 'lrc');
      return this.t1.transceive(apduBytes, onWtx);
    }
    const apdu = parseCommandApdu(apduBytes);
    if (isApduError(apdu)) return { ok: false, error: 10 + apdu.offset };
    return transmitApdu(this.contacts, apdu, apduBytes, {
      getResponse: this.classGetResponse,
      envelope: this.classEnvelope,
    });
  }

  // --- Parameters (CCID 1.1 §6.1.5–§6.1.7) -------------------------------------------------------------------------

  private resetParameters(): Outcome {
    if (!this.present) return fail(SLOT_ERROR.ICC_MUTE, this.protocol);
    const facts = this.facts ?? readAtrFacts(Uint8Array.of(0x3b, 0x00));
    this.parameters = parametersFromAtr(this.protocol, facts, 0x11);
    return ok(this.parameters, this.protocol);
  }

  private setParameters(cmd: Command): Outcome {
    if (!this.present) return fail(SLOT_ERROR.ICC_MUTE, this.protocol);
    const check = checkParameters(cmd.b7, cmd.data, {
      dwProtocols: this.profile.ccid.dwProtocols,
      nadAccepted: (this.profile.ccid.dwFeatures & FEATURE.NAD_OTHER_THAN_0) !== 0,
    });
    if (check.errorOffset !== 0) return { ...fail(check.errorOffset, this.protocol), data: this.parameters };
    this.protocol = cmd.b7 as ProtocolNum;
    this.parameters = cmd.data.slice();
    if (this.protocol === 1 && this.t1 !== null) {
      this.t1.ifsc = this.parameters[5]!;
      this.t1.edc = this.parameters[1]! & 1 ? 'crc' : 'lrc';
    }
    return ok(this.parameters, this.protocol);
  }

  // --- Escape, IccClock, T0APDU, Mechanical, SetDataRateAndClockFrequency -----------------------------------------

  private escapeCommand(cmd: Command): Outcome {
    const answer = this.escape?.(this.index, cmd.data) ?? null;
    return answer === null ? fail(SLOT_ERROR.CMD_NOT_SUPPORTED) : ok(answer);
  }

  private iccClock(cmd: Command): Outcome {
    if (!this.present) return fail(SLOT_ERROR.ICC_MUTE);
    if (cmd.b7 > 1) return fail(7);
    if (cmd.b7 === 0) {
      this.clockStopped = 0;
      return ok(EMPTY, 0);
    }
    // Stopping the clock needs a card that allows it (bClockStop of the parameters: 1 low, 2 high, 3 either).
    const allowed = this.parameters[4] ?? 0;
    if (allowed === 0) return fail(7);
    this.clockStopped = allowed === 2 ? 2 : 1;
    return ok(EMPTY, this.clockStopped);
  }

  private t0Apdu(cmd: Command): Outcome {
    // Only meaningful where the reader runs the T=0 transport layer (CCID 1.1 §6.1.8).
    if (this.level !== 'short-apdu' && this.level !== 'extended-apdu') return fail(SLOT_ERROR.CMD_NOT_SUPPORTED);
    if (cmd.b7 > 3) return fail(7);
    if (cmd.b7 & 1) this.classGetResponse = cmd.b8;
    if (cmd.b7 & 2) this.classEnvelope = cmd.b9;
    return ok(EMPTY, this.clockStatus());
  }

  private mechanical(cmd: Command): Outcome {
    if (this.profile.ccid.dwMechanical === 0) return fail(SLOT_ERROR.CMD_NOT_SUPPORTED);
    if (cmd.b7 < 1 || cmd.b7 > 5) return fail(7);
    return ok(EMPTY, this.clockStatus());
  }

  private setDataRateAndClock(cmd: Command): Outcome {
    if (cmd.data.length !== 8) return fail(1);
    const view = new DataView(cmd.data.buffer, cmd.data.byteOffset, 8);
    const clock = view.getUint32(0, true);
    const rate = view.getUint32(4, true);
    const clocks = this.profile.clockFrequencies;
    const rates = this.profile.dataRates;
    if (clock === 0 || clock > this.profile.ccid.dwMaximumClock || (clocks !== null && !clocks.includes(clock))) {
      return fail(10);
    }
    if (rate === 0 || rate > this.profile.ccid.dwMaxDataRate || (rates !== null && !rates.includes(rate))) {
      return fail(14);
    }
    return ok(cmd.data.slice());
  }

  // --- Secure (CCID 1.1 §6.1.11) -----------------------------------------------------------------------------------

  private secure(cmd: Command): Outcome | Promise<Outcome> {
    const support = this.profile.ccid.bPINSupport;
    if (support === 0) return fail(SLOT_ERROR.CMD_NOT_SUPPORTED);
    if (!this.present || !this.active) return fail(SLOT_ERROR.ICC_MUTE);
    const wLevel = cmd.b8 | (cmd.b9 << 8);
    if (wLevel !== 0) return fail(8);
    const op = parsePinOperation(cmd.data);
    if ('reason' in op) return fail(10 + op.offset);
    if (op.operation === 'verify' && (support & 1) === 0) return fail(10);
    if (op.operation === 'modify' && (support & 2) === 0) return fail(10);
    const entriesNeeded =
      op.operation === 'verify'
        ? ['old']
        : [...(op.askOld ? ['old'] : []), 'new', ...(op.confirmNew ? ['confirm'] : [])];
    const typed: string[] = [];
    const step = (): Outcome | Promise<Outcome> => {
      while (typed.length < entriesNeeded.length) {
        const entry = this.keypad.next();
        if (entry instanceof Promise) {
          return entry.then((e) => {
            if (e === null) return fail(SLOT_ERROR.CMD_ABORTED);
            const r = this.takeEntry(e, typed);
            return r ?? step();
          });
        }
        const r = this.takeEntry(entry, typed);
        if (r !== null) return r;
      }
      return this.sendPinApdu(op, entriesNeeded, typed);
    };
    return step();
  }

  private takeEntry(e: { kind: string; digits?: string }, typed: string[]): Outcome | null {
    if (e.kind === 'cancel') return fail(SLOT_ERROR.PIN_CANCELLED);
    if (e.kind === 'timeout') return fail(SLOT_ERROR.PIN_TIMEOUT);
    typed.push(e.digits ?? '');
    return null;
  }

  private sendPinApdu(op: PinOperation, needed: string[], typed: string[]): Outcome {
    if (!this.present || !this.active) return fail(SLOT_ERROR.ICC_MUTE);
    const pins: Record<string, string> = {};
    needed.forEach((name, i) => (pins[name] = typed[i]!));
    for (const pin of Object.values(pins)) {
      // A PIN shorter than the minimum cannot be validated; the reader gives up as if cancelled.
      if (pin.length < op.format.minDigits || (op.format.maxDigits > 0 && pin.length > op.format.maxDigits)) {
        return fail(SLOT_ERROR.PIN_CANCELLED);
      }
    }
    // New PIN typed twice differently: vendor-specific bError 0xC0 (no code for it in CCID 1.1 §6.2.6).
    if (pins['confirm'] !== undefined && pins['confirm'] !== pins['new']) return fail(0xc0);
    const apdu = insertPins(
      op,
      op.operation === 'verify' ? { old: pins['old']! } : { old: pins['old'], new: pins['new']! },
    );
    if (apdu === null) return fail(10 + 15);
    if (this.level === 'tpdu' || this.level === 'character') {
      if (this.protocol === 1) {
        // T=1 TPDU reader: the block is built from bTeoPrologue (NAD, PCB; LEN from the APDU) and the card's block
        // goes back whole, as at the TPDU level.
        const nad = op.teoPrologue[0] ?? 0;
        const pcb = op.teoPrologue[1] ?? 0;
        const block = buildBlock(nad, pcb, apdu, this.facts?.crc ? 'crc' : 'lrc');
        const answer = this.contacts.t1Block(block);
        return answer === null ? fail(SLOT_ERROR.ICC_MUTE) : ok(answer);
      }
      const r = transmitTpdu(this.contacts, apdu.subarray(0, 5), apdu.subarray(5));
      if (!r.ok) return fail(r.error);
      return ok(concat([r.data, Uint8Array.of(r.sw1, r.sw2)]));
    }
    const wtx: number[] = [];
    const r = this.exchangeApdu(apdu, (m) => wtx.push(m));
    return r.ok ? ok(r.data, 0, wtx) : fail(r.error, 0, wtx);
  }
}

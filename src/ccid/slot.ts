import { classifyApdu, isExtended } from './apdu.js';
import { parseAtr, type ParsedAtr } from './atr.js';
import {
  CCID_CLASS_AUTO_ACTIVATION,
  CCID_CLASS_AUTO_IFSD,
  CCID_CLASS_AUTO_VOLTAGE,
  CCID_ERR,
  CCID_HEADER_SIZE,
  CCID_ICC_ABSENT,
  CCID_ICC_PRESENT_INACTIVE,
} from './constants.js';
import { effectiveIfsd } from './descriptor.js';
import { DriverError, IFD } from '../ifd/errors.js';
import { MAX_ATR_SIZE, MAX_BUFFER_SIZE_EXTENDED } from '../ifd/limits.js';
import type { IfdProtocol, IfdSlot, PowerAction } from '../ifd/ifd.js';
import {
  CcidCommandError,
  encodeGetSlotStatus,
  encodeIccPowerOff,
  encodeIccPowerOn,
  encodeSetParameters,
  encodeXfrBlock,
  frameXfrBlock,
  responseError,
  type CcidResponse,
} from './messages.js';
import { checkPpsResponse, planProtocol, setParametersBody } from './pps.js';
import { T1Protocol, T1ReceiveError, type T1Link } from './t1.js';
import { apduToT0Tpdu } from './t0.js';
import { transmitT0Characters, type CharacterExchange } from './t0-character.js';
import { DEFAULT_TIMEOUT_MS, exchangeTimeoutMs, POWER_ON_TIMEOUT_MS } from './timeouts.js';
import type { CcidClassDescriptor, ExchangeLevel } from './types.js';

/** The part of the transport a slot uses: one command, one response, bSeq assigned by the transport. */
export interface CommandChannel {
  command(slot: number, build: (seq: number) => Uint8Array, timeoutMs: number): Promise<CcidResponse>;
}

/** What a slot knows about its reader. */
export interface SlotReaderInfo {
  descriptor: CcidClassDescriptor;
  level: ExchangeLevel;
  /** GET_DATA_RATES answer (CCID 1.1 §5.3.3), when the reader has a table. */
  dataRates?: number[];
  log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  /** Whether the transport has found the reader gone (a transfer failed with "disconnected"), and with what error. */
  readerGone?: () => DriverError | undefined;
}

/** bPowerSelect values (CCID 1.1 §6.1.1). */
const VOLTAGE_AUTO = 0;
const VOLTAGE_NAMES = ['automatic', '5 V', '3 V', '1.8 V'];

/** Longest response APDU an application can receive: pcsc-lite MAX_BUFFER_SIZE_EXTENDED. */
const MAX_RESPONSE = MAX_BUFFER_SIZE_EXTENDED;

/** CCID 1.1 §6.1.4 wLevelParameter / §6.2.1 bChainParameter values. */
const CHAIN_NONE = 0x00;
const CHAIN_BEGIN = 0x01;
const CHAIN_END = 0x02;
const CHAIN_CONTINUE = 0x03;
const CHAIN_EMPTY_NEXT = 0x10;

/**
 * One card slot of a CCID reader: pcsc-lite's IFD handler for one LUN (libccid `ifdhandler.c`), on top of the CCID
 * transport. It owns the card's power state, its ATR, the protocol chosen for it, and (at TPDU level) the T=1 state.
 */
export class CcidSlot implements Omit<IfdSlot, 'control' | 'getAttribute' | 'setAttribute' | 'onCardEvent'> {
  #atr: Uint8Array | undefined;
  #parsedAtr: ParsedAtr | undefined;
  #protocol: 0 | 1 | undefined;
  #t1: T1Protocol | undefined;
  /** libccid's bPowerFlags: whether we powered the card up (and not down) since it was last seen absent. */
  #poweredByUs = false;
  #poweredDown = false;
  #readTimeoutMs = DEFAULT_TIMEOUT_MS;
  #fidi = 0x11;
  #gone: DriverError | undefined;

  constructor(
    readonly slot: number,
    private readonly channel: CommandChannel,
    private readonly reader: SlotReaderInfo,
  ) {}

  /** The ATR of the powered card, or undefined. */
  get atr(): Uint8Array | undefined {
    return this.#atr;
  }

  get parsedAtr(): ParsedAtr | undefined {
    return this.#parsedAtr;
  }

  /** The protocol set up by setProtocol (0 or 1), or undefined. */
  get protocol(): 0 | 1 | undefined {
    return this.#protocol;
  }

  get powered(): boolean {
    return this.#atr !== undefined;
  }

  /** The T=1 engine at TPDU level (for statistics and PIN-pad prologues), if T=1 is in use. */
  get t1(): T1Protocol | undefined {
    return this.#t1;
  }

  /** The Fi/Di byte in use after PPS (0x11 by default). */
  get fidi(): number {
    return this.#fidi;
  }

  async #command(what: string, build: (seq: number) => Uint8Array, timeoutMs: number): Promise<CcidResponse> {
    const response = await this.channel.command(this.slot, build, timeoutMs);
    if (response.commandStatus === 1) throw responseError(response, what);
    return response;
  }

  /**
   * IFDHICCPresence. A card "present and inactive" after we powered it means it was pulled and put back between two
   * looks (libccid `IFDHICCPresence`): that counts as absent once, so the daemon sees the removal.
   */
  async iccPresence(): Promise<boolean> {
    this.checkReader();
    // A reader that is gone answers IFD_NO_SUCH_DEVICE. libccid's IFDHICCPresence turns that into "no card" and leaves
    // the removal to pcscd's hotplug thread; here the answer itself tells the daemon the reader went, so it is passed on.
    const response = await this.channel.command(
      this.slot,
      (seq) => encodeGetSlotStatus(this.slot, seq),
      DEFAULT_TIMEOUT_MS,
    );
    switch (response.iccStatus) {
      case CCID_ICC_ABSENT:
        this.#forgetCard();
        return false;
      case CCID_ICC_PRESENT_INACTIVE:
        if (this.#poweredByUs && !this.#poweredDown) {
          this.#forgetCard();
          return false;
        }
        return true;
      default:
        return true;
    }
  }

  /** The card is gone (or was swapped): drop everything we knew about it. */
  #forgetCard(): void {
    this.#atr = undefined;
    this.#parsedAtr = undefined;
    this.#protocol = undefined;
    this.#t1 = undefined;
    this.#poweredByUs = false;
    this.#poweredDown = false;
    this.#readTimeoutMs = DEFAULT_TIMEOUT_MS;
    this.#fidi = 0x11;
  }

  /** Called by the reader when the interrupt pipe (or polling) reports a removal. */
  cardRemoved(): void {
    this.#forgetCard();
  }

  /**
   * The reader is gone (unplugged, or closed): from now on every call rejects with `error` (IFD_NO_SUCH_DEVICE), even
   * those the slot could answer from its own state, e.g. "no powered card" — the daemon must see the reader go.
   */
  readerGone(error: DriverError): void {
    this.#gone ??= error;
    this.#forgetCard();
  }

  /** Throws the reader-gone error, if the reader is gone. */
  protected checkReader(): void {
    const gone = this.#gone ?? this.reader.readerGone?.();
    if (gone !== undefined) throw gone;
  }

  /** IFDHPowerICC. */
  async power(action: PowerAction): Promise<Uint8Array> {
    this.checkReader();
    if (action === 'down') {
      this.#atr = undefined;
      this.#parsedAtr = undefined;
      this.#protocol = undefined;
      this.#t1 = undefined;
      this.#poweredDown = true;
      await this.#command('power off', (seq) => encodeIccPowerOff(this.slot, seq), DEFAULT_TIMEOUT_MS);
      return new Uint8Array(0);
    }
    const atr = await this.#powerOn();
    this.#poweredByUs = true;
    this.#poweredDown = false;
    this.#protocol = undefined;
    this.#t1 = undefined;
    this.#readTimeoutMs = DEFAULT_TIMEOUT_MS;
    this.#fidi = 0x11;
    this.#atr = atr;
    try {
      this.#parsedAtr = parseAtr(atr);
      for (const issue of this.#parsedAtr.issues) this.reader.log('warn', `slot ${this.slot}: ATR: ${issue.message}`);
    } catch (e) {
      // pcsc-lite keeps a card with an unusable ATR present (it cannot negotiate a protocol with it).
      this.#parsedAtr = undefined;
      this.reader.log('warn', `slot ${this.slot}: the card's ATR cannot be decoded: ${(e as Error).message}`);
    }
    return atr;
  }

  /**
   * PC_to_RDR_IccPowerOn with libccid's voltage selection (`CmdPowerOn`): automatic when the reader selects the
   * voltage or activates the card itself (dwFeatures 0x08 / 0x04); otherwise start at 5 V and on failure go on
   * 5 V → 1.8 V → 3 V until every voltage was tried. Unlike libccid, voltages missing from bVoltageSupport are
   * skipped in the retries too, not only at the start.
   */
  async #powerOn(): Promise<Uint8Array> {
    const d = this.reader.descriptor;
    const candidates: number[] = [];
    if ((d.dwFeatures & (CCID_CLASS_AUTO_VOLTAGE | CCID_CLASS_AUTO_ACTIVATION)) !== 0) {
      candidates.push(VOLTAGE_AUTO);
    } else {
      // bPowerSelect 1 = 5 V (bVoltageSupport bit 0), 3 = 1.8 V (bit 2), 2 = 3 V (bit 1).
      for (const [select, bit] of [
        [1, 1],
        [3, 4],
        [2, 2],
      ] as const) {
        if ((d.bVoltageSupport & bit) !== 0) candidates.push(select);
      }
      // A descriptor that claims no voltage at all: libccid still tries 5 V.
      if (candidates.length === 0) candidates.push(1);
    }
    let lastError: unknown;
    for (const select of candidates) {
      try {
        const response = await this.#command(
          `power on at ${VOLTAGE_NAMES[select]}`,
          (seq) => encodeIccPowerOn(this.slot, seq, select),
          POWER_ON_TIMEOUT_MS,
        );
        if (response.data.length === 0) {
          throw new DriverError(
            IFD.ERROR_POWER_ACTION,
            `the reader powered the card in slot ${this.slot} but sent no ATR`,
          );
        }
        if (response.data.length > MAX_ATR_SIZE) {
          // libccid cuts to MAX_ATR_SIZE silently; we cut and say so.
          this.reader.log(
            'warn',
            `slot ${this.slot}: the ATR has ${response.data.length} bytes; keeping the first ${MAX_ATR_SIZE}`,
          );
          return response.data.slice(0, MAX_ATR_SIZE);
        }
        return response.data.slice();
      } catch (e) {
        lastError = e;
        if (e instanceof CcidCommandError && e.code === IFD.ICC_NOT_PRESENT) break;
        if (!(e instanceof CcidCommandError)) break; // transport failure: no point trying other voltages
        this.reader.log('info', `slot ${this.slot}: ${e.message}`);
      }
    }
    if (lastError instanceof DriverError && lastError.code === IFD.NO_SUCH_DEVICE) throw lastError;
    if (lastError instanceof DriverError && lastError.code === IFD.ICC_NOT_PRESENT) throw lastError;
    throw new DriverError(
      IFD.ERROR_POWER_ACTION,
      `the card in slot ${this.slot} could not be powered up: ${(lastError as Error | undefined)?.message ?? 'no voltage to try'}`,
      { cause: lastError },
    );
  }

  /**
   * IFDHSetProtocolParameters: PPS when worth it, then SetParameters, the exchange timeout from the ATR, and at
   * TPDU level for T=1 the block protocol with its S(IFS) request (unless the reader exchanges IFSD itself).
   */
  async setProtocol(protocol: IfdProtocol): Promise<void> {
    this.checkReader();
    const wanted: 0 | 1 = protocol === 2 ? 1 : 0;
    if (this.#atr === undefined) {
      throw new DriverError(IFD.ICC_NOT_PRESENT, `slot ${this.slot}: the card is not powered; power it up first`);
    }
    const atr = this.#parsedAtr;
    if (atr === undefined) {
      throw new DriverError(
        IFD.PROTOCOL_NOT_SUPPORTED,
        `slot ${this.slot}: the card's ATR is malformed, no protocol can be chosen`,
      );
    }
    const d = this.reader.descriptor;
    const plan = planProtocol(atr, d, wanted, this.reader.dataRates);
    let fidi = plan.fidi;
    if (plan.doPps && plan.ppsRequest !== undefined) {
      const request = plan.ppsRequest;
      let answer: CcidResponse;
      try {
        answer = await this.#command(
          'PPS exchange',
          // At character level wLevelParameter says how many characters to receive: the echo is as long as the
          // request (ISO 7816-3 §9.3; libccid's PPS_Exchange asks for 4).
          (seq) => encodeXfrBlock(this.slot, seq, request, 0, this.reader.level === 'character' ? request.length : 0),
          DEFAULT_TIMEOUT_MS,
        );
      } catch (e) {
        if (e instanceof DriverError && (e.code === IFD.NO_SUCH_DEVICE || e.code === IFD.ICC_NOT_PRESENT)) throw e;
        throw new DriverError(
          IFD.ERROR_PTS_FAILURE,
          `slot ${this.slot}: PPS exchange failed: ${(e as Error).message}`,
          { cause: e },
        );
      }
      const check = checkPpsResponse(request, answer.data);
      if (!check.ok) {
        throw new DriverError(
          IFD.ERROR_PTS_FAILURE,
          `slot ${this.slot}: PPS refused: ${check.reason ?? 'no reason given'}`,
        );
      }
      fidi = check.pps1 ?? 0x11;
    }
    if (plan.doSetParameters) {
      const body = setParametersBody(wanted, atr, fidi);
      try {
        await this.#command(
          'set parameters',
          (seq) => encodeSetParameters(this.slot, seq, wanted, body),
          DEFAULT_TIMEOUT_MS,
        );
      } catch (e) {
        // libccid (CCID_Receive for SetParameters): bError 0 = the reader does not support the command, 1..127 = a
        // parameter it cannot change; both leave the reader's own (working) settings in place.
        if (!(e instanceof CcidCommandError) || e.bError > 0x7f) throw e;
        this.reader.log(
          'info',
          `slot ${this.slot}: SetParameters not taken (${e.message}); keeping the reader's settings`,
        );
      }
    }
    this.#fidi = fidi;
    this.#readTimeoutMs = exchangeTimeoutMs(atr, wanted, d.dwDefaultClock, fidi);
    this.#protocol = wanted;
    this.#t1 = undefined;
    if (wanted === 1 && (this.reader.level === 'tpdu' || this.reader.level === 'character')) {
      const ifsd = effectiveIfsd(d);
      const link = this.reader.level === 'tpdu' ? this.#t1Link() : this.#t1CharacterLink(atr.edc === 'crc' ? 2 : 1);
      const t1 = new T1Protocol(link, { ifsc: atr.ifsc, ifsd, edc: atr.edc });
      if ((d.dwFeatures & CCID_CLASS_AUTO_IFSD) === 0) {
        await t1.sendIfsRequest(ifsd);
      }
      this.#t1 = t1;
    }
  }

  /**
   * One character-level exchange (CCID 1.1 §6.1.4): XfrBlock with the characters to send and, in wLevelParameter,
   * how many the reader must receive; the answer must be exactly that many.
   */
  #characterExchange(timeoutMs: () => number): CharacterExchange {
    return async (data, expected) => {
      const response = await this.#command(
        'character exchange',
        (seq) => encodeXfrBlock(this.slot, seq, data, 0, expected),
        timeoutMs(),
      );
      return response.data.slice();
    };
  }

  /**
   * T=1 on a character-level reader: a block's length is only known from its prologue (ISO 7816-3 §11.3.1), so the
   * block goes out with 3 characters asked back (NAD PCB LEN), then LEN + EDC more are read. libccid sends T=1 blocks
   * to such readers as at TPDU level, which leaves the reader to guess how much to receive.
   */
  #t1CharacterLink(edcLength: 1 | 2): T1Link {
    return {
      exchange: async (block, wtx) => {
        const exchange = this.#characterExchange(() => this.#readTimeoutMs * Math.max(1, wtx));
        try {
          const prologue = await exchange(block, 3);
          const restLength = prologue[2]! + edcLength;
          const rest = prologue.length === 3 ? await exchange(new Uint8Array(0), restLength) : new Uint8Array(0);
          if (prologue.length !== 3 || rest.length !== restLength) {
            throw new DriverError(
              IFD.COMMUNICATION_ERROR,
              `the reader returned ${prologue.length}+${rest.length} characters of a T=1 block, ` +
                `3+${restLength} were asked for (CCID 1.1 §6.1.4 wLevelParameter)`,
            );
          }
          const out = new Uint8Array(3 + rest.length);
          out.set(prologue);
          out.set(rest, 3);
          return out;
        } catch (e) {
          if (e instanceof CcidCommandError && e.code !== IFD.ICC_NOT_PRESENT) {
            if (e.bError === CCID_ERR.XFR_PARITY_ERROR) throw new T1ReceiveError('parity', e.message);
            if (e.bError === CCID_ERR.ICC_MUTE) throw new T1ReceiveError('timeout', e.message);
          }
          if (e instanceof DriverError && e.code === IFD.RESPONSE_TIMEOUT) {
            throw new T1ReceiveError('timeout', e.message);
          }
          throw e;
        }
      },
    };
  }

  /** The T=1 link over PC_to_RDR_XfrBlock: bBWI carries the WTX multiplier (CCID 1.1 §6.1.4), as libccid does. */
  #t1Link(): T1Link {
    // What a block's response or failure means for T=1, made once per link: each exchange only chains them onto its
    // command (no async function per block; bench/README.md, the T=1 ECHO).
    const answer = (response: CcidResponse): Uint8Array => {
      if (response.commandStatus === 1) {
        if (response.error === CCID_ERR.XFR_PARITY_ERROR)
          throw new T1ReceiveError('parity', 'the reader reported a parity error');
        if (response.error === CCID_ERR.ICC_MUTE && response.iccStatus !== CCID_ICC_ABSENT) {
          throw new T1ReceiveError('timeout', 'the card did not answer within the block waiting time');
        }
        throw responseError(response, 'T=1 block exchange');
      }
      return response.data;
    };
    const failure = (e: unknown): never => {
      if (e instanceof DriverError && e.code === IFD.RESPONSE_TIMEOUT) {
        throw new T1ReceiveError('timeout', e.message);
      }
      throw e;
    };
    return {
      // The protocol leaves room for the XfrBlock header before each block: the message is framed in place.
      headroom: CCID_HEADER_SIZE,
      exchange: (message, wtx) => {
        const bwi = wtx > 1 ? Math.min(wtx, 0xff) : 0;
        let sent: Promise<CcidResponse>;
        try {
          sent = this.channel.command(
            this.slot,
            (seq) => frameXfrBlock(message, this.slot, seq, bwi),
            this.#readTimeoutMs * Math.max(1, wtx),
          );
        } catch (e) {
          sent = Promise.reject(e);
        }
        return sent.then(answer, failure);
      },
    };
  }

  /** IFDHTransmitToICC: one command APDU, one response APDU. */
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    this.checkReader();
    if (this.#atr === undefined) {
      throw new DriverError(IFD.ICC_NOT_PRESENT, `slot ${this.slot}: no powered card to send the command to`);
    }
    if (apdu.length < 4) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `a command APDU needs at least 4 bytes (CLA INS P1 P2), got ${apdu.length}`,
      );
    }
    const level = this.reader.level;
    const protocol = this.#protocol;
    if (protocol === undefined) {
      throw new DriverError(IFD.PROTOCOL_NOT_SUPPORTED, `slot ${this.slot}: no protocol was set up for the card`);
    }
    let response: Uint8Array;
    if (level === 'character' && protocol === 0) {
      response = await transmitT0Characters(
        this.#characterExchange(() => this.#readTimeoutMs),
        apdu,
      );
    } else if (level === 'tpdu' || level === 'character') {
      if (protocol === 1) {
        const t1 = this.#t1;
        if (t1 === undefined) throw new DriverError(IFD.COMMUNICATION_ERROR, `slot ${this.slot}: T=1 is not set up`);
        response = await t1.transceive(apdu);
      } else {
        const tpdu = apduToT0Tpdu(apdu);
        this.#checkFits(tpdu.length);
        const answer = await this.#command(
          'transmit',
          (seq) => encodeXfrBlock(this.slot, seq, tpdu),
          this.#readTimeoutMs,
        );
        response = answer.data.slice();
      }
    } else {
      response = await this.#transmitApduLevel(apdu, level);
    }
    if (response.length < 2) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `slot ${this.slot}: the reader returned ${response.length} byte(s), a response APDU has at least SW1 SW2`,
      );
    }
    return response;
  }

  #checkFits(length: number): void {
    const max = this.reader.descriptor.dwMaxCCIDMessageLength - 10;
    if (length > max) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `the command (${length} bytes) is longer than this reader accepts in one message (${max} bytes, dwMaxCCIDMessageLength)`,
      );
    }
  }

  /**
   * Short and extended APDU levels (CCID 1.1 §6.1.4): the reader runs the card protocol. A command longer than one
   * message goes in chunks (wLevelParameter 01, 03…, 02), each answered by an empty DataBlock; a response in parts
   * (bChainParameter 01/03/10) is pulled with empty XfrBlocks carrying wLevelParameter 10, as libccid
   * `CmdXfrBlockAPDU_extended` does. Short-APDU readers get chaining too for long short APDUs; an extended APDU needs an
   * extended-APDU reader.
   */
  async #transmitApduLevel(apdu: Uint8Array, level: ExchangeLevel): Promise<Uint8Array> {
    const shape = classifyApdu(apdu);
    if (level === 'short-apdu' && shape !== undefined && isExtended(shape)) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        'this reader exchanges short APDUs only (CCID short APDU level); it cannot carry an extended-length APDU',
      );
    }
    const maxChunk = this.reader.descriptor.dwMaxCCIDMessageLength - 10;
    if (maxChunk < 1)
      throw new DriverError(IFD.COMMUNICATION_ERROR, 'the reader announces no room for data in its messages');
    const timeout = this.#readTimeoutMs;
    let response: CcidResponse;
    if (apdu.length <= maxChunk) {
      response = await this.#command('transmit', (seq) => encodeXfrBlock(this.slot, seq, apdu, 0, CHAIN_NONE), timeout);
    } else {
      let offset = 0;
      let chain = CHAIN_BEGIN;
      for (;;) {
        const part = apdu.subarray(offset, offset + maxChunk);
        const level = chain;
        response = await this.#command('transmit', (seq) => encodeXfrBlock(this.slot, seq, part, 0, level), timeout);
        offset += part.length;
        if (chain === CHAIN_END) break;
        chain = apdu.length - offset > maxChunk ? CHAIN_CONTINUE : CHAIN_END;
      }
    }
    const first = response.param;
    if (
      level === 'extended-apdu' &&
      first !== CHAIN_NONE &&
      first !== CHAIN_BEGIN &&
      first !== CHAIN_END &&
      first !== CHAIN_CONTINUE &&
      first !== CHAIN_EMPTY_NEXT
    ) {
      // An undefined value cannot be read as "complete": the rest of a chained response would be lost and the
      // application would get a truncated response as if it were whole. (Short-APDU readers may leave the RFU byte
      // as they like: there it is not checked, as libccid does not.)
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `the reader sent bChainParameter 0x${first.toString(16)}, not defined by CCID 1.1 §6.2.1; the response is unusable`,
      );
    }
    if (first !== CHAIN_BEGIN && first !== CHAIN_CONTINUE && first !== CHAIN_EMPTY_NEXT) {
      return response.data.slice();
    }
    const parts: Uint8Array[] = [response.data.slice()];
    let total = response.data.length;
    let chainParam = first;
    while (chainParam === CHAIN_BEGIN || chainParam === CHAIN_CONTINUE || chainParam === CHAIN_EMPTY_NEXT) {
      response = await this.#command(
        'receive the next part of the response',
        (seq) => encodeXfrBlock(this.slot, seq, new Uint8Array(0), 0, CHAIN_EMPTY_NEXT),
        timeout,
      );
      total += response.data.length;
      if (total > MAX_RESPONSE) {
        throw new DriverError(
          IFD.COMMUNICATION_ERROR,
          `the reader's chained response exceeds ${MAX_RESPONSE} bytes, the largest response APDU; giving up`,
        );
      }
      parts.push(response.data.slice());
      chainParam = response.param;
      if (
        chainParam !== CHAIN_NONE &&
        chainParam !== CHAIN_BEGIN &&
        chainParam !== CHAIN_END &&
        chainParam !== CHAIN_CONTINUE &&
        chainParam !== CHAIN_EMPTY_NEXT
      ) {
        throw new DriverError(
          IFD.COMMUNICATION_ERROR,
          `the reader sent bChainParameter 0x${chainParam.toString(16)}, not defined by CCID 1.1 §6.2.1`,
        );
      }
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Exposed for the reader's PIN and escape paths, which need the same timeout. */
  get readTimeoutMs(): number {
    return this.#readTimeoutMs;
  }
}

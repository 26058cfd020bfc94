import { readerAttribute, maxInputFor, webUsbChannelId } from './attributes.js';
import { DriverError, IFD } from '../ifd/errors.js';
import type { IfdSlot } from '../ifd/ifd.js';
import type { ReaderQuirks } from './known-readers.js';
import {
  encodeEscape,
  encodeSecure,
  encodeXfrBlock,
  pinFailureStatusWord,
  responseError,
  type CcidResponse,
} from './messages.js';
import {
  featureTlvs,
  isEscapeIoctl,
  isGetFeatureRequest,
  IOCTL_FEATURE_GET_TLV_PROPERTIES,
  IOCTL_FEATURE_IFD_PIN_PROPERTIES,
  IOCTL_FEATURE_MODIFY_PIN_DIRECT,
  IOCTL_FEATURE_VERIFY_PIN_DIRECT,
  parsePinModifyStructure,
  parsePinVerifyStructure,
  parseT1SecureReply,
  pinProperties,
  secureBodyFromModify,
  secureBodyFromVerify,
  t1WtxResponse,
  tlvProperties,
  type SecureBody,
} from './part10.js';
import { CcidSlot, type CommandChannel, type SlotReaderInfo } from './slot.js';
import { ESCAPE_TIMEOUT_MS } from './timeouts.js';

/** What the part-10, escape and attribute paths need to know about the reader, beyond what a plain slot needs. */
export interface ReaderSlotInfo extends SlotReaderInfo {
  quirks: ReaderQuirks;
  vendorId: number;
  productId: number;
  bcdDevice: number;
  vendorName: string;
  serialNumber: string | undefined;
  allowEscape: boolean;
  /** Index of the reader among those the driver opened (for CHANNEL_ID). */
  readerIndex?: number;
}

/**
 * A slot as the daemon sees it (IfdSlot): the card slot plus IFDHControl (PC/SC v2 part 10 and escape),
 * IFDHGetCapabilities / IFDHSetCapabilities and card events.
 */
export class CcidReaderSlot extends CcidSlot implements IfdSlot {
  readonly #listeners = new Set<(present: boolean) => void>();
  #present: boolean | undefined;

  constructor(
    slot: number,
    channel: CommandChannel,
    private readonly info: ReaderSlotInfo,
  ) {
    super(slot, channel, info);
    this.#channel = channel;
  }

  readonly #channel: CommandChannel;

  /** The reader reported a card change for this slot (interrupt-IN or polling). */
  cardEvent(present: boolean): void {
    if (present && this.#present === true) {
      // Removed and inserted again between two notifications (CCID 1.1 §6.3.1: "changed" with "present"): the
      // daemon must see the removal, or it would keep using the old card's state.
      this.cardRemoved();
      this.#emit(false);
    }
    if (!present) this.cardRemoved();
    if (this.#present === present) return;
    this.#emit(present);
  }

  #emit(present: boolean): void {
    this.#present = present;
    for (const l of [...this.#listeners]) l(present);
  }

  onCardEvent(listener: (present: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  override async iccPresence(): Promise<boolean> {
    const present = await super.iccPresence();
    this.#present = present;
    return present;
  }

  /** IFDHGetCapabilities for the attributes libccid answers; undefined for the others (pcscd adds its own). */
  getAttribute(tag: number): Uint8Array | undefined {
    const d = this.info.descriptor;
    const state: Parameters<typeof readerAttribute>[1] = {
      present: this.#present ?? this.powered,
      powered: this.powered,
      bcdDevice: this.info.bcdDevice,
      maxInput: maxInputFor(d.dwMaxCCIDMessageLength),
      channelId: webUsbChannelId(this.info.readerIndex ?? 0),
      vendorName: this.info.vendorName,
    };
    if (this.atr !== undefined) state.atr = this.atr;
    if (this.info.serialNumber !== undefined) state.serial = this.info.serialNumber;
    return readerAttribute(tag, state);
  }

  /** IFDHSetCapabilities: libccid accepts no attribute (pcscd then answers SCARD_E_UNSUPPORTED_FEATURE). */
  async setAttribute(tag: number, _value: Uint8Array): Promise<void> {
    this.checkReader();
    throw new DriverError(IFD.ERROR_NOT_SUPPORTED, `the reader driver has no settable attribute 0x${tag.toString(16)}`);
  }

  /**
   * IFDHControl (libccid `IFDHControl`): the part 10 feature list, PIN properties, TLV properties, VERIFY/MODIFY PIN
   * on readers with a PIN pad, and PC_to_RDR_Escape when allowed. Anything else is IFD_ERROR_NOT_SUPPORTED, which pcscd
   * returns as SCARD_E_UNSUPPORTED_FEATURE.
   */
  async control(code: number, input: Uint8Array): Promise<Uint8Array> {
    this.checkReader();
    const d = this.info.descriptor;
    const q = this.info.quirks;
    if (isGetFeatureRequest(code)) {
      const args: Parameters<typeof featureTlvs>[0] = { descriptor: d, escapeAllowed: this.info.allowEscape };
      if (q.mctReaderDirect === true) args.mctReaderDirect = true;
      return featureTlvs(args);
    }
    if (code === IOCTL_FEATURE_IFD_PIN_PROPERTIES && d.bPINSupport !== 0) {
      return pinProperties(d, q.pinProperties ?? {});
    }
    if (code === IOCTL_FEATURE_GET_TLV_PROPERTIES) {
      return tlvProperties({
        descriptor: d,
        vendorId: this.info.vendorId,
        productId: this.info.productId,
        escapeAllowed: this.info.allowEscape,
      });
    }
    if (code === IOCTL_FEATURE_VERIFY_PIN_DIRECT && (d.bPINSupport & 0x01) !== 0) {
      const pvs = parsePinVerifyStructure(input);
      return this.#secure(pvs.secureTimeoutMs, (t1) => secureBodyFromVerify(pvs, withT1({ fixes: q.pinVerify }, t1)));
    }
    if (code === IOCTL_FEATURE_MODIFY_PIN_DIRECT && (d.bPINSupport & 0x02) !== 0) {
      const pms = parsePinModifyStructure(input);
      return this.#secure(pms.secureTimeoutMs, (t1) => secureBodyFromModify(pms, withT1({ fixes: q.pinModify }, t1)));
    }
    if (isEscapeIoctl(code)) {
      if (!this.info.allowEscape) {
        throw new DriverError(
          IFD.ERROR_NOT_SUPPORTED,
          "escape commands to the reader are disabled; the user must allow them for this reader (as libccid's ifdDriverOptions 0x01)",
        );
      }
      const response = await this.#channel.command(
        this.slot,
        (seq) => encodeEscape(this.slot, seq, input),
        ESCAPE_TIMEOUT_MS,
      );
      if (response.commandStatus === 1) throw responseError(response, 'escape command');
      return response.data.slice();
    }
    throw new DriverError(
      IFD.ERROR_NOT_SUPPORTED,
      `control code 0x${code.toString(16)} is not supported by this reader`,
    );
  }

  /**
   * PC_to_RDR_Secure. On a TPDU reader talking T=1 the PIN command travels in an I-block the reader completes, so the
   * driver provides the prologue from its T=1 state and strips the reply's block framing (libccid
   * `SecurePINVerify`): WTX requests in between are answered here.
   */
  async #secure(
    timeoutMs: number,
    build: (t1: { ns: number; nr: number; ifsc: number } | undefined) => SecureBody,
  ): Promise<Uint8Array> {
    if (this.atr === undefined) {
      throw new DriverError(IFD.ICC_NOT_PRESENT, `slot ${this.slot}: no powered card for the PIN command`);
    }
    const t1 = this.protocol === 1 && this.info.level === 'tpdu' ? this.t1 : undefined;
    const before = t1?.sequence;
    const secure = build(t1 === undefined ? undefined : { ...t1.sequence, ifsc: t1.ifsc });
    let response: CcidResponse = await this.#channel.command(
      this.slot,
      (seq) => encodeSecure(this.slot, seq, secure.body),
      timeoutMs,
    );
    if (t1 === undefined) {
      return this.#secureResult(response);
    }
    // T=1 TPDU: the answer is a block (or a status word the reader made up from a PIN failure).
    for (let rounds = 0; rounds < 1024; rounds++) {
      const status = pinFailureStatusWord(response);
      if (status !== undefined) {
        if (before !== undefined) t1.setSequence(before);
        return status;
      }
      if (response.commandStatus === 1) throw responseError(response, 'PIN command');
      const reply = parseT1SecureReply(response.data, t1.edcKind);
      if (reply.kind === 'status') {
        if (before !== undefined) t1.setSequence(before);
        return reply.sw;
      }
      if (reply.kind === 'data') {
        if (secure.t1 !== undefined) t1.setSequence(secure.t1);
        return reply.data;
      }
      const wtx = t1WtxResponse(reply.multiplier, t1.edcKind);
      response = await this.#channel.command(
        this.slot,
        // libccid sends the S(WTX response) in a plain XfrBlock with bBWI = the multiplier.
        (seq) => encodeXfrBlock(this.slot, seq, wtx, Math.min(0xff, Math.max(0, reply.multiplier))),
        this.readTimeoutMs * Math.max(1, reply.multiplier),
      );
    }
    throw new DriverError(IFD.COMMUNICATION_ERROR, 'the card kept asking for more time during the PIN command');
  }

  #secureResult(response: CcidResponse): Uint8Array {
    const status = pinFailureStatusWord(response);
    if (status !== undefined) return status;
    if (response.commandStatus === 1) throw responseError(response, 'PIN command');
    return response.data.slice();
  }
}

function withT1<F>(
  options: { fixes?: F | undefined },
  t1: { ns: number; nr: number; ifsc: number } | undefined,
): { fixes?: F; t1?: { ns: number; nr: number; ifsc: number } } {
  const out: { fixes?: F; t1?: { ns: number; nr: number; ifsc: number } } = {};
  if (options.fixes !== undefined) out.fixes = options.fixes;
  if (t1 !== undefined) out.t1 = t1;
  return out;
}

/**
 * What the simulated card does with an APDU (ISO/IEC 7816-4): the project's benchmark applications.
 *
 * | command | answer |
 * |---|---|
 * | `00 A4 04 00 Lc AID [Le]` SELECT by DF name (§11.2.2; a right-truncated AID of at least 5 bytes, the RID, selects the first application it starts) | `90 00`; unknown AID `6A 82` |
 * | `00 A4 00 P2 [02 3F 00] [Le]` SELECT MF | `90 00`, plus an FCI (`6F`) when P2 = 00 and Le is present |
 * | `00 00 00 00` with the hello-world applet selected | `Hello world!` `90 00` |
 * | `00 84 00 00 Le` GET CHALLENGE (§11.6.2) | Ne seeded pseudo-random bytes `90 00`; no Le `67 00` |
 * | `80 EE P1 P2 Lc data [Le]` ECHO (short or extended) | the data `90 00` |
 * | `00 20 00 80 [Lc PIN]` VERIFY (§11.5.6) with the PIN applet selected | `90 00`, `63 Cx`, `69 83` when blocked; without data: `90 00` if verified, else `63 Cx` |
 * | `00 24 00 80 Lc old‖new` CHANGE REFERENCE DATA (§11.5.7) with the PIN applet selected; the old PIN is as long as the current one | `90 00` (the new PIN is set, tries restored), `63 Cx`, `69 83` when blocked |
 * | CLA other than 00 and 80 | `6E 00` |
 * | any other instruction (also `00 00 00 00` and VERIFY when their applet is not selected) | `6D 00` |
 * | bytes that are no APDU (§5.1) | `67 00` |
 *
 * GET CHALLENGE and ECHO answer whatever is selected. Selection and PIN verification are forgotten at reset; the PIN
 * try counter is kept (it lives in the card's non-volatile memory).
 */

import { parseCommandApdu, SW, type CommandApdu, type ResponseApdu } from './apdu.js';
import { ChallengeSource } from './challenge.js';

/** AID of the hello-world applet. */
export const HELLO_WORLD_AID: Uint8Array = Uint8Array.of(0xa0, 0x00, 0x00, 0x00, 0x62, 0x03, 0x01, 0x0c, 0x06, 0x01);
/** Default AID of the PIN applet: the OpenPGP application's RID and PIX prefix. */
export const PIN_APPLET_AID: Uint8Array = Uint8Array.of(0xd2, 0x76, 0x00, 0x01, 0x24, 0x01);
/** The FCI of the MF answered to SELECT MF with P2 = 00 and Le: file identifier 3F00, file descriptor "DF". */
export const MF_FCI: Uint8Array = Uint8Array.of(0x6f, 0x07, 0x83, 0x02, 0x3f, 0x00, 0x82, 0x01, 0x38);

const HELLO_WORLD = new TextEncoder().encode('Hello world!');
const EMPTY = new Uint8Array(0);

export interface CardApplicationsOptions {
  /** Seed of the GET CHALLENGE generator (default 0x5eed). */
  seed?: number;
  /** The PIN applet's reference data (default "1234" in ASCII). */
  pin?: Uint8Array | string;
  /** VERIFY tries before the PIN blocks (default 3, at most 15 so it fits 63 Cx). */
  pinTries?: number;
  /** AID the PIN applet is selected by (default PIN_APPLET_AID). */
  pinAid?: Uint8Array;
}

/**
 * How a T=0 card reads P3 for an instruction (ISO/IEC 7816-3 §10.3.2, §12.2): a count of data bytes the card asks
 * for, a count it sends, or neither (P3 = 00 is case 1; the card then treats another P3 as Le).
 */
export type T0Transfer = 'incoming' | 'outgoing' | 'none';

type Selection = 'none' | 'mf' | 'hello' | 'pin';

function respond(sw: number, data: Uint8Array = EMPTY): ResponseApdu {
  return { data, sw };
}

function startsWith(aid: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > aid.length) return false;
  for (let i = 0; i < prefix.length; i++) if (aid[i] !== prefix[i]) return false;
  return true;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && startsWith(a, b);
}

export class CardApplications {
  private selection: Selection = 'none';
  private pinVerified = false;
  private triesLeft: number;
  private readonly maxTries: number;
  private pin: Uint8Array;
  private readonly pinAid: Uint8Array;
  private readonly challenge: ChallengeSource;

  constructor(options: CardApplicationsOptions = {}) {
    const tries = options.pinTries ?? 3;
    if (!Number.isInteger(tries) || tries < 1 || tries > 15) {
      throw new RangeError(`pinTries must be an integer from 1 to 15 (63 Cx carries it in one nibble), got ${tries}`);
    }
    this.maxTries = tries;
    this.triesLeft = tries;
    const pin = options.pin ?? '1234';
    this.pin = typeof pin === 'string' ? new TextEncoder().encode(pin) : Uint8Array.from(pin);
    if (this.pin.length < 1 || this.pin.length > 255) throw new RangeError('the PIN must be 1 to 255 bytes long');
    this.pinAid = Uint8Array.from(options.pinAid ?? PIN_APPLET_AID);
    if (this.pinAid.length < 5 || this.pinAid.length > 16)
      throw new RangeError('an AID is 5 to 16 bytes (ISO/IEC 7816-4 §8.2.1.2)');
    this.challenge = new ChallengeSource(options.seed ?? 0x5eed);
  }

  /** VERIFY tries left before the PIN blocks. */
  get pinTriesLeft(): number {
    return this.triesLeft;
  }

  /** What is selected: 'none' after reset, 'mf', 'hello' or 'pin'. */
  get selected(): Selection {
    return this.selection;
  }

  /** Card reset: nothing selected, PIN verification forgotten (the try counter stays). */
  reset(): void {
    this.selection = 'none';
    this.pinVerified = false;
  }

  /**
   * Runs one APDU given as bytes, and honours Ne: data beyond Ne are cut (a response of more than 256 bytes to a short
   * Le ends at 256). Without Le the whole response comes back, as the benchmark's ECHO and hello-world expect.
   */
  processApdu(apdu: Uint8Array): ResponseApdu {
    const command = parseCommandApdu(apdu);
    if (command === null) return respond(SW.WRONG_LENGTH);
    const response = this.execute(command);
    if (command.ne > 0 && response.data.length > command.ne) {
      return { data: response.data.subarray(0, command.ne), sw: response.sw };
    }
    return response;
  }

  /** Runs one parsed command; the response is not cut to Ne (the transmission protocol decides, e.g. T=0's 6Cxx). */
  execute(command: CommandApdu): ResponseApdu {
    if (command.cla === 0x00) {
      switch (command.ins) {
        case 0xa4:
          return this.select(command);
        case 0x84:
          return this.getChallenge(command);
        case 0x20:
          return this.selection === 'pin' ? this.verify(command) : respond(SW.INS_NOT_SUPPORTED);
        case 0x24:
          return this.selection === 'pin' ? this.changeReferenceData(command) : respond(SW.INS_NOT_SUPPORTED);
        case 0x00:
          return this.selection === 'hello' && command.p1 === 0 && command.p2 === 0
            ? respond(SW.OK, HELLO_WORLD)
            : respond(SW.INS_NOT_SUPPORTED);
        default:
          return respond(SW.INS_NOT_SUPPORTED);
      }
    }
    if (command.cla === 0x80) {
      return command.ins === 0xee ? respond(SW.OK, command.data) : respond(SW.INS_NOT_SUPPORTED);
    }
    return respond(SW.CLA_NOT_SUPPORTED);
  }

  /** The T=0 meaning of P3 for this instruction (see T0Transfer). */
  t0Transfer(cla: number, ins: number): T0Transfer {
    if (cla === 0x00) {
      if (ins === 0xa4 || ins === 0x20 || ins === 0x24) return 'incoming';
      if (ins === 0x84) return 'outgoing';
      return 'none';
    }
    if (cla === 0x80 && ins === 0xee) return 'incoming';
    return 'none';
  }

  private select(c: CommandApdu): ResponseApdu {
    // §11.2.2: only "first or only occurrence" (P2 bits 2-1 = 00) is supported.
    if ((c.p2 & 0x03) !== 0) return respond(SW.INCORRECT_P1P2);
    if (c.p1 === 0x04) {
      if (c.data.length < 5 || c.data.length > 16) return respond(SW.FILE_NOT_FOUND);
      if (startsWith(HELLO_WORLD_AID, c.data)) this.selection = 'hello';
      else if (startsWith(this.pinAid, c.data)) this.selection = 'pin';
      else return respond(SW.FILE_NOT_FOUND);
      this.pinVerified = false;
      return respond(SW.OK);
    }
    if (c.p1 === 0x00) {
      const isMf = c.data.length === 0 || (c.data.length === 2 && c.data[0] === 0x3f && c.data[1] === 0x00);
      if (!isMf) return respond(SW.FILE_NOT_FOUND);
      this.selection = 'mf';
      this.pinVerified = false;
      // P2 bits 4-3: 00 return FCI, 01 FCP, 10 FMD, 11 no response data.
      const wantsFci = (c.p2 & 0x0c) !== 0x0c;
      return respond(SW.OK, wantsFci && c.ne > 0 ? MF_FCI : EMPTY);
    }
    return respond(SW.INCORRECT_P1P2);
  }

  private getChallenge(c: CommandApdu): ResponseApdu {
    if (c.p1 !== 0 || c.p2 !== 0) return respond(SW.INCORRECT_P1P2);
    if (c.ne === 0 || c.data.length !== 0) return respond(SW.WRONG_LENGTH);
    return respond(SW.OK, this.challenge.fill(new Uint8Array(c.ne)));
  }

  /**
   * CHANGE REFERENCE DATA with P1 = 00 (ISO/IEC 7816-4 §11.5.7): the data field is the current PIN followed by the new
   * one. A wrong current PIN counts as a failed verification.
   */
  private changeReferenceData(c: CommandApdu): ResponseApdu {
    if (c.p1 !== 0x00 || c.p2 !== 0x80) return respond(SW.INCORRECT_P1P2);
    if (this.triesLeft === 0) return respond(SW.AUTH_BLOCKED);
    const old = c.data.subarray(0, this.pin.length);
    const next = c.data.subarray(this.pin.length);
    if (next.length === 0) return respond(SW.WRONG_LENGTH);
    if (!equalBytes(old, this.pin)) {
      this.triesLeft--;
      this.pinVerified = false;
      return respond(SW.VERIFY_FAILED | this.triesLeft);
    }
    this.pin = next.slice();
    this.triesLeft = this.maxTries;
    this.pinVerified = true;
    return respond(SW.OK);
  }

  private verify(c: CommandApdu): ResponseApdu {
    if (c.p1 !== 0x00 || c.p2 !== 0x80) return respond(SW.INCORRECT_P1P2);
    if (this.triesLeft === 0) return respond(SW.AUTH_BLOCKED);
    if (c.data.length === 0) {
      // §11.5.6: an empty VERIFY asks whether verification is still needed.
      return respond(this.pinVerified ? SW.OK : SW.VERIFY_FAILED | this.triesLeft);
    }
    if (equalBytes(c.data, this.pin)) {
      this.triesLeft = this.maxTries;
      this.pinVerified = true;
      return respond(SW.OK);
    }
    this.triesLeft--;
    this.pinVerified = false;
    return respond(SW.VERIFY_FAILED | this.triesLeft);
  }
}

/**
 * ICCD (USB-ICC, ISO/IEC 7816-12): USB tokens whose chip speaks over the control pipe instead of bulk messages.
 * bInterfaceProtocol 1 = version A, 2 = version B (libccid `ccid.h` PROTOCOL_ICCD_A/B), on class 0x0B or on a vendor
 * class 0xFF interface carrying the CCID class descriptor.
 *
 * The driver keeps speaking CCID messages: the transport hands each PC_to_RDR message to `iccdExchange`, which does
 * the ICCD class requests (bmRequestType 0x21 out / 0xA1 in, wIndex = the interface) and answers with the RDR_to_PC
 * message a CCID reader would have sent. So power, presence, protocol and APDU code stay one. Requests, as libccid
 * drives them (`commands.c`, facts only):
 *
 * - Version A (T=0 tokens; the token runs the procedure bytes): ICC_POWER_ON 0x62 IN → the ATR; ICC_POWER_OFF 0x63
 *   OUT; GET_ICC_STATUS 0xA0 IN → bStatusByte (0x40 busy: ask again; 0x80 no card / mute; 0x10 the token expects
 *   data or holds response data; 0x20 the status bytes are ready); XFR_BLOCK 0x65 OUT (the 5-byte header, then the
 *   command data); DATA_BLOCK 0x6F IN (response data, then SW1 SW2).
 * - Version B (APDU level, chaining like CCID's extended level): ICC_POWER_ON 0x62 OUT (wValue 1); ICC_POWER_OFF
 *   0x63 OUT; SLOT_STATUS 0x81 IN → bResponseType 0x40, bStatus, bError; XFR_BLOCK 0x65 OUT with bLevelParameter in
 *   wValue's high byte; DATA_BLOCK 0x6F IN → bResponseType (0x00 the data, 0x01/0x02/0x03/0x10 chaining as CCID's
 *   bChainParameter, 0x40 status information + bStatus + bError, 0x80 poll again after wDelay × 10 ms) then data.
 */
import {
  CCID_HEADER_SIZE,
  PC_to_RDR_GetSlotStatus,
  PC_to_RDR_IccPowerOff,
  PC_to_RDR_IccPowerOn,
  PC_to_RDR_XfrBlock,
  RDR_to_PC_SlotStatus,
  RESPONSE_TYPE_FOR,
} from './constants.js';
import { DriverError, IFD } from '../ifd/errors.js';

export type IccdVersion = 'A' | 'B';

import * as ICCD_REQUEST from './iccd-request.js';
export { ICCD_REQUEST };

/** Version A bStatusByte bits (ISO/IEC 7816-12 §7; libccid CmdGetSlotStatus). */
const A_BUSY = 0x40;
const A_MUTE = 0x80;
const A_DATA = 0x10;
const A_STATUS_BYTES = 0x20;
/** Version B bResponseType (ISO/IEC 7816-12 §8; libccid CCID_Receive). */
const B_STATUS = 0x40;
const B_POLL = 0x80;
/** libccid asks a version A token for its status again after 10 ms while it is busy. */
const A_BUSY_POLL_MS = 10;
/** A control transfer carries at most wLength 0xFFFF; libccid caps ICCD reads at 0x1000 (usb_control_msg limits). */
const MAX_READ = 0x1000;

/** What iccdExchange needs from the transport: control transfers on the claimed interface, and a clock. */
export interface IccdChannel {
  controlIn(request: number, value: number, length: number): Promise<Uint8Array>;
  controlOut(request: number, value: number, data: Uint8Array): Promise<void>;
  sleep(ms: number): Promise<void>;
  /** True once the exchange's timeout has passed: polling loops stop. */
  expired(): boolean;
}

/** An RDR_to_PC message of `type` (CCID 1.1 §6.2): header, then data. */
function response(
  type: number,
  msg: Uint8Array,
  iccStatus: number,
  failed: boolean,
  error: number,
  byte9: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(CCID_HEADER_SIZE + data.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, data.length, true);
  out[5] = msg[5]!;
  out[6] = msg[6]!;
  out[7] = (failed ? 0x40 : 0) | (iccStatus & 0x03);
  out[8] = error;
  out[9] = byte9;
  out.set(data, CCID_HEADER_SIZE);
  return out;
}

/** CCID 1.1 §6.2.6 bError 0: the command is not supported (ICCD has no SetParameters, Escape, Secure...). */
function notSupported(msg: Uint8Array): Uint8Array {
  return response(RDR_to_PC_SlotStatus, msg, 0, true, 0x00, 0);
}

const ICC_MUTE = 0xfe;

/**
 * Runs one CCID command `msg` on an ICCD token and returns the RDR_to_PC message a CCID reader would have answered.
 * Transfer failures reject (the transport maps them); a token that stays busy past the timeout rejects with
 * IFD_RESPONSE_TIMEOUT.
 */
export async function iccdExchange(version: IccdVersion, channel: IccdChannel, msg: Uint8Array): Promise<Uint8Array> {
  const type = msg[0]!;
  const data = msg.subarray(CCID_HEADER_SIZE);
  const reply = RESPONSE_TYPE_FOR[type] ?? RDR_to_PC_SlotStatus;
  if (version === 'A') {
    switch (type) {
      case PC_to_RDR_GetSlotStatus: {
        const s = await statusA(channel);
        return response(reply, msg, s === A_MUTE ? 2 : 0, false, 0, 0);
      }
      case PC_to_RDR_IccPowerOff:
        await channel.controlOut(ICCD_REQUEST.ICC_POWER_OFF, 0, new Uint8Array(0));
        return response(reply, msg, 1, false, 0, 0);
      case PC_to_RDR_IccPowerOn: {
        // libccid: power off first to reset the token's state machine, wait until it is ready, then ICC_POWER_ON.
        await channel.controlOut(ICCD_REQUEST.ICC_POWER_OFF, 0, new Uint8Array(0));
        if ((await statusA(channel)) === A_MUTE) return response(reply, msg, 2, true, ICC_MUTE, 0);
        const atr = await channel.controlIn(ICCD_REQUEST.ICC_POWER_ON, 0, 33);
        if (atr.length === 0) return response(reply, msg, 0, true, ICC_MUTE, 0);
        return response(reply, msg, 0, false, 0, 0, atr);
      }
      case PC_to_RDR_XfrBlock:
        return response(reply, msg, 0, false, 0, 0, await xfrA(channel, data));
      default:
        return notSupported(msg);
    }
  }
  switch (type) {
    case PC_to_RDR_GetSlotStatus: {
      const s = await channel.controlIn(ICCD_REQUEST.SLOT_STATUS_B, 0, 3);
      if (s.length < 2) throw short('SLOT_STATUS', s.length, 2);
      return response(reply, msg, s[1]! & 0x03, false, 0, 0);
    }
    case PC_to_RDR_IccPowerOff: {
      await channel.controlOut(ICCD_REQUEST.ICC_POWER_OFF, 0, new Uint8Array(0));
      const s = await channel.controlIn(ICCD_REQUEST.SLOT_STATUS_B, 0, 3);
      return response(reply, msg, s.length >= 2 ? s[1]! & 0x03 : 1, false, 0, 0);
    }
    case PC_to_RDR_IccPowerOn:
      await channel.controlOut(ICCD_REQUEST.ICC_POWER_OFF, 0, new Uint8Array(0));
      await channel.controlOut(ICCD_REQUEST.ICC_POWER_ON, 1, new Uint8Array(0));
      return dataBlockB(channel, msg, reply, 'ICC_POWER_ON');
    case PC_to_RDR_XfrBlock: {
      // bLevelParameter rides in wValue's high byte (libccid CCID_Transmit); CCID's wLevelParameter low byte.
      await channel.controlOut(ICCD_REQUEST.XFR_BLOCK, (msg[8]! & 0xff) << 8, data);
      return dataBlockB(channel, msg, reply, 'XFR_BLOCK');
    }
    default:
      return notSupported(msg);
  }
}

async function statusA(channel: IccdChannel): Promise<number> {
  for (;;) {
    const s = await channel.controlIn(ICCD_REQUEST.GET_ICC_STATUS_A, 0, 1);
    if (s.length < 1) throw short('GET_ICC_STATUS', 0, 1);
    if ((s[0]! & A_BUSY) === 0) return s[0]!;
    if (channel.expired()) throw new DriverError(IFD.RESPONSE_TIMEOUT, 'the ICCD token stayed busy');
    await channel.sleep(A_BUSY_POLL_MS);
  }
}

/**
 * Version A: one T=0 command (libccid CmdXfrBlockCHAR_T0 for ICCD-A). The header (case 1 gets P3 = 00) goes first;
 * when the token then says 0x10 it takes the command data (case 3) or holds response data (case 2); at 0x20 the
 * status bytes are read.
 */
async function xfrA(channel: IccdChannel, apdu: Uint8Array): Promise<Uint8Array> {
  if (apdu.length < 4) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `a command APDU needs at least 4 bytes, got ${apdu.length}`);
  }
  const header = new Uint8Array(5);
  header.set(apdu.subarray(0, 5));
  const p3 = header[4]!;
  // Case 3/4: the data is P3 bytes after the header (a case 4 Le has no place in T=0, ISO 7816-3 §12.2.5).
  const body = apdu.length > 5 ? apdu.subarray(5, 5 + p3) : new Uint8Array(0);
  await channel.controlOut(ICCD_REQUEST.XFR_BLOCK, 0, header);
  let status = await statusA(channel);
  let received: Uint8Array = new Uint8Array(0);
  if (status === A_DATA) {
    if (body.length > 0) {
      await channel.controlOut(ICCD_REQUEST.XFR_BLOCK, 0, body);
    } else {
      received = await channel.controlIn(ICCD_REQUEST.DATA_BLOCK, 0, Math.min(p3 === 0 ? 256 : p3, MAX_READ));
    }
    status = await statusA(channel);
  }
  if (status === A_MUTE) throw new DriverError(IFD.RESPONSE_TIMEOUT, 'the ICCD token is mute (bStatusByte 0x80)');
  if (status !== A_STATUS_BYTES) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the ICCD token reported bStatusByte 0x${status.toString(16).padStart(2, '0')} where the status bytes were due`,
    );
  }
  const sw = await channel.controlIn(ICCD_REQUEST.DATA_BLOCK, 0, 2);
  if (sw.length !== 2) throw short('DATA_BLOCK (SW1 SW2)', sw.length, 2);
  const out = new Uint8Array(received.length + 2);
  out.set(received);
  out.set(sw, received.length);
  return out;
}

/** Version B DATA_BLOCK, polled while the token asks for time (bResponseType 0x80). */
async function dataBlockB(channel: IccdChannel, msg: Uint8Array, reply: number, what: string): Promise<Uint8Array> {
  for (;;) {
    const block = await channel.controlIn(ICCD_REQUEST.DATA_BLOCK, 0, MAX_READ);
    if (block.length === 0) throw short(`DATA_BLOCK after ${what}`, 0, 1);
    const kind = block[0]!;
    if (kind === B_POLL) {
      if (channel.expired()) throw new DriverError(IFD.RESPONSE_TIMEOUT, `the ICCD token kept asking for time`);
      // wDelay in 10 ms units, 0 = the host chooses (libccid waits 10 ms).
      const delay = block.length >= 3 ? block[1]! | (block[2]! << 8) : 0;
      await channel.sleep(Math.max(1, delay) * 10);
      continue;
    }
    if (kind === B_STATUS) {
      // Status information: bStatus, bError as a CCID reader's (ISO/IEC 7816-12 §8).
      const bStatus = block[1] ?? 0x40;
      return response(reply, msg, bStatus & 0x03, true, block[2] ?? 0, 0);
    }
    if (kind !== 0x00 && kind !== 0x01 && kind !== 0x02 && kind !== 0x03 && kind !== 0x10) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `the ICCD token answered ${what} with bResponseType 0x${kind.toString(16).padStart(2, '0')}, ` +
          'which ISO/IEC 7816-12 does not define',
      );
    }
    return response(reply, msg, 0, false, 0, kind, block.subarray(1));
  }
}

function short(what: string, got: number, wanted: number): DriverError {
  return new DriverError(
    IFD.COMMUNICATION_ERROR,
    `the ICCD token answered ${what} with ${got} bytes, at least ${wanted} expected`,
  );
}

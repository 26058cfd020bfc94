/**
 * The CCID class-specific requests (CCID 1.1 §5.3), sent on the control pipe to the CCID interface:
 * ABORT (§5.3.1, host to device), GET_CLOCK_FREQUENCIES (§5.3.2) and GET_DATA_RATES (§5.3.3, device to host).
 *
 * The transport owns the device and turns a rejected transfer into a DriverError (a vanished device ends it), so the
 * IN requests go through a `ClassRequestChannel` it provides; what the requests mean is decided here.
 */
import { CLASS_REQUEST } from './constants.js';
import { DriverError, IFD } from '../ifd/errors.js';
import type { CcidInterfaceInfo } from './types.js';

export interface ClassRequestChannel {
  readonly info: CcidInterfaceInfo;
  /**
   * A class IN control transfer to the CCID interface with wValue 0. Rejects with a DriverError (never a raw
   * WebUSB error) when the transfer itself fails.
   */
  controlIn(request: number, length: number): Promise<USBInTransferResult>;
}

/**
 * ABORT (CCID 1.1 §5.3.1): wValue = bSeq << 8 | bSlot, wIndex = the interface. The host then sends PC_to_RDR_Abort
 * with the same bSeq and bSlot; the transport does that and waits for the reader's answer.
 */
export function sendAbortRequest(
  device: USBDevice,
  interfaceNumber: number,
  slot: number,
  seq: number,
): Promise<USBOutTransferResult> {
  return device.controlTransferOut({
    requestType: 'class',
    recipient: 'interface',
    request: CLASS_REQUEST.ABORT,
    value: ((seq & 0xff) << 8) | (slot & 0xff),
    index: interfaceNumber,
  });
}

/** A class-specific IN request on the interface. A stall means the reader does not support it: IFD_NOT_SUPPORTED. */
export async function classRequestIn(
  channel: ClassRequestChannel,
  request: number,
  length: number,
): Promise<Uint8Array> {
  const result = await channel.controlIn(request, length);
  const name = `class request 0x${request.toString(16)}`;
  if (result.status === 'stall') throw new DriverError(IFD.NOT_SUPPORTED, `the reader does not support ${name}`);
  if (result.status !== 'ok') {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `${name} ended with '${result.status}'`);
  }
  const d = result.data;
  return d ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice() : new Uint8Array(0);
}

/** GET_CLOCK_FREQUENCIES (kHz), asked for bNumClockSupported values; [] when the descriptor announces none. */
export async function getClockFrequencies(channel: ClassRequestChannel): Promise<number[]> {
  const n = channel.info.descriptor.bNumClockSupported;
  return n === 0 ? [] : u32List(await classRequestIn(channel, CLASS_REQUEST.GET_CLOCK_FREQUENCIES, n * 4));
}

/** GET_DATA_RATES (bps), asked only when bNumDataRatesSupported ≠ 0, as libccid does. */
export async function getDataRates(channel: ClassRequestChannel): Promise<number[]> {
  const n = channel.info.descriptor.bNumDataRatesSupported;
  return n === 0 ? [] : u32List(await classRequestIn(channel, CLASS_REQUEST.GET_DATA_RATES, n * 4));
}

/** §5.3.2/§5.3.3: an array of little-endian DWORDs; a trailing partial value is ignored. */
function u32List(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    out.push((bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0);
  }
  return out;
}

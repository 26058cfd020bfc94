/**
 * T=0 over a character-level reader (CCID 1.1 §6.1.4, dwFeatures exchange level 0): the reader only moves characters,
 * so the driver runs the T=0 procedure bytes itself (ISO/IEC 7816-3 §10.3), as libccid's `CmdXfrBlockCHAR_T0` does.
 * Each step is one PC_to_RDR_XfrBlock carrying the characters to send and, in wLevelParameter, how many characters
 * the reader must then receive from the card.
 *
 * The APDU is first mapped to a TPDU as at TPDU level (t0.ts, ISO 7816-3 §12.2): case 1 gets P3 = 00, case 4 goes
 * without Le, so `61xx` and `6Cxx` reach the application, as with libccid and pcsc-lite.
 */
import { DriverError, IFD } from '../ifd/errors.js';
import { apduToT0Tpdu } from './t0.js';
import { hexNumber } from '../util/hex.js';

/** One character exchange: send `data` (possibly nothing), then receive exactly `expected` characters. */
export type CharacterExchange = (data: Uint8Array, expected: number) => Promise<Uint8Array>;

/**
 * A generous bound on NULL procedure bytes (0x60, "wait": ISO 7816-3 §10.3.3) for one command: each restarts the work
 * waiting time, so a card that never stops sending them would otherwise hold the reader for ever.
 */
const MAX_NULL_BYTES = 10000;

/** ISO 7816-3 §10.3.3: SW1 is 0x6X (but 0x60) or 0x9X. */
function isSw1(b: number): boolean {
  return ((b & 0xf0) === 0x60 && b !== 0x60) || (b & 0xf0) === 0x90;
}

/**
 * Sends one command APDU to a T=0 card through `exchange` and returns the response APDU (data then SW1 SW2).
 *
 * Procedure bytes (ISO 7816-3 §10.3.3): INS → all the remaining data bytes go (outgoing) or come (incoming);
 * INS ⊕ FF → only the next one; 0x60 → wait; SW1 → SW2 follows and the command is over. libccid also takes INS ⊕ 01
 * and INS ⊕ FE (the programming-voltage forms of ISO 7816-3:1997) as INS and INS ⊕ FF: so do we.
 */
export async function transmitT0Characters(exchange: CharacterExchange, apdu: Uint8Array): Promise<Uint8Array> {
  const tpdu = apduToT0Tpdu(apdu);
  if (tpdu.length < 5) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `a T=0 command needs a 5-byte header, got ${tpdu.length} bytes`);
  }
  const header = tpdu.subarray(0, 5);
  const ins = header[1]!;
  // ISO 7816-3 §10.3.2: INS 6X and 9X are invalid, the card would take them for SW1.
  if ((ins & 0xf0) === 0x60 || (ins & 0xf0) === 0x90) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `INS 0x${hexNumber(ins, 2)} cannot be sent over T=0 (ISO 7816-3 §10.3.2: 6X and 9X are status bytes)`,
    );
  }
  let toSend = tpdu.subarray(5);
  // Incoming data (case 2: the header alone): P3 bytes, 0 meaning 256 (ISO 7816-3 §10.3.2).
  const incoming = toSend.length === 0 ? (header[4] === 0 ? 256 : header[4]!) : 0;
  const received: number[] = [];
  let nulls = 0;

  let procedure = await one(exchange, header, 'the procedure byte after the header');
  for (;;) {
    if (procedure === 0x60) {
      if (++nulls > MAX_NULL_BYTES) {
        throw new DriverError(IFD.RESPONSE_TIMEOUT, `the card sent more than ${MAX_NULL_BYTES} NULL procedure bytes`);
      }
      procedure = await one(exchange, new Uint8Array(0), 'the procedure byte after a NULL byte');
      continue;
    }
    if (isSw1(procedure)) {
      const sw2 = await one(exchange, new Uint8Array(0), 'SW2');
      return Uint8Array.from([...received, procedure, sw2]);
    }
    const all = procedure === ins || procedure === (ins ^ 0x01);
    const single = procedure === (ins ^ 0xff) || procedure === (ins ^ 0xfe);
    if (!all && !single) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `the card sent procedure byte 0x${hexNumber(procedure, 2)}, which is none of NULL, INS, INS⊕FF or SW1 ` +
          '(ISO 7816-3 §10.3.3)',
      );
    }
    if (toSend.length > 0) {
      const n = all ? toSend.length : 1;
      procedure = await one(exchange, toSend.subarray(0, n), 'the procedure byte after the data');
      toSend = toSend.subarray(n);
      continue;
    }
    const remaining = incoming - received.length;
    if (remaining <= 0) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        'the card asked for a data transfer (INS procedure byte) when no data is left to send or receive',
      );
    }
    const n = all ? remaining : 1;
    // The data characters and the next procedure byte in one read (libccid reads the data, then one byte).
    const chunk = await exchange(new Uint8Array(0), n + 1);
    if (chunk.length !== n + 1) throw shortRead(chunk.length, n + 1);
    received.push(...chunk.subarray(0, n));
    procedure = chunk[n]!;
  }
}

async function one(exchange: CharacterExchange, data: Uint8Array, what: string): Promise<number> {
  const r = await exchange(data, 1);
  if (r.length !== 1) throw shortRead(r.length, 1, what);
  return r[0]!;
}

function shortRead(got: number, wanted: number, what = 'the data characters'): DriverError {
  return new DriverError(
    IFD.COMMUNICATION_ERROR,
    `the reader returned ${got} characters for ${what}, ${wanted} were asked for (CCID 1.1 §6.1.4 wLevelParameter)`,
  );
}

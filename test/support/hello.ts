/**
 * The hello-world exchange that many suites run (the sample's SELECT of applet A0 00 00 00 62 03 01 0C 06 01, then
 * `00 00 00 00`), written once for the suites that have no fixture of their own.
 */
import { fromHex } from '../../src/util/hex.js';

export const SELECT_HELLO = fromHex('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');

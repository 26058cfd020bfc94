/**
 * The classic PC/SC hello-world sample, run in-process against the simulated reader: the driver opens a simulated
 * Gemalto GemPC Twin holding the hello-world card, powers the card, negotiates T=1, selects the applet
 * A0 00 00 00 62 03 01 0C 06 01 and sends 00 00 00 00, which answers "Hello world!".
 *
 * Until the connector extension exists this is what `npm start` runs; it goes through the same driver code the
 * extension will use, over the same WebUSB interface.
 */
import { CcidReader } from '../src/ccid/reader.js';
import { DriverError, ifdCodeName } from '../src/ifd/errors.js';
import { describeAtr } from '../src/ccid/atr.js';
import { buildReaderName } from '../src/pcsc/reader-name.js';
import { createSimulatedReader, helloWorldCardT1 } from '../src/sim/index.js';
import { toHex } from '../src/util/hex.js';

const SELECT_HELLO_WORLD = Uint8Array.of(
  0x00,
  0xa4,
  0x04,
  0x00,
  0x0a,
  0xa0,
  0x00,
  0x00,
  0x00,
  0x62,
  0x03,
  0x01,
  0x0c,
  0x06,
  0x01,
);
const SAY_HELLO = Uint8Array.of(0x00, 0x00, 0x00, 0x00);

const log = (line: string) => console.log(line);

async function main(): Promise<number> {
  const device = createSimulatedReader('gempc-twin');
  device.insertCard(helloWorldCardT1());
  log('Simulated reader: Gemalto GemPC Twin (08E6:3437) with the hello-world card');
  const reader = await CcidReader.open(device);
  const slot = reader.slots[0]!;
  log(`Reader: ${buildReaderName({ friendly: reader.friendlyName, index: 0, slot: 0 })} (${reader.level} exchanges)`);
  const atr = await slot.power('up');
  log(`ATR: ${toHex(atr)}`);
  if (slot.parsedAtr) log(`     ${describeAtr(slot.parsedAtr)}`);
  await slot.setProtocol(2);
  log('Protocol: T=1');
  log(`> ${toHex(SELECT_HELLO_WORLD)}`);
  const selected = await slot.transmit(SELECT_HELLO_WORLD);
  log(`< ${toHex(selected)}`);
  log(`> ${toHex(SAY_HELLO)}`);
  const answer = await slot.transmit(SAY_HELLO);
  log(`< ${toHex(answer)}`);
  const sw = (answer[answer.length - 2]! << 8) | answer[answer.length - 1]!;
  await slot.power('down');
  await reader.close();
  if (sw !== 0x9000) {
    log(`The card answered status word ${sw.toString(16).toUpperCase()}, not 9000`);
    return 1;
  }
  log(new TextDecoder().decode(answer.subarray(0, answer.length - 2)));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof DriverError) console.error(`Driver error ${ifdCodeName(e.code)}: ${e.message}`);
    else console.error(e);
    process.exit(1);
  },
);

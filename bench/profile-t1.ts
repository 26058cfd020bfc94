/**
 * A loop to profile (issue 14): the in-process 65,000-byte ECHO through T=1 chaining on the simulated GemPC Twin
 * (client API → daemon → CCID driver → simulated reader and card), as bench/inprocess.ts times it, with nothing else
 * in the process. Built by `npm run build:node`; see bench/README.md:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/node/profile-t1.js [ECHOs, default 200] [--floor]
 *
 * `--floor` loops the T=1 floor instead (bench/t1-floor.ts: the recorded blocks replayed into the simulator alone).
 */
import { performance } from 'node:perf_hooks';
import { CcidReader } from '../src/ccid/reader.js';
import { PcscDaemon, SCARD_PROTOCOL_T1, SCARD_SCOPE_SYSTEM, SCARD_SHARE_SHARED } from '../src/pcsc/index.js';
import { createSimulatedReader, helloWorldCardT1 } from '../src/sim/index.js';
import { echoApdu, isEchoOf, looksLikeEchoOf } from './measure.js';
import { t1FloorFigure } from './t1-floor.js';

const ECHO_BYTES = 65000;

async function main(): Promise<void> {
  const count = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 200);
  if (process.argv.includes('--floor')) {
    const f = await t1FloorFigure(ECHO_BYTES, 't1-floor-echo', count, 1);
    console.log(`T=1 floor: ${count} ECHOs of ${ECHO_BYTES} bytes, ${f.median!.toFixed(0)} µs each`);
    return;
  }
  const device = createSimulatedReader('gempc-twin');
  device.insertCard(helloWorldCardT1({ seed: 1 }));
  const daemon = new PcscDaemon();
  const [name] = await daemon.addReader(await CcidReader.open(device));
  const client = daemon.connect({ name: 'profile' });
  const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  const { hCard, dwActiveProtocol } = await client.SCardConnect(hContext, name!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
  const pci = { dwProtocol: dwActiveProtocol };
  const echo = echoApdu(ECHO_BYTES);
  if (!isEchoOf((await client.SCardTransmit(hCard, pci, echo)).recvBuffer, echo)) throw new Error('bad ECHO answer');
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    if (!looksLikeEchoOf((await client.SCardTransmit(hCard, pci, echo)).recvBuffer, echo))
      throw new Error('bad ECHO answer');
  }
  const us = ((performance.now() - t0) * 1000) / count;
  console.log(`in-process T=1: ${count} ECHOs of ${ECHO_BYTES} bytes, ${us.toFixed(0)} µs each`);
  await daemon.shutdown();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

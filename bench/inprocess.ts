/**
 * In-process figures: the driver alone, the full SCardTransmit round trip through the daemon's client API, and the
 * event latency of SCardGetStatusChange. All on zero-latency simulated readers, so the figures are the stack's (and the
 * simulator's) own cost: a real reader's wire time is not in them.
 */
import { performance } from 'node:perf_hooks';
import { CcidReader } from '../src/ccid/reader.js';
import {
  INFINITE,
  PcscDaemon,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAWARE,
  type PcscClient,
} from '../src/pcsc/index.js';
import { createSimulatedReader, helloWorldCardT1, type ProfileId } from '../src/sim/index.js';
import { memoryCardReader } from './memcard.js';
import { t1Floor } from './t1-floor.js';
import {
  GET_CHALLENGE_8,
  RUNS,
  echoApdu,
  isEchoOf,
  looksLikeEchoOf,
  measure,
  measurePair,
  summarise,
  type Figure,
} from './measure.js';

const ECHO_BYTES = 65000;

async function driverFigures(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const echo = echoApdu(ECHO_BYTES);
  for (const profile of ['gempc-twin', 'extended-apdu'] as ProfileId[]) {
    const device = createSimulatedReader(profile);
    device.insertCard(helloWorldCardT1({ seed: 1 }));
    const reader = await CcidReader.open(device);
    const slot = reader.slots[0]!;
    await slot.power('up');
    await slot.setProtocol(2);
    if (!isEchoOf(await slot.transmit(echo), echo)) throw new Error(`${profile}: the ECHO answer is wrong`);
    if (profile === 'gempc-twin') {
      figures.push(
        await measure(
          'driver-getchallenge',
          'driver only: 8-byte GET CHALLENGE, GemPC Twin (TPDU, T=1)',
          2000,
          async () => {
            const r = await slot.transmit(GET_CHALLENGE_8);
            if (r.length !== 10 || r[8] !== 0x90) throw new Error('bad GET CHALLENGE answer');
          },
        ),
      );
    }
    const op = async () => {
      if (!looksLikeEchoOf(await slot.transmit(echo), echo)) throw new Error('bad ECHO answer');
    };
    if (profile === 'gempc-twin') {
      // The T=1 floor run for run with the driver's figure, so that their ratio comes from the same moment.
      const floor = await t1Floor(ECHO_BYTES);
      figures.push(
        ...(await measurePair(
          20,
          {
            id: 'driver-echo-gempc-twin',
            name: 'driver only: 65,000-byte ECHO, GemPC Twin (T=1 chaining, IFSD 254)',
            op,
            extra: { floorId: 't1-floor-echo' },
          },
          { id: 't1-floor-echo', name: floor.name, op: floor.op },
        )),
      );
      await floor.close();
    } else {
      figures.push(
        await measure(
          'driver-echo-extended-apdu',
          'driver only: 65,000-byte ECHO, extended-APDU reader (CCID chaining)',
          20,
          op,
        ),
      );
    }
    await reader.close();
  }
  return figures;
}

/** A daemon with one simulated reader holding the hello-world T=1 card, and a client connected to it. */
async function daemonWith(
  profile: ProfileId,
): Promise<{ daemon: PcscDaemon; client: PcscClient; hCard: number; protocol: number }> {
  const device = createSimulatedReader(profile);
  device.insertCard(helloWorldCardT1({ seed: 1 }));
  const daemon = new PcscDaemon();
  const [name] = await daemon.addReader(await CcidReader.open(device));
  const client = daemon.connect({ name: 'bench' });
  const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  const { hCard, dwActiveProtocol } = await client.SCardConnect(hContext, name!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
  return { daemon, client, hCard, protocol: dwActiveProtocol };
}

async function daemonFigures(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const echo = echoApdu(ECHO_BYTES);
  for (const profile of ['gempc-twin', 'extended-apdu'] as ProfileId[]) {
    const { daemon, client, hCard, protocol } = await daemonWith(profile);
    const pci = { dwProtocol: protocol };
    if (!isEchoOf((await client.SCardTransmit(hCard, pci, echo)).recvBuffer, echo))
      throw new Error(`${profile}: the ECHO answer is wrong`);
    if (profile === 'gempc-twin') {
      figures.push(
        await measure(
          'daemon-getchallenge',
          'in-process SCardTransmit: 8-byte GET CHALLENGE (client API → daemon → driver → GemPC Twin, T=1)',
          2000,
          async () => {
            const r = (await client.SCardTransmit(hCard, pci, GET_CHALLENGE_8)).recvBuffer;
            if (r.length !== 10 || r[8] !== 0x90) throw new Error('bad GET CHALLENGE answer');
          },
          { nativeId: 'native-getchallenge' },
        ),
      );
    }
    figures.push(
      await measure(
        `daemon-echo-${profile}`,
        profile === 'gempc-twin'
          ? 'in-process SCardTransmit: 65,000-byte ECHO, GemPC Twin (T=1 chaining, IFSD 254: 256 I-blocks each way)'
          : 'in-process SCardTransmit: 65,000-byte ECHO, extended-APDU reader (CCID chaining)',
        20,
        async () => {
          if (!looksLikeEchoOf((await client.SCardTransmit(hCard, pci, echo)).recvBuffer, echo))
            throw new Error('bad ECHO answer');
        },
        // Issue 14's goal: the 65,000-byte ECHO through T=1 chaining at most 10× native pcsc-lite's extended ECHO.
        profile === 'gempc-twin'
          ? { floorId: 't1-floor-echo', nativeId: 'native-echo', goal: { max: 10, of: 'native' } }
          : {},
      ),
    );
    await daemon.shutdown();
  }
  return figures;
}

/**
 * The PC/SC stack alone, like for like with the native anchor: the daemon fed by an in-memory card (bench/memcard.ts,
 * the twin of the anchor's ifd_memcard.c), so neither side has a driver or a device in the figure.
 */
async function memoryCardFigures(): Promise<Figure[]> {
  const daemon = new PcscDaemon();
  const [name] = await daemon.addReader(memoryCardReader());
  const client = daemon.connect({ name: 'bench' });
  const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  const { hCard, dwActiveProtocol } = await client.SCardConnect(hContext, name!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
  const pci = { dwProtocol: dwActiveProtocol };
  const echo = echoApdu(ECHO_BYTES);
  if (!isEchoOf((await client.SCardTransmit(hCard, pci, echo)).recvBuffer, echo))
    throw new Error('memory card: the ECHO answer is wrong');
  const figures = [
    await measure(
      'memcard-getchallenge',
      'in-process SCardTransmit, stack alone: 8-byte GET CHALLENGE (client API → daemon → in-memory card, as the anchor)',
      5000,
      async () => {
        const r = (await client.SCardTransmit(hCard, pci, GET_CHALLENGE_8)).recvBuffer;
        if (r.length !== 10 || r[8] !== 0x90) throw new Error('bad GET CHALLENGE answer');
      },
      { nativeId: 'native-getchallenge' },
    ),
    await measure(
      'memcard-echo',
      'in-process SCardTransmit, stack alone: 65,000-byte ECHO (client API → daemon → in-memory card, as the anchor)',
      200,
      async () => {
        if (!looksLikeEchoOf((await client.SCardTransmit(hCard, pci, echo)).recvBuffer, echo))
          throw new Error('bad ECHO answer');
      },
      { nativeId: 'native-echo' },
    ),
  ];
  await daemon.shutdown();
  return figures;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Event latency: 100 contexts (10 clients × 10 contexts) each wait in SCardGetStatusChange(INFINITE) on the empty
 * reader; the time from insertCard() on the simulated reader until the last of the 100 calls has resolved. The card
 * is powered by the daemon before the event is signalled (as pcscd does), so the ATR read is inside the figure.
 */
export async function eventLatency(
  waiters = 100,
  clientsCount = 10,
  // The growth series (bench/growth.ts) go to 10,000 waiters: pcscd's 200 contexts per client then, not per daemon,
  // fewer rounds, and longer for every waiter to register before the insertion.
  options: { contextLimitScope?: 'daemon' | 'client'; rounds?: number; settleMs?: number } = {},
): Promise<Figure> {
  const device = createSimulatedReader('gempc-twin');
  const daemon = new PcscDaemon({ contextLimitScope: options.contextLimitScope ?? 'daemon' });
  const [name] = await daemon.addReader(await CcidReader.open(device));
  const contexts: { client: PcscClient; hContext: number }[] = [];
  for (let c = 0; c < clientsCount; c++) {
    const client = daemon.connect({ name: `waiter-${c}` });
    for (let k = 0; k < waiters / clientsCount; k++)
      contexts.push({ client, hContext: (await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext });
  }
  const samples: number[] = [];
  for (let round = 0; round < (options.rounds ?? RUNS) + 1; round++) {
    const waits = await Promise.all(
      contexts.map(async ({ client, hContext }) => {
        const now = await client.SCardGetStatusChange(hContext, 0, [
          { szReader: name!, dwCurrentState: SCARD_STATE_UNAWARE },
        ]);
        return { client, hContext, state: now.readerStates[0]!.dwEventState & ~0x2 };
      }),
    );
    let resolved = 0;
    let last = 0;
    const all = Promise.all(
      waits.map(({ client, hContext, state }) =>
        client.SCardGetStatusChange(hContext, INFINITE, [{ szReader: name!, dwCurrentState: state }]).then((r) => {
          if ((r.readerStates[0]!.dwEventState & SCARD_STATE_PRESENT) === 0) throw new Error('woke without the card');
          resolved += 1;
          last = performance.now();
        }),
      ),
    );
    await sleep(options.settleMs ?? 20); // every waiter is registered
    if (resolved !== 0) throw new Error('a waiter resolved before the insertion');
    const t0 = performance.now();
    device.insertCard(helloWorldCardT1({ seed: round + 1 }));
    await all;
    if (round > 0) samples.push((last - t0) * 1000); // round 0 warms up
    device.removeCard();
    // Wait for the daemon to see the removal before the next round.
    const probe = contexts[0]!;
    for (;;) {
      const s = await probe.client.SCardGetStatusChange(probe.hContext, 0, [
        { szReader: name!, dwCurrentState: SCARD_STATE_UNAWARE },
      ]);
      if ((s.readerStates[0]!.dwEventState & SCARD_STATE_PRESENT) === 0) break;
      await sleep(2);
    }
  }
  await daemon.shutdown();
  return {
    id: 'event-latency',
    name: `event latency: card insertion → ${waiters} waiting SCardGetStatusChange (${clientsCount} clients × ${waiters / clientsCount} contexts) all resolved`,
    unit: 'us',
    ...summarise(samples),
    runs: samples.length,
    perRun: 1,
  };
}

export async function inProcessFigures(): Promise<Figure[]> {
  return [...(await driverFigures()), ...(await daemonFigures()), ...(await memoryCardFigures()), await eventLatency()];
}

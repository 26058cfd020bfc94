/**
 * `npm run bench`: what the stack costs, measured on this machine. Not a test: it asserts nothing about speed.
 *
 * Driver figures use the zero-latency simulated reader, so they are the driver's (and the simulator's) own cost per
 * exchange: the time a real reader spends on the wire is not in them. Each figure is the median of several runs;
 * each run times a batch of exchanges after a warm-up.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CcidReader } from '../src/ccid/reader.js';
import type { CcidReaderSlot } from '../src/ccid/reader-slot.js';
import { createSimulatedReader, helloWorldCardT1, type ProfileId } from '../src/sim/index.js';

interface Figure {
  name: string;
  unit: 'us';
  median: number;
  min: number;
  max: number;
  runs: number;
  perRun: number;
  note?: string;
}

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

async function openSlot(profile: ProfileId): Promise<{ reader: CcidReader; slot: CcidReaderSlot }> {
  const device = createSimulatedReader(profile);
  device.insertCard(helloWorldCardT1({ seed: 1 }));
  const reader = await CcidReader.open(device);
  const slot = reader.slots[0]!;
  await slot.power('up');
  await slot.setProtocol(2);
  return { reader, slot };
}

async function measure(name: string, perRun: number, op: () => Promise<void>, note?: string): Promise<Figure> {
  for (let i = 0; i < Math.max(10, perRun / 5); i++) await op();
  const samples: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < perRun; i++) await op();
    samples.push(((performance.now() - t0) * 1000) / perRun);
  }
  samples.sort((a, b) => a - b);
  const figure: Figure = {
    name,
    unit: 'us',
    median: samples[Math.floor(samples.length / 2)]!,
    min: samples[0]!,
    max: samples[samples.length - 1]!,
    runs: RUNS,
    perRun,
  };
  if (note !== undefined) figure.note = note;
  return figure;
}

function echoApdu(length: number): Uint8Array {
  const apdu = new Uint8Array(7 + length + 2);
  apdu.set([0x80, 0xee, 0x00, 0x00, 0x00, length >> 8, length & 0xff]);
  for (let i = 0; i < length; i++) apdu[7 + i] = (i * 7) & 0xff;
  return apdu; // Le 00 00 = up to 65536
}

async function main(): Promise<void> {
  const figures: Figure[] = [];
  const getChallenge = Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08);
  const echo = echoApdu(65000);

  {
    const { reader, slot } = await openSlot('gempc-twin');
    figures.push(
      await measure('driver: 8-byte GET CHALLENGE, GemPC Twin (TPDU, T=1)', 2000, async () => {
        const r = await slot.transmit(getChallenge);
        if (r.length !== 10 || r[8] !== 0x90) throw new Error('bad GET CHALLENGE answer');
      }),
    );
    figures.push(
      await measure(
        'driver: 65,000-byte extended ECHO, GemPC Twin (T=1 chaining, IFSD 254)',
        20,
        async () => {
          const r = await slot.transmit(echo);
          if (r.length !== 65002) throw new Error('bad ECHO answer');
        },
        `${Math.ceil(65009 / 254)} I-blocks out, ${Math.ceil(65002 / 254)} in`,
      ),
    );
    await reader.close();
  }
  {
    const { reader, slot } = await openSlot('extended-apdu');
    figures.push(
      await measure('driver: 65,000-byte extended ECHO, extended-APDU reader (CCID chaining)', 20, async () => {
        const r = await slot.transmit(echo);
        if (r.length !== 65002) throw new Error('bad ECHO answer');
      }),
    );
    await reader.close();
  }

  const width = Math.max(...figures.map((f) => f.name.length));
  console.log(`Benchmarks (median of ${RUNS} runs, µs per exchange; node ${process.version})`);
  console.log(`${'figure'.padEnd(width)}  median      min      max`);
  for (const f of figures) {
    console.log(
      `${f.name.padEnd(width)}  ${f.median.toFixed(1).padStart(7)}  ${f.min.toFixed(1).padStart(7)}  ${f.max.toFixed(1).padStart(7)}` +
        (f.note ? `  (${f.note})` : ''),
    );
  }
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const out = resolve(root, 'bench', 'results', 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, figures }, null, 2));
  console.log(`\nwritten to ${out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

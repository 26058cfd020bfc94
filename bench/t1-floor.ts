/**
 * The floor under the T=1 chaining figures (issue 14): the same 65,000-byte ECHO's bytes moved through the simulated
 * GemPC Twin alone, with no driver work. The driver runs the ECHO twice first while every bulk-OUT message it sends
 * (the PC_to_RDR_XfrBlock messages carrying its T=1 I- and R-blocks, CCID 1.1 §6.1.4) and every bulk-IN answer is
 * recorded; then the recorded messages are replayed straight into the simulated device, one transferOut and one
 * transferIn each, as pre-built blocks: no block is encoded, no EDC computed or checked, no answer parsed on the host
 * side. What is left is the simulator's own cost (parsing each CCID message, its T=1 link checking the EDC and
 * building its blocks, the card's ECHO) and the WebUSB-shaped promise per transfer: what the driver can never go under
 * on this simulator.
 *
 * Two ECHOs are recorded so that the block sequence numbers (N(S), N(R), ISO 7816-3 §11.6.2) and the card's state come
 * back to where they started whatever the parity of the block counts; the replay alternates between them. The first
 * replay of each is checked byte for byte against what the driver saw, so a replay that went astray cannot be timed.
 */
import { CcidReader } from '../src/ccid/reader.js';
import { createSimulatedReader, helloWorldCardT1, READER_ENDPOINT } from '../src/sim/index.js';
import { echoApdu, isEchoOf, measure, type Figure } from './measure.js';

interface Step {
  out: Uint8Array;
  /** What the driver read back (null when it read nothing after this message). */
  answer: Uint8Array | null;
  length: number;
}

function copyOf(data: BufferSource | DataView | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A T=1 floor ready to time: `op` replays one ECHO's recorded blocks into the simulator. */
export interface T1Floor {
  name: string;
  op: () => Promise<void>;
  close: () => Promise<void>;
}

export async function t1FloorFigure(
  echoBytes: number,
  id = 't1-floor-echo',
  perRun = 20,
  timedRuns?: number,
): Promise<Figure> {
  const floor = await t1Floor(echoBytes);
  const figure = await measure(id, floor.name, perRun, floor.op, {}, timedRuns);
  await floor.close();
  return figure;
}

export async function t1Floor(echoBytes: number): Promise<T1Floor> {
  const device = createSimulatedReader('gempc-twin');
  device.insertCard(helloWorldCardT1({ seed: 1 }));
  const reader = await CcidReader.open(device);
  const slot = reader.slots[0]!;
  await slot.power('up');
  await slot.setProtocol(2);
  const echo = echoApdu(echoBytes);
  if (!isEchoOf(await slot.transmit(echo), echo)) throw new Error('T=1 floor: the ECHO answer is wrong');

  // Record two ECHOs: own properties shadow the device's methods and are deleted afterwards.
  const runs: Step[][] = [];
  let current: Step[] = [];
  const transferOut = device.transferOut.bind(device);
  const transferIn = device.transferIn.bind(device);
  const rec = device as unknown as Record<string, unknown>;
  rec.transferOut = (endpoint: number, data: BufferSource) => {
    if (endpoint === READER_ENDPOINT.BULK_OUT) current.push({ out: copyOf(data), answer: null, length: 0 });
    return transferOut(endpoint, data);
  };
  rec.transferIn = async (endpoint: number, length: number) => {
    const r = await transferIn(endpoint, length);
    const last = current[current.length - 1];
    if (endpoint === READER_ENDPOINT.BULK_IN && last !== undefined) {
      if (last.answer !== null) throw new Error('T=1 floor: two bulk-IN answers to one message');
      last.answer = copyOf(r.data);
      last.length = length;
    }
    return r;
  };
  try {
    for (let k = 0; k < 2; k++) {
      current = [];
      if (!isEchoOf(await slot.transmit(echo), echo)) throw new Error('T=1 floor: the ECHO answer is wrong');
      runs.push(current);
    }
  } finally {
    delete rec.transferOut;
    delete rec.transferIn;
  }
  for (const run of runs)
    if (run.some((s) => s.answer === null)) throw new Error('T=1 floor: a recorded message had no answer');

  let k = 0;
  const replay = async (check: boolean): Promise<void> => {
    const run = runs[k++ % runs.length]!;
    for (const step of run) {
      await device.transferOut(READER_ENDPOINT.BULK_OUT, step.out as Uint8Array<ArrayBuffer>);
      const r = await device.transferIn(READER_ENDPOINT.BULK_IN, step.length);
      if (r.status !== 'ok' || r.data === undefined) throw new Error(`T=1 floor: transferIn ${r.status}`);
      if (check && !sameBytes(copyOf(r.data), step.answer!))
        throw new Error('T=1 floor: the simulator answered the replayed blocks differently from the driver run');
    }
  };
  for (let i = 0; i < runs.length * 2; i++) await replay(true);
  const blocks = runs[0]!.length;
  return {
    name: `floor: ${echoBytes.toLocaleString('en-US')}-byte ECHO's T=1 blocks replayed into the simulated GemPC Twin alone (${blocks} CCID messages each way, no driver)`,
    op: () => replay(false),
    close: () => reader.close(),
  };
}

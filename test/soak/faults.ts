/**
 * Campaign (a): randomly placed faults of every kind the simulator has, under SCardTransmit through the daemon's PC/SC
 * API (client → daemon → driver → simulated reader → card). After each fault:
 *
 * - the call settled within its deadline (no hang);
 * - it either succeeded with exactly the card's known answer (ECHO data, Hello world!, GET CHALLENGE length and 90 00)
 *   or rejected with a PcscError — never another exception, never corrupted data as success;
 * - once the fault stops, the reader recovers: a clean exchange succeeds at once, or after SCardReconnect, or after a
 *   new SCardConnect (and, for a card removal or an unplug, after the card goes back in or the reader is plugged again).
 *
 * Payload corruption is injected only where the protocol can detect it: T=1 blocks (TPDU reader) carry an EDC, but at
 * APDU level nothing tells a garbled data byte from a real one (USB's own CRC rules that out on a real bus), and a flip
 * of bChainParameter to another valid "complete" value cannot be told from a real one either (see
 * test/integration/faults.test.ts). So the extended-APDU reader gets header faults and bChainParameter flips that
 * leave the value invalid (masks FF, 11), never payload garbling.
 */
import { CcidReader } from '../../src/ccid/reader.js';
import {
  PcscDaemon,
  PcscError,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAWARE,
} from '../../src/pcsc/index.js';
import {
  createSimulatedReader,
  helloWorldCardT1,
  type FaultSpec,
  type FaultTarget,
  type SimulatedCard,
  type SimulatedReader,
} from '../../src/sim/index.js';
import { Prng, bump, sameBytes, settle, sleep, toHex, violation, type Totals } from './common.js';
import { SELECT_HELLO } from '../support/hello.js';

/** Tiny driver timeouts (a 3 s timeout is 3 ms) so that a mute card costs milliseconds. */
const DRIVER = { timeoutScale: 0.001, pollIntervalMs: 2 } as const;
/** Every call must settle within this (far above any scaled timeout). */
export const DEADLINE_MS = 10_000;

type Profile = 'gempc-twin' | 'extended-apdu';

interface Rig {
  profile: Profile;
  sim: SimulatedReader;
  name: string;
  hCard: number | undefined;
  /** Fires on the nth bulk-OUT command from now (mid-call removal or unplug). */
  trigger: { at: number; fire: () => void } | undefined;
  outCount: number;
}

type Op = { kind: 'getchallenge'; le: number } | { kind: 'echo'; data: Uint8Array } | { kind: 'hello' };

const HELLO = Uint8Array.of(0, 0, 0, 0);
const HELLO_RESPONSE = Uint8Array.from([...new TextEncoder().encode('Hello world!'), 0x90, 0x00]);

function echoApdu(data: Uint8Array): Uint8Array {
  if (data.length <= 255) return Uint8Array.from([0x80, 0xee, 0x00, 0x00, data.length, ...data]);
  const apdu = new Uint8Array(7 + data.length + 2);
  apdu.set([0x80, 0xee, 0x00, 0x00, 0x00, data.length >> 8, data.length & 0xff]);
  apdu.set(data, 7);
  return apdu;
}

/** How many bulk-OUT commands the op costs (chains: one per block or part each way), to place a fault anywhere in it. */
function commandsOf(op: Op, profile: Profile): number {
  if (op.kind !== 'echo') return op.kind === 'hello' ? 2 : 1;
  const per = profile === 'gempc-twin' ? 254 : 261;
  return Math.max(1, Math.ceil((op.data.length + 9) / per) + Math.ceil((op.data.length + 2) / per) - 1);
}

export interface FaultCampaignOptions {
  seed: number;
  faults: number;
  totals: Totals;
  log?: (s: string) => void;
}

export async function faultCampaign(o: FaultCampaignOptions): Promise<void> {
  const rng = new Prng(o.seed);
  const t = o.totals;
  const daemon = new PcscDaemon({ powerOffGraceMs: 50, random: () => rng.next() });
  const client = daemon.connect({ name: 'soak-faults' });
  const call = <T>(p: Promise<T>): Promise<T> => {
    t.calls += 1;
    return p;
  };
  const { hContext } = await call(client.SCardEstablishContext(SCARD_SCOPE_SYSTEM));

  const plug = async (profile: Profile): Promise<Rig> => {
    const sim = createSimulatedReader(profile);
    sim.insertCard(helloWorldCardT1({ seed: rng.int(1, 1 << 30) }));
    const rig: Rig = { profile, sim, name: '', hCard: undefined, trigger: undefined, outCount: 0 };
    const transferOut = sim.transferOut.bind(sim);
    sim.transferOut = (ep: number, data: BufferSource) => {
      rig.outCount += 1;
      if (rig.trigger !== undefined && rig.outCount >= rig.trigger.at) {
        const { fire } = rig.trigger;
        rig.trigger = undefined;
        fire();
      }
      return transferOut(ep, data);
    };
    const reader = await CcidReader.open(sim, DRIVER);
    // What the device manager does on navigator.usb's 'disconnect' event (src/usb/device-manager.ts).
    sim.onunplug = () => reader.markRemoved();
    const [name] = await daemon.addReader(reader);
    rig.name = name!;
    return rig;
  };

  const connect = async (rig: Rig): Promise<void> => {
    const r = await call(client.SCardConnect(hContext, rig.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    rig.hCard = r.hCard;
  };

  const rigs: Rig[] = [await plug('gempc-twin'), await plug('extended-apdu')];
  for (const r of rigs) await connect(r);

  /** Sends the op; checks a success against the card's known answers. Returns 'ok', 'error' or a violation text. */
  const run = async (rig: Rig, op: Op, what: string): Promise<'ok' | 'error' | 'hang'> => {
    const pci = { dwProtocol: SCARD_PROTOCOL_T1 };
    const exchange = async (
      apdu: Uint8Array,
      check: (r: Uint8Array) => string | null,
    ): Promise<'ok' | 'error' | 'hang'> => {
      const r = await settle(call(client.SCardTransmit(rig.hCard!, pci, apdu)), DEADLINE_MS);
      if (r.ok === 'hang') {
        violation(t, `${what}: SCardTransmit did not settle within ${DEADLINE_MS} ms`);
        return 'hang';
      }
      if (r.ok === false) {
        if (!(r.error instanceof PcscError)) violation(t, `${what}: rejected with a non-PcscError: ${String(r.error)}`);
        return 'error';
      }
      const bad = check(r.value.recvBuffer);
      if (bad !== null) violation(t, `${what}: corrupted answer returned as success: ${bad}`);
      return 'ok';
    };
    if (op.kind === 'getchallenge') {
      return exchange(Uint8Array.of(0x00, 0x84, 0x00, 0x00, op.le), (r) =>
        r.length === op.le + 2 && r[op.le] === 0x90 && r[op.le + 1] === 0x00
          ? null
          : `GET CHALLENGE ${op.le} gave ${r.length} bytes ending ${toHex(r.subarray(-2))}`,
      );
    }
    if (op.kind === 'echo') {
      const want = Uint8Array.from([...op.data, 0x90, 0x00]);
      return exchange(echoApdu(op.data), (r) =>
        sameBytes(r, want)
          ? null
          : `ECHO ${op.data.length} gave ${r.length} bytes (${toHex(r.subarray(0, 8))}… ${toHex(r.subarray(-2))})`,
      );
    }
    const sel = await exchange(SELECT_HELLO, (r) =>
      r.length === 2 && r[0] === 0x90 && r[1] === 0 ? null : `SELECT gave ${toHex(r)}`,
    );
    if (sel !== 'ok') return sel;
    // 6D 00 is right too when a recovery reset the card between the two commands (the selection is forgotten).
    return exchange(HELLO, (r) =>
      sameBytes(r, HELLO_RESPONSE) || (r.length === 2 && r[0] === 0x6d && r[1] === 0) ? null : `Hello gave ${toHex(r)}`,
    );
  };

  const stopFaults = (rig: Rig): void => {
    rig.trigger = undefined;
    if (rig.sim.unplugged) return;
    rig.sim.faults.clear();
    rig.sim.unmute(0);
    const card = rig.sim.cardIn(0) as SimulatedCard | null;
    if (card !== null) {
      card.faults.garbleT1Edc = 0;
      card.faults.wtxRequests = 0;
      card.faults.muteAfterExchanges = undefined;
      card.faults.mute = false;
    }
  };

  const cardPresent = async (rig: Rig): Promise<boolean> => {
    for (let i = 0; i < 500; i++) {
      const r = await settle(
        call(client.SCardGetStatusChange(hContext, 0, [{ szReader: rig.name, dwCurrentState: SCARD_STATE_UNAWARE }])),
        DEADLINE_MS,
      );
      if (r.ok === true && (r.value.readerStates[0]!.dwEventState & SCARD_STATE_PRESENT) !== 0) return true;
      await sleep(2);
    }
    return false;
  };

  /** After the fault: a clean exchange works at once, after SCardReconnect, or after a new SCardConnect. */
  const recover = async (index: number, what: string): Promise<void> => {
    let rig = rigs[index]!;
    stopFaults(rig);
    let how = '';
    if (rig.sim.unplugged) {
      // The daemon dropped the reader; its handle went with it.
      if (rig.hCard !== undefined) await settle(call(client.SCardDisconnect(rig.hCard, SCARD_LEAVE_CARD)), DEADLINE_MS);
      rig = rigs[index] = await plug(rig.profile);
      how = 're-plug, ';
    } else if (rig.sim.cardIn(0) === null) {
      rig.sim.insertCard(helloWorldCardT1({ seed: rng.int(1, 1 << 30) }));
      how = 'card back in, ';
    }
    const clean = async (): Promise<boolean> => {
      if (rig.hCard === undefined) return false;
      const data = rng.bytes(rng.int(1, 200));
      return (await run(rig, { kind: 'echo', data }, `${what} [recovery]`)) === 'ok';
    };
    if (how === '' && (await clean())) return bump(t.recovery, 'at once');
    if (how === '' && rig.hCard !== undefined) {
      const r = await settle(
        call(client.SCardReconnect(rig.hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD)),
        DEADLINE_MS,
      );
      if (r.ok === 'hang') violation(t, `${what}: SCardReconnect did not settle`);
      if (r.ok === true && (await clean())) return bump(t.recovery, 'after SCardReconnect');
    }
    if (rig.hCard !== undefined) {
      await settle(call(client.SCardDisconnect(rig.hCard, SCARD_LEAVE_CARD)), DEADLINE_MS);
      rig.hCard = undefined;
    }
    if (!(await cardPresent(rig))) {
      violation(t, `${what}: the daemon never saw the card again after the fault stopped`);
      return;
    }
    let last = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await settle(
        call(client.SCardConnect(hContext, rig.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)),
        DEADLINE_MS,
      );
      if (r.ok === true) {
        rig.hCard = r.value.hCard;
        if (await clean()) return bump(t.recovery, `${how}after a new SCardConnect`);
        last = 'the clean exchange failed';
      } else last = r.ok === 'hang' ? 'SCardConnect hung' : `SCardConnect: ${String(r.error)}`;
      await sleep(5);
    }
    violation(t, `${what}: the reader did not recover once the fault stopped (${last})`);
  };

  const target = (rig: Rig, op: Op): FaultTarget =>
    rng.chance(0.2) ? { on: 'next-response' } : { on: 'nth-command', n: rng.int(1, commandsOf(op, rig.profile)) };

  for (let i = 0; i < o.faults; i++) {
    const index = rng.int(0, rigs.length - 1);
    if (rigs[index]!.hCard === undefined)
      await recover(index, `before fault #${i} (no handle left) (SOAK_SEED=${o.seed})`);
    const rig = rigs[index]!;
    const r = rng.next();
    const op: Op =
      r < 0.3
        ? { kind: 'getchallenge', le: rng.pick([8, 8, rng.int(1, 255)]) }
        : r < 0.5
          ? { kind: 'hello' }
          : r < 0.85
            ? { kind: 'echo', data: rng.bytes(rng.int(1, 255)) }
            : { kind: 'echo', data: rng.bytes(rng.chance(0.15) ? 65000 : rng.int(256, 3000)) };
    const card = rig.sim.cardIn(0) as SimulatedCard;
    const checked = rig.profile === 'gempc-twin';
    const kinds = [
      'drop',
      'duplicate',
      'truncate',
      'garble-header',
      'wrong-seq',
      'stale',
      'time-extension',
      'zlp',
      'stall-in',
      'stall-out',
      'hardware-error',
      'mute',
      'edc',
      'wtx',
      'mute-after',
      'removal',
      'unplug',
      ...(checked ? ['garble-payload', 'garble-payload'] : []),
    ];
    const kind = rng.pick(kinds);
    let spec: FaultSpec | undefined;
    const tg = target(rig, op);
    switch (kind) {
      case 'drop':
      case 'duplicate':
      case 'wrong-seq':
      case 'stale':
      case 'zlp':
        spec = { kind, target: tg };
        break;
      case 'truncate':
        spec = { kind, bytes: rng.int(0, 40), target: tg };
        break;
      case 'garble-header': {
        let offset = rng.int(0, 9);
        let mask = rng.int(1, 255);
        // bChainParameter on the CCID-chaining reader: only flips that leave it invalid (see the file header).
        if (!checked && offset === 9) mask = rng.pick([0xff, 0x11]);
        // bError of a successful message is not looked at: a flip there is no fault. bStatus gets the flips that matter.
        if (offset === 8) offset = 7;
        if (offset === 7) mask = rng.pick([0x40, 0x80, 0x01, 0x02, 0xc0]);
        spec = { kind: 'garble', where: 'header', offset, mask, target: tg };
        break;
      }
      case 'garble-payload':
        spec = { kind: 'garble', where: 'payload', offset: rng.int(0, 300), mask: rng.int(1, 255), target: tg };
        break;
      case 'time-extension':
        spec = { kind, count: rng.int(1, 4), multiplier: rng.int(0, 20), target: tg };
        break;
      case 'stall-in':
        spec = { kind: 'stall', endpoint: 'bulk-in' };
        break;
      case 'stall-out':
        spec = { kind: 'stall', endpoint: 'bulk-out' };
        break;
      case 'hardware-error':
        spec = { kind: 'hardware-error' };
        break;
      case 'mute':
        spec = { kind: 'mute' };
        break;
      case 'edc':
        card.faults.garbleT1Edc = rng.int(1, 12);
        break;
      case 'wtx':
        card.faults.wtxRequests = rng.int(1, 3);
        card.faults.wtxMultiplier = rng.int(1, 255);
        break;
      case 'mute-after':
        card.faults.muteAfterExchanges = rng.int(0, 8);
        break;
      case 'removal':
        rig.outCount = 0;
        rig.trigger = { at: rng.int(1, commandsOf(op, rig.profile)), fire: () => rig.sim.removeCard(0) };
        break;
      case 'unplug':
        rig.outCount = 0;
        rig.trigger = { at: rng.int(1, commandsOf(op, rig.profile)), fire: () => rig.sim.unplug() };
        break;
    }
    const firedBefore = rig.sim.faults.injected;
    let triggerFired = false;
    if (rig.trigger !== undefined) {
      const fire = rig.trigger.fire;
      rig.trigger.fire = () => {
        triggerFired = true;
        fire();
      };
    }
    const armed = {
      edc: card.faults.garbleT1Edc,
      wtx: card.faults.wtxRequests,
      muteAfter: card.faults.muteAfterExchanges,
    };
    if (spec !== undefined) rig.sim.injectFault(spec);
    const what = `fault #${i} ${kind}${spec ? ` ${JSON.stringify(spec)}` : ''} on ${rig.profile} during ${op.kind}${op.kind === 'echo' ? ` ${op.data.length}` : ''} (SOAK_SEED=${o.seed})`;
    const outcome = await run(rigs[index]!, op, what);
    bump(t.byKind, `outcome:${outcome}`);
    // Counted as injected only when it really acted on this call (a target past the op's last command does not).
    const fired =
      spec !== undefined
        ? rig.sim.faults.injected > firedBefore
        : kind === 'removal' || kind === 'unplug'
          ? triggerFired
          : kind === 'edc'
            ? card.faults.garbleT1Edc < armed.edc
            : kind === 'wtx'
              ? card.faults.wtxRequests < armed.wtx
              : card.faults.muteAfterExchanges !== armed.muteAfter;
    if (fired) {
      t.faultsInjected += 1;
      bump(t.byKind, `fault:${kind}`);
    } else bump(t.byKind, 'planned, not reached');
    if (outcome === 'hang') {
      // The campaign goes on with a fresh reader; the hang is reported.
      rig.sim.unplug();
    }
    await recover(index, what);
    if (o.log && (i + 1) % 500 === 0) o.log(`faults: ${i + 1}/${o.faults}, violations so far ${t.violations.length}`);
  }
  await client.close();
  await daemon.shutdown();
}

/**
 * Campaign (b): client churn. Batches of clients connect, establish contexts, connect the card, transact and vanish
 * (client.close() without releasing anything) — some holding a transaction or exclusive access, some in the middle of
 * a call, some waiting in SCardGetStatusChange — while an observer client keeps using the same card: its calls wait
 * for the vanishing holders and must always settle within the deadline and then succeed.
 *
 * Leak evidence, after each phase: `daemon.stats()` must count exactly what the observer and the probe hold (2
 * clients, 2 contexts, no card handle, no waiter); and, through the public API, SCardConnect EXCLUSIVE must succeed
 * once everyone vanished (no handle, transaction or exclusive lock left behind), and every few phases the whole
 * 200-context budget (PCSC_MAX_CONTEXT_THREADS) must be available again (no context left behind).
 */
import { CcidReader } from '../../src/ccid/reader.js';
import {
  INFINITE,
  PCSC_MAX_CONTEXT_THREADS,
  PcscDaemon,
  PcscError,
  SCARD_E_NO_MEMORY,
  SCARD_E_SHARING_VIOLATION,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_STATE_UNAWARE,
  type PcscClient,
} from '../../src/pcsc/index.js';
import { createSimulatedReader, helloWorldCardT1 } from '../../src/sim/index.js';
import { Prng, bump, settle, sleep, violation, type Totals } from './common.js';

const DEADLINE_MS = 10_000;
const GET_CHALLENGE = Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08);
const PCI = { dwProtocol: SCARD_PROTOCOL_T1 };

type Cycle = 'plain' | 'transaction' | 'exclusive' | 'mid-call' | 'waiting' | 'clean';
const CYCLES: Cycle[] = ['plain', 'transaction', 'exclusive', 'mid-call', 'waiting', 'clean'];

export interface ChurnOptions {
  seed: number;
  clients: number;
  totals: Totals;
  /** Clients per batch (phase). */
  batch?: number;
  log?: (s: string) => void;
}

export async function churnCampaign(o: ChurnOptions): Promise<void> {
  const rng = new Prng(o.seed ^ 0x5eed);
  const t = o.totals;
  const batch = o.batch ?? 10;
  const sim = createSimulatedReader('gempc-twin');
  sim.insertCard(helloWorldCardT1({ seed: 3 }));
  const daemon = new PcscDaemon({ powerOffGraceMs: 20, random: () => rng.next() });
  const [reader] = await daemon.addReader(await CcidReader.open(sim, { timeoutScale: 0.01, pollIntervalMs: 5 }));
  const name = reader!;

  /** A call that must settle within the deadline; returns its outcome (a hang is a violation). */
  const must = async <T>(
    p: Promise<T>,
    what: string,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> => {
    t.calls += 1;
    const r = await settle(p, DEADLINE_MS);
    if (r.ok === 'hang') {
      violation(t, `${what}: did not settle within ${DEADLINE_MS} ms (SOAK_SEED=${o.seed})`);
      return { ok: false, error: new Error('hang') };
    }
    if (r.ok === false && !(r.error instanceof PcscError))
      violation(t, `${what}: rejected with a non-PcscError: ${String(r.error)} (SOAK_SEED=${o.seed})`);
    return r;
  };

  const checkChallenge = (r: Uint8Array, what: string): void => {
    if (r.length !== 10 || r[8] !== 0x90 || r[9] !== 0x00)
      violation(t, `${what}: GET CHALLENGE answered ${r.length} bytes`);
  };

  /** One vanishing client. */
  const cycle = async (kind: Cycle, index: number): Promise<void> => {
    const what = `churn client ${index} (${kind})`;
    const client = daemon.connect({ name: `churn-${index}` });
    t.clientsChurned += 1;
    bump(t.byKind, `churn:${kind}`);
    const contexts: number[] = [];
    for (let k = rng.int(1, 3); k > 0; k--) {
      const r = await must(client.SCardEstablishContext(SCARD_SCOPE_SYSTEM), `${what}: SCardEstablishContext`);
      if (r.ok) contexts.push(r.value.hContext);
    }
    if (contexts.length === 0) return void (await client.close());
    const share = kind === 'exclusive' ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED;
    let hCard: number | undefined;
    // An exclusive or shared connect meets the others' handles: a sharing violation is a right answer, retried a little.
    for (let attempt = 0; attempt < 20 && hCard === undefined; attempt++) {
      const r = await must(client.SCardConnect(contexts[0]!, name, share, SCARD_PROTOCOL_T1), `${what}: SCardConnect`);
      if (r.ok) hCard = r.value.hCard;
      else if (r.error instanceof PcscError && r.error.code === SCARD_E_SHARING_VIOLATION) await sleep(rng.int(0, 3));
      else break;
    }
    if (hCard !== undefined) {
      if (kind === 'transaction') await must(client.SCardBeginTransaction(hCard), `${what}: SCardBeginTransaction`);
      const r = await must(client.SCardTransmit(hCard, PCI, GET_CHALLENGE), `${what}: SCardTransmit`);
      if (r.ok) checkChallenge(r.value.recvBuffer, what);
      if (kind === 'mid-call') {
        t.calls += 1;
        void client.SCardTransmit(hCard, PCI, GET_CHALLENGE).catch(() => undefined);
      }
    }
    if (kind === 'waiting') {
      const ctx = contexts[contexts.length - 1]!;
      const now = await must(
        client.SCardGetStatusChange(ctx, 0, [{ szReader: name, dwCurrentState: SCARD_STATE_UNAWARE }]),
        `${what}: SCardGetStatusChange`,
      );
      if (now.ok) {
        t.calls += 1;
        // Left waiting for a change that will not come; the client vanishes under it: it must settle (NO_SERVICE).
        const waiting = client.SCardGetStatusChange(ctx, INFINITE, [
          { szReader: name, dwCurrentState: now.value.readerStates[0]!.dwEventState & ~2 },
        ]);
        void settle(waiting, DEADLINE_MS).then((r) => {
          if (r.ok === 'hang') violation(t, `${what}: a vanished client's SCardGetStatusChange never settled`);
          else if (r.ok === true) violation(t, `${what}: a vanished client's SCardGetStatusChange resolved`);
        });
      }
    }
    if (kind === 'clean') {
      if (hCard !== undefined) await must(client.SCardDisconnect(hCard, SCARD_LEAVE_CARD), `${what}: SCardDisconnect`);
      for (const c of contexts) await must(client.SCardReleaseContext(c), `${what}: SCardReleaseContext`);
    }
    await sleep(rng.int(0, 4));
    const closed = await settle(client.close(), DEADLINE_MS);
    if (closed.ok !== true)
      violation(
        t,
        `${what}: client.close() ${closed.ok === 'hang' ? 'hung' : `rejected: ${String((closed as { error: unknown }).error)}`}`,
      );
  };

  /** The observer: a long-lived client whose calls wait on the vanishing holders and must then succeed. */
  const observer = daemon.connect({ name: 'observer' });
  const { hContext: obsCtx } = await observer.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  const observe = async (phase: number): Promise<void> => {
    const what = `observer in phase ${phase}`;
    let hCard: number | undefined;
    for (let attempt = 0; attempt < 200 && hCard === undefined; attempt++) {
      const r = await must(
        observer.SCardConnect(obsCtx, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1),
        `${what}: SCardConnect`,
      );
      if (r.ok) hCard = r.value.hCard;
      else if (r.error instanceof PcscError && r.error.code === SCARD_E_SHARING_VIOLATION) await sleep(1);
      else return violation(t, `${what}: SCardConnect failed: ${String(r.error)}`);
    }
    if (hCard === undefined) return violation(t, `${what}: exclusive access never released`);
    // Waits while a vanishing client holds a transaction or exclusive access.
    const b = await must(observer.SCardBeginTransaction(hCard), `${what}: SCardBeginTransaction`);
    const r = await must(observer.SCardTransmit(hCard, PCI, GET_CHALLENGE), `${what}: SCardTransmit`);
    if (r.ok) checkChallenge(r.value.recvBuffer, what);
    if (b.ok) await must(observer.SCardEndTransaction(hCard, SCARD_LEAVE_CARD), `${what}: SCardEndTransaction`);
    await must(observer.SCardDisconnect(hCard, SCARD_LEAVE_CARD), `${what}: SCardDisconnect`);
  };

  const probe = daemon.connect({ name: 'probe' });
  const { hContext: probeCtx } = await probe.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  /** After a phase: nothing holds the card any more, and (every few phases) the whole context budget is free. */
  const leakCheck = async (phase: number, contextsToo: boolean): Promise<void> => {
    const what = `leak check after phase ${phase}`;
    let ok = false;
    // Cleanup of a closed client is awaited by close(); allow a short grace for the power-off timer and the like.
    for (let attempt = 0; attempt < 50 && !ok; attempt++) {
      const r = await must(
        probe.SCardConnect(probeCtx, name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1),
        `${what}: SCardConnect EXCLUSIVE`,
      );
      if (r.ok) {
        ok = true;
        await must(probe.SCardDisconnect(r.value.hCard, SCARD_LEAVE_CARD), `${what}: SCardDisconnect`);
      } else await sleep(2);
    }
    if (!ok)
      violation(
        t,
        `${what}: SCardConnect EXCLUSIVE still refused after every client vanished (a handle, transaction or exclusive lock leaked)`,
      );
    // Only the observer and the probe remain, each with one context, no card handle and nothing waiting.
    const held = daemon.stats();
    if (held.clients !== 2 || held.contexts !== 2 || held.handles !== 0 || held.waiters !== 0) {
      violation(
        t,
        `${what}: the daemon still holds ${JSON.stringify(held)}; expected 2 clients, 2 contexts, 0 handles, 0 waiters`,
      );
    }
    if (!contextsToo) return;
    // Two contexts are ours (observer, probe): the other 198 must be available.
    const extra: number[] = [];
    for (;;) {
      const r = await must(probe.SCardEstablishContext(SCARD_SCOPE_SYSTEM), `${what}: SCardEstablishContext`);
      if (r.ok) extra.push(r.value.hContext);
      else {
        if (!(r.error instanceof PcscError && r.error.code === SCARD_E_NO_MEMORY))
          violation(t, `${what}: SCardEstablishContext failed: ${String(r.error)}`);
        break;
      }
      if (extra.length > PCSC_MAX_CONTEXT_THREADS) break;
    }
    if (extra.length !== PCSC_MAX_CONTEXT_THREADS - 2) {
      violation(
        t,
        `${what}: ${extra.length} contexts could be established, ${PCSC_MAX_CONTEXT_THREADS - 2} expected (contexts leaked)`,
      );
    }
    for (const c of extra) await must(probe.SCardReleaseContext(c), `${what}: SCardReleaseContext`);
  };

  let index = 0;
  const phases = Math.ceil(o.clients / batch);
  for (let phase = 0; phase < phases; phase++) {
    const n = Math.min(batch, o.clients - index);
    const work: Promise<void>[] = [];
    for (let k = 0; k < n; k++) work.push(cycle(rng.pick(CYCLES), index++));
    work.push(observe(phase));
    const all = await settle(Promise.all(work), DEADLINE_MS * 3);
    if (all.ok === 'hang') violation(t, `phase ${phase}: the batch did not finish (SOAK_SEED=${o.seed})`);
    else if (all.ok === false) violation(t, `phase ${phase}: ${String(all.error)}`);
    await leakCheck(phase, phase % 10 === 9 || phase === phases - 1);
    if (o.log && (phase + 1) % 20 === 0)
      o.log(`churn: ${index}/${o.clients} clients, violations so far ${t.violations.length}`);
  }
  await observer.close();
  await probe.close();
  await daemon.shutdown();
}

export type { PcscClient };

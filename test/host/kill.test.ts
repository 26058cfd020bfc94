/**
 * Client processes killed outright (SIGKILL) mid-transaction, mid-transmit and mid-wait: their connection closes,
 * the daemon releases what they held (pcscd's MSGCleanupClient), the others go on, and nothing leaks.
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pcscdServerStats } from '../../src/host/pcscd/server.js';
import { Spawned, buildClient, haveTool, simReader, run, startRig, until, type HostRig } from './rig.js';

const available = haveTool('/usr/bin/gcc', 'gcc') && haveTool('/usr/include/PCSC/winscard.h', 'libpcsclite-dev');

let rig: HostRig | undefined;
let built: { dir: string; client: string } | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

function empty(r: HostRig): boolean {
  const d = r.daemon.stats();
  const s = pcscdServerStats(r.server);
  return (
    d.clients === 0 &&
    d.contexts === 0 &&
    d.handles === 0 &&
    d.waiters === 0 &&
    s.connections === 0 &&
    s.contexts === 0 &&
    s.waiting === 0
  );
}

describe.runIf(available)('clients killed with SIGKILL', () => {
  beforeAll(() => {
    built = buildClient();
  });
  afterAll(() => {
    if (built !== undefined) rmSync(built.dir, { recursive: true, force: true });
  });

  it('mid-transaction: the lock is released and another process takes it', async () => {
    rig = await startRig();
    const a = new Spawned(built!.client, ['hold'], rig.env);
    await a.waitFor(/LOCKED/);
    await a.kill('SIGKILL');
    const b = new Spawned(built!.client, ['hold'], rig.env);
    try {
      await b.waitFor(/LOCKED/);
      b.send('go');
      await b.waitFor(/end=0x00000000/);
    } finally {
      await b.kill();
    }
    await until(() => empty(rig!), 'everything released');
  });

  it('mid-transmit (65,000-byte ECHOs in a loop): the others go on', async () => {
    rig = await startRig();
    const a = new Spawned(built!.client, ['transmit-loop', '65000'], rig.env);
    const b = new Spawned(built!.client, ['transmit-loop', '300'], rig.env);
    try {
      await a.waitFor(/RUNNING/);
      await b.waitFor(/RUNNING/);
      await a.kill('SIGKILL');
      // b still transmits: its process is alive and no error line came out.
      const r = await run(built!.client, ['errors'], rig.env);
      expect(r.stdout).toContain('transmit_hello=0x00000000');
      expect(b.stdout).not.toContain('transmit=0x');
      expect(b.child.exitCode).toBeNull();
    } finally {
      await a.kill();
      await b.kill('SIGKILL');
    }
    await until(() => empty(rig!), 'everything released');
  });

  it('mid-wait: its event registration goes, card events still reach the others', async () => {
    const { sim, reader } = await simReader();
    rig = await startRig({ readers: [reader] });
    const a = new Spawned(built!.client, ['wait'], rig.env);
    const b = new Spawned(built!.client, ['wait'], rig.env);
    try {
      await a.waitFor(/WAITING/);
      await b.waitFor(/WAITING/);
      await until(() => pcscdServerStats(rig!.server).waiting === 2, 'both waiting');
      await a.kill('SIGKILL');
      await until(() => pcscdServerStats(rig!.server).waiting === 1, 'the dead one unregistered');
      // A card removal ends b's wait.
      sim.removeCard();
      await b.waitFor(/wait=0x00000000/);
    } finally {
      await a.kill();
      await b.kill();
    }
    await until(() => empty(rig!), 'everything released');
  });

  it('all three at once, then a new client works and nothing is left', async () => {
    rig = await startRig();
    const waiter = new Spawned(built!.client, ['wait'], rig.env);
    const looper = new Spawned(built!.client, ['transmit-loop', '65000'], rig.env);
    await waiter.waitFor(/WAITING/);
    await looper.waitFor(/RUNNING/);
    const holder = new Spawned(built!.client, ['hold'], rig.env);
    await until(() => rig!.daemon.stats().clients === 3, 'three clients');
    await Promise.all([waiter.kill('SIGKILL'), looper.kill('SIGKILL'), holder.kill('SIGKILL')]);
    await until(() => empty(rig!), 'everything released');
    const r = await run(built!.client, ['errors'], rig.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('hello=Hello world!');
    await until(() => empty(rig!), 'everything released again');
  });
});

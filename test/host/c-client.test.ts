/**
 * A C program of our own (test/host/c/pcsc-client.c), linked to Debian's libpcsclite, against our socket: the codes
 * of the error paths (bad handles, small buffers with the needed length, sharing violations) and a transaction held
 * by one process while another waits for it.
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pcscdServerStats } from '../../src/host/pcscd/server.js';
import { Spawned, buildClient, haveTool, run, simReader, startRig, until, type HostRig } from './rig.js';

const available = haveTool('/usr/bin/gcc', 'gcc') && haveTool('/usr/include/PCSC/winscard.h', 'libpcsclite-dev');

let binDir = '';
let CLIENT = '';

function codes(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    for (const m of line.matchAll(/(\w+)=(\S+)/g)) out[m[1]!] = m[2]!;
  }
  return out;
}

let rig: HostRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

describe.runIf(available)('a C client linked to libpcsclite', () => {
  beforeAll(() => {
    const b = buildClient();
    binDir = b.dir;
    CLIENT = b.client;
  });
  afterAll(() => {
    if (binDir !== '') rmSync(binDir, { recursive: true, force: true });
  });

  it("gets pcsc-lite's codes on the error paths", async () => {
    rig = await startRig();
    const r = await run(CLIENT, ['errors'], rig.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const c = codes(r.stdout);
    expect(c).toMatchObject({
      connect_bad_context: '0x80100003', // SCARD_E_INVALID_HANDLE
      transmit_bad_handle: '0x80100003',
      release_bad_context: '0x80100003',
      connect_unknown_reader: '0x80100009', // SCARD_E_UNKNOWN_READER
      list_small: '0x80100008', // SCARD_E_INSUFFICIENT_BUFFER …
      list_needed: String('Gemalto PC Twin Reader 00 00'.length + 2), // … with the multi-string's length
      select: '0x00000000',
      transmit_small: '0x80100008', // after the APDU ran, never truncated …
      transmit_needed: '14', // … "Hello world!" + 90 00
      transmit_hello: '0x00000000',
      hello: 'Hello',
      response_len: '14',
      sw: '9000',
      getattrib_small: '0x80100008',
      getattrib_atr: '0x00000000',
      transmit_wrong_protocol: '0x8010000F', // SCARD_E_PROTO_MISMATCH
      status: '0x00000000',
      status_state: '0x00000034', // event counter 0 << 16 | PRESENT | POWERED | NEGOTIABLE
      status_protocol: '2',
      end_without_begin: '0x80100016', // SCARD_E_NOT_TRANSACTED
      exclusive_while_shared: '0x8010000B', // SCARD_E_SHARING_VIOLATION
      disconnect: '0x00000000',
      disconnect_again: '0x80100003',
      exclusive: '0x00000000',
      shared_while_exclusive: '0x8010000B',
      disconnect_exclusive: '0x00000000',
      gsc_unknown_reader: '0x80100009',
      gsc_unaware: '0x00000000',
      gsc_event_state: '0x00000022', // PRESENT | CHANGED
      gsc_timeout: '0x8010000A', // SCARD_E_TIMEOUT
      release2: '0x00000000',
      release: '0x00000000',
      release_again: '0x80100003',
    });
    const atr = rig.daemon.readerStates()[0]!.atr;
    expect(c['atr_len']).toBe(String(atr.length));
    expect(c['status_atr_len']).toBe(String(atr.length));
    expect(c['gsc_atr_len']).toBe(String(atr.length));
    await until(() => rig!.daemon.stats().clients === 0, 'the client cleaned up');
    expect(rig.daemon.stats()).toMatchObject({ contexts: 0, handles: 0, waiters: 0 });
  });

  it('sees readers added and removed through \\\\?PnP?\\Notification, waiting or not', async () => {
    rig = await startRig();
    const pnp = new Spawned(CLIENT, ['pnp'], rig.env);
    try {
      await pnp.waitFor(/PNP_WAITING/);
      // Added while the client waits: the event wakes it and the array it then reads holds one more reader.
      await until(() => pcscdServerStats(rig!.server).waiting === 1, 'the PnP wait registered');
      const second = await simReader();
      await rig.daemon.addReader(second.reader);
      await pnp.waitFor(/PNP_LISTED/);
      expect(codes(pnp.stdout)).toMatchObject({
        pnp_start_readers: '1',
        pnp_added: '0x00000000',
        pnp_added_changed: '1',
        pnp_added_readers: '2',
      });
      // Removed while the client is not waiting (pcscd 1.9.9's clients would miss it: see server.ts).
      expect(pcscdServerStats(rig.server).waiting).toBe(0);
      await rig.daemon.removeReader(second.reader);
      pnp.send('go');
      await pnp.waitFor(/release=/);
      expect(codes(pnp.stdout)).toMatchObject({
        pnp_removed: '0x00000000',
        pnp_removed_changed: '1',
        pnp_removed_readers: '1',
        release: '0x00000000',
      });
    } finally {
      await pnp.kill();
    }
    await until(() => rig!.daemon.stats().clients === 0, 'the client cleaned up');
  });

  it('serialises a transaction across two processes', async () => {
    rig = await startRig();
    const other = new Spawned(CLIENT, ['contend'], rig.env);
    let holder: Spawned | undefined;
    try {
      await other.waitFor(/CONNECTED/);
      holder = new Spawned(CLIENT, ['hold'], rig.env);
      await holder.waitFor(/LOCKED/);
      other.send('go');
      await other.waitFor(/BEGINNING/);
      // While the other process holds the transaction, GetAttrib fails at once …
      expect(codes(other.stdout)['getattrib_locked']).toBe('0x8010000B');
      // … and BeginTransaction waits for it (the daemon counts the waiting caller).
      await until(() => rig!.daemon.stats().waiters >= 1, 'BeginTransaction waiting');
      expect(other.stdout).not.toContain('BEGUN');
      holder.send('go');
      await other.waitFor(/BEGUN/);
      await other.waitFor(/end=0x00000000/);
      expect(codes(holder.stdout)['end']).toBe('0x00000000');
    } finally {
      await holder?.kill();
      await other.kill();
    }
    await until(() => rig!.daemon.stats().clients === 0, 'both cleaned up');
  });
});

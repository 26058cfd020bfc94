/**
 * pyscard (Debian's python3-pyscard, run with /usr/bin/python3) through our socket: readers, connect, transmit, a
 * GetStatusChange wait cancelled by SCardCancel from another thread (CANCEL on a throwaway connection, delivered to
 * the waiting one).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pcscdServerStats } from '../../src/host/pcscd/server.js';
import { Spawned, havePyscard, simReader, startRig, until, type HostRig } from './rig.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'py', 'pyscard_client.py');

let rig: HostRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

describe('pyscard through our socket', () => {
  it.runIf(havePyscard())('lists, connects, transmits, and has a wait cancelled from another thread', async () => {
    rig = await startRig();
    const py = new Spawned('/usr/bin/python3', [SCRIPT], rig.env);
    try {
      await py.waitFor(/waiting=1/);
      // The waiting thread's connection is registered for the next reader event.
      await until(() => pcscdServerStats(rig!.server).waiting === 1, 'the GetStatusChange registered');
      py.send('cancel');
      await py.waitFor(/done=1/);
    } finally {
      await py.kill();
    }
    const o = py.stdout;
    expect(o).toContain('high_level_readers=Gemalto PC Twin Reader 00 00');
    expect(o).toContain('establish=0x0');
    expect(o).toContain('reader=Gemalto PC Twin Reader 00 00');
    expect(o).toContain('connect=0x0');
    expect(o).toContain('protocol=2');
    expect(o).toContain('select=9000');
    expect(o).toContain('hello=Hello world!');
    expect(o).toContain('sw=9000');
    expect(o).toContain('cancel=0x0');
    expect(o).toContain('wait_rv=0x80100002');
    expect(o).toContain('wait_cancelled=True');
    expect(o).toContain('release=0x0');
    await until(() => rig!.daemon.stats().clients === 0, 'pyscard cleaned up');
    expect(pcscdServerStats(rig.server)).toMatchObject({ connections: 0, contexts: 0, waiting: 0 });
  });

  it.runIf(havePyscard())(
    'sees readers added and removed through \\\\?PnP?\\Notification, waiting or not',
    async () => {
      rig = await startRig();
      const py = new Spawned('/usr/bin/python3', [SCRIPT, 'pnp'], rig.env);
      try {
        await py.waitFor(/pnp_waiting=1/);
        // Added while the client waits in SCardGetStatusChange.
        await until(() => pcscdServerStats(rig!.server).waiting === 1, 'the PnP wait registered');
        const second = await simReader();
        await rig.daemon.addReader(second.reader);
        await py.waitFor(/pnp_listed=1/);
        // Removed while it is not waiting: reported by its next wait all the same.
        await rig.daemon.removeReader(second.reader);
        py.send('go');
        await py.waitFor(/done=1/);
      } finally {
        await py.kill();
      }
      const o = py.stdout;
      expect(o).toContain('pnp_start_readers=Gemalto PC Twin Reader 00 00\n');
      expect(o).toContain('pnp_added=0x0\n');
      expect(o).toContain('pnp_added_changed=True');
      expect(o).toContain('pnp_added_readers=Gemalto PC Twin Reader 00 00|Gemalto PC Twin Reader 01 00\n');
      expect(o).toContain('pnp_removed=0x0\n');
      expect(o).toContain('pnp_removed_changed=True');
      expect(o).toContain('pnp_removed_readers=Gemalto PC Twin Reader 00 00\n');
      expect(o).toContain('release=0x0');
      await until(() => rig!.daemon.stats().clients === 0, 'pyscard cleaned up');
    },
  );
});

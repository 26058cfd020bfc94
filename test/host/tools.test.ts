/**
 * Debian's unmodified libpcsclite programs against our socket: pcsc_scan (pcsc-tools) sees the reader, the card,
 * its removal and insertion, a reader added and removed; opensc-tool (opensc) lists readers and exchanges APDUs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { helloWorldCardT1 } from '../../src/sim/index.js';
import { HELLO_HEX, SELECT_HELLO, Spawned, haveTool, run, simReader, startRig, until, type HostRig } from './rig.js';

let rig: HostRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

describe('pcsc_scan through our socket', () => {
  it.runIf(haveTool('/usr/bin/pcsc_scan', 'pcsc-tools'))('lists the reader (-r)', async () => {
    rig = await startRig();
    const r = await run('/usr/bin/pcsc_scan', ['-r'], rig.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('0: Gemalto PC Twin Reader 00 00');
  });

  it.runIf(haveTool('/usr/bin/pcsc_scan', 'pcsc-tools'))(
    'sees the card, its removal and insertion, a reader added and removed',
    async () => {
      const { sim, reader } = await simReader();
      rig = await startRig({ readers: [reader] });
      const scan = new Spawned('/usr/bin/pcsc_scan', ['-n'], { ...rig.env, TERM: 'dumb' });
      try {
        await scan.waitFor(/Card state: Card inserted/);
        await scan.waitFor(/ATR: 3B/);
        const mark = scan.stdout.length;
        sim.removeCard();
        await scan.waitFor(/Card state: Card removed/, 10_000, mark);
        const mark2 = scan.stdout.length;
        sim.insertCard(helloWorldCardT1());
        await scan.waitFor(/Card state: Card inserted/, 10_000, mark2);
        // The event counter the client read from READER_STATE: one removal + one insertion.
        expect(scan.stdout.slice(mark2)).toMatch(/Event number: 2/);
        // A reader plugged in and removed (PnP: the client counts the READER_STATE entries; pcsc_scan may be between
        // two waits when it happens, which server.ts makes visible to its next wait).
        const mark3 = scan.stdout.length;
        const second = await simReader();
        await rig.daemon.addReader(second.reader);
        await scan.waitFor(/Gemalto PC Twin Reader 01 00/, 10_000, mark3);
        const mark4 = scan.stdout.length;
        await rig.daemon.removeReader(second.reader);
        // pcsc_scan lists the readers again: only the first one, the list ends there.
        await scan.waitFor(/Scanning present readers\.\.\.\n0: Gemalto PC Twin Reader 00 00\n[^1]/, 10_000, mark4);
        // pcsc_scan may still have been printing the two-reader state when mark4 was taken: look from the new list on.
        const relisted = scan.stdout.lastIndexOf('Scanning present readers...');
        expect(relisted).toBeGreaterThanOrEqual(mark4);
        expect(scan.stdout.slice(relisted)).not.toContain('Reader 01 00');
      } finally {
        await scan.kill();
      }
      // pcsc_scan's connection went away: its event registration and its daemon client with it.
      await until(() => rig!.daemon.stats().clients === 0, 'pcsc_scan cleaned up');
    },
  );
});

describe('opensc-tool through our socket', () => {
  it.runIf(haveTool('/usr/bin/opensc-tool', 'opensc'))('lists the reader with a card (-l)', async () => {
    rig = await startRig();
    const r = await run('/usr/bin/opensc-tool', ['-l'], rig.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/0\s+Yes\s+Gemalto PC Twin Reader 00 00/);
  });

  it.runIf(haveTool('/usr/bin/opensc-tool', 'opensc'))(
    'reads the ATR (-a) and exchanges APDUs (-s): Hello world!',
    async () => {
      rig = await startRig();
      const atrHex = [...rig.daemon.readerStates()[0]!.atr]
        .map((b) => b.toString(16).toUpperCase().padStart(2, '0'))
        .join(':');
      const a = await run('/usr/bin/opensc-tool', ['-r', '0', '-a'], rig.env);
      expect(a.code).toBe(0);
      expect(a.stdout.trim().toUpperCase()).toBe(atrHex);
      const s = await run('/usr/bin/opensc-tool', ['-r', '0', '-s', SELECT_HELLO, '-s', '00:00:00:00'], rig.env);
      expect(s.code).toBe(0);
      expect(s.stdout).toContain('Received (SW1=0x90, SW2=0x00)');
      expect(s.stdout).toContain(`${HELLO_HEX} Hello world!`);
      await until(() => rig!.daemon.stats().clients === 0, 'opensc-tool cleaned up');
      expect(rig.daemon.stats()).toMatchObject({ contexts: 0, handles: 0, waiters: 0 });
      // No APDU bytes in the log unless logApdus: lengths only.
      const transmits = rig.logs.filter((l) => l.includes('TRANSMIT'));
      expect(transmits.length).toBeGreaterThan(0);
      expect(transmits.join('\n')).not.toContain('A0 00 00 00 62');
      expect(transmits.join('\n')).toContain('APDU (15 bytes)');
    },
  );

  it.runIf(haveTool('/usr/bin/opensc-tool', 'opensc'))('logs APDU bytes only with logApdus', async () => {
    rig = await startRig({ logApdus: true });
    const s = await run(
      '/usr/bin/opensc-tool',
      ['-r', '0', '-s', SELECT_HELLO, '-s', '00:20:00:81:04:31:32:33:34'],
      rig.env,
    );
    expect(s.code).toBe(0);
    const log = rig.logs.join('\n');
    expect(log).toContain('APDU (15 bytes): 00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');
    // VERIFY: the header only, never the PIN.
    expect(log).toContain('00 20 00 81 [PIN data redacted');
    expect(log).not.toContain('31 32 33 34');
  });
});

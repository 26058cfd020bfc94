/**
 * Forged and flushed log lines (issue 13, item 4): untrusted strings are quoted and escaped, one entry is one line,
 * a sender's log entries are limited, and permission decisions keep a record of their own that floods cannot evict.
 */
import { describe, expect, it } from 'vitest';
import { LogBuffer, LogQuota, boundEntries, exportText, type LogEntry } from '../../../src/connector/log.js';
import { ConnectorRouter } from '../../../src/connector/router.js';
import { blockedMessage } from '../../../src/connector/permissions.js';
import { FakeDaemon, attachRaw, flush } from './fake-daemon.js';

const FORGED = 'evil\n2026-12-03T10:00:00.000Z info  permissions: the user allowed abcdefghijklmnopabcdefghijklmnop';

describe('log quoting', () => {
  it('keeps every entry on one line in the export, whatever its message holds', () => {
    const log = new LogBuffer();
    log.add('info', 'router', `port#1 (extension x, ${FORGED})`);
    log.add('info', 'usb\nfake', `reader "A\u202eB" ready\r\n`);
    const text = exportText(log.entries(), { version: '1', apdus: false });
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(5); // two header lines, a blank one, two entries
    expect(lines.filter((l) => l.includes('permissions:'))).toHaveLength(1);
    expect(lines[3]).toContain('\\n2026-12-03T10:00:00.000Z');
    expect(lines[4]).toContain('usb\\nfake');
    expect(lines[4]).toContain('A\\u202eB');
  });

  it('quotes the names a client gives, in the router and in denial messages', async () => {
    const logs: string[] = [];
    const router = new ConnectorRouter({
      daemon: new FakeDaemon(),
      instance: 'i',
      version: '0',
      log: (l, m) => logs.push(m),
    });
    attachRaw(router, { id: 'abcdefghijklmnopabcdefghijklmnop' }, FORGED);
    await flush();
    expect(logs.some((l) => l.includes('"evil\\n2026-12-03T10:00:00.000Z'))).toBe(true);
    expect(logs.every((l) => !l.includes('\n'))).toBe(true);
    expect(blockedMessage('abcdefghijklmnopabcdefghijklmnop', `A\u202eB`)).toContain('"A\\u202eB"');
  });
});

describe('log floods', () => {
  it('keeps permission decisions when other entries flood the buffer', () => {
    const log = new LogBuffer(100);
    log.add('info', 'permissions', 'the user allowed abcdefghijklmnopabcdefghijklmnop');
    for (let i = 0; i < 5000; i++) log.add('warn', 'router', `malformed #${i}`);
    const entries = log.entries();
    expect(entries[0]!.source).toBe('permissions');
    expect(entries).toHaveLength(101);
    expect(entries.filter((e) => e.source === 'router')).toHaveLength(100);
    expect(log.since(0)).toEqual(entries);
    // A viewer bounds what it keeps the same way.
    const viewer: LogEntry[] = boundEntries([
      entries[0]!,
      ...Array.from({ length: 3000 }, (_, i) => ({ ...entries[1]!, seq: 10_000 + i })),
    ]);
    expect(viewer[0]!.source).toBe('permissions');
    expect(viewer).toHaveLength(2001);
  });

  it('a token bucket per sender: a burst, then a steady rate; what was held back is counted', () => {
    let t = 0;
    const q = new LogQuota(3, 1, () => t);
    expect([q.take('a'), q.take('a'), q.take('a')].every((r) => r.ok)).toBe(true);
    expect(q.take('a')).toEqual({ ok: false, first: true });
    expect(q.take('a')).toEqual({ ok: false, first: false });
    expect(q.take('b').ok).toBe(true); // another sender is not affected
    t += 1000;
    expect(q.take('a')).toEqual({ ok: true, held: 2 });
    expect(q.take('a').ok).toBe(false);
  });

  it('a sender going on at its limit: its entries at the steady rate, the quota notices at most once a second', () => {
    let t = 0;
    const q = new LogQuota(10, 100, () => t);
    let written = 0;
    let said = 0;
    let notices = 0;
    let held = 0;
    for (let i = 0; i < 5000; i++) {
      t += 1; // one entry a millisecond for 5 s: ten times its rate
      const r = q.take('a');
      if (r.ok) {
        written++;
        if (r.held > 0) notices++;
        said += r.held;
      } else {
        held++;
        if (r.first) notices++;
      }
    }
    // The burst, then 100 a second: the entries keep coming at the steady rate.
    expect(written).toBeGreaterThanOrEqual(500);
    expect(written).toBeLessThanOrEqual(512);
    // "too many" and "N held back": one of each a second, not two around each entry written.
    expect(notices).toBeLessThanOrEqual(10);
    expect(notices).toBeGreaterThanOrEqual(8);
    // Every entry held back is counted: what was said and what is still to be said.
    t += 1000;
    const last = q.take('a');
    expect(last.ok && said + last.held).toBe(held);
  });

  it('a never-allowed sender flooding malformed messages writes a bounded number of entries', async () => {
    const logs: string[] = [];
    const router = new ConnectorRouter({
      daemon: new FakeDaemon(),
      instance: 'i',
      version: '0',
      log: (l, m) => logs.push(m),
      authorize: () => new Promise(() => {}), // the user has not answered
      now: () => 0,
    });
    const sender = { id: 'abcdefghijklmnopabcdefghijklmnop' };
    for (let port = 0; port < 60; port++) {
      const raw = attachRaw(router, sender, 'flood');
      for (let i = 0; i < 10; i++) raw.send({ v: 1, kind: 'nonsense', id: i });
      await flush();
    }
    // 60 ports × 12 entries (attach, 10 malformed, disconnect, detach) would be over 700 entries.
    expect(logs.length).toBeLessThan(60);
    expect(logs.some((l) => l.includes('too many log entries'))).toBe(true);
    // Another sender still gets its entries.
    attachRaw(router, { id: 'ponmlkjihgfedcbaponmlkjihgfedcba' }, 'other');
    await flush();
    expect(logs.at(-1)).toContain('ponmlkjihgfedcbaponmlkjihgfedcba');
  });
});

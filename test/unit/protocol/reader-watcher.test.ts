/**
 * The reader watcher against a small scripted daemon: it reports the readers at start, again after a card event and
 * after a reader comes or goes (the PnP pseudo reader), recovers from a context that went away, and stops on request.
 * Also once against the real PcscDaemon with the demo reader, through the ConnectorService that composes them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReaderWatcher, type WatchedDaemon } from '../../../src/protocol/reader-watcher.js';
import type { ReaderInfo } from '../../../src/protocol/codec.js';
import type { ReaderStateIn, ReaderStateOut } from '../../../src/pcsc/api.js';
import { PcscError } from '../../../src/pcsc/errors.js';
import {
  PNP_NOTIFICATION_READER_NAME,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_E_NO_SERVICE,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_PRESENT,
} from '../../../src/pcsc/constants.js';
import { ConnectorService } from '../../../src/connector/service.js';
import { flush } from '../connector/fake-daemon.js';

const ATR = Uint8Array.of(0x3b, 0x02, 0x14, 0x50);

/** Readers by name; a change wakes every INFINITE wait; `invalidate` kills the context. */
class ScriptedDaemon implements WatchedDaemon {
  readers = new Map<string, { state: number; atr: Uint8Array }>();
  contexts = 0;
  valid = new Set<number>();
  closed = 0;
  waits = 0;
  private wakers: ((e?: Error) => void)[] = [];

  change(f: () => void): void {
    f();
    for (const w of this.wakers.splice(0)) w();
  }
  invalidate(): void {
    this.valid.clear();
    for (const w of this.wakers.splice(0)) w(new PcscError(SCARD_E_INVALID_HANDLE, 'context gone'));
  }
  shutdown(): void {
    for (const w of this.wakers.splice(0)) w(new PcscError(SCARD_E_NO_SERVICE, 'stopped'));
  }

  connect(): ReturnType<WatchedDaemon['connect']> {
    const check = (h: number) => {
      if (!this.valid.has(h)) throw new PcscError(SCARD_E_INVALID_HANDLE, 'no such context');
    };
    return {
      SCardEstablishContext: () => {
        const h = ++this.contexts;
        this.valid.add(h);
        return Promise.resolve({ hContext: h });
      },
      SCardIsValidContext: (h) => Promise.resolve().then(() => check(h)),
      SCardListReaders: (h) =>
        Promise.resolve().then(() => {
          check(h);
          if (this.readers.size === 0) throw new PcscError(SCARD_E_NO_READERS_AVAILABLE, 'none');
          return { readers: [...this.readers.keys()] };
        }),
      SCardGetStatusChange: (h: number, timeout: number, states: ReaderStateIn[]) =>
        Promise.resolve().then(async (): Promise<{ readerStates: ReaderStateOut[] }> => {
          check(h);
          if (timeout !== 0) {
            this.waits++;
            expect(states[0]!.szReader).toBe(PNP_NOTIFICATION_READER_NAME);
            expect(states[0]!.dwCurrentState).toBe((states.length - 1) << 16);
            await new Promise<void>((resolve, reject) => this.wakers.push((e) => (e ? reject(e) : resolve())));
          }
          return {
            readerStates: states.map((s) => {
              const r = this.readers.get(s.szReader);
              return {
                szReader: s.szReader,
                dwCurrentState: s.dwCurrentState,
                dwEventState: (r?.state ?? 0) | SCARD_STATE_CHANGED,
                rgbAtr: r?.atr ?? new Uint8Array(0),
              };
            }),
          };
        }),
      close: () => {
        this.closed++;
        return Promise.resolve();
      },
    };
  }
}

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function watch(daemon: ScriptedDaemon) {
  const seen: ReaderInfo[][] = [];
  const logs: string[] = [];
  const watcher = new ReaderWatcher(daemon, {
    onChange: (r) => seen.push(r),
    log: (l, m) => logs.push(`${l}: ${m}`),
    retryMs: 1,
  });
  const done = watcher.start();
  cleanup.push(async () => {
    watcher.stop();
    daemon.shutdown();
    await done;
  });
  return { watcher, seen, logs, done };
}

describe('ReaderWatcher', () => {
  it('reports no readers, then a reader and its card as they come, without SCARD_STATE_CHANGED', async () => {
    const daemon = new ScriptedDaemon();
    const { watcher, seen } = watch(daemon);
    await flush();
    expect(seen).toEqual([[]]);
    daemon.change(() => daemon.readers.set('R 00 00', { state: SCARD_STATE_EMPTY, atr: new Uint8Array(0) }));
    await flush();
    expect(seen.at(-1)).toEqual([{ name: 'R 00 00', state: SCARD_STATE_EMPTY, atr: new Uint8Array(0) }]);
    daemon.change(() => daemon.readers.set('R 00 00', { state: SCARD_STATE_PRESENT, atr: ATR }));
    await flush();
    expect(seen.at(-1)).toEqual([{ name: 'R 00 00', state: SCARD_STATE_PRESENT, atr: ATR }]);
    expect(watcher.state('R 00 00')).toEqual({ state: SCARD_STATE_PRESENT, atr: ATR });
    expect(watcher.state('other')).toBeUndefined();
    daemon.change(() => daemon.readers.clear());
    await flush();
    expect(seen.at(-1)).toEqual([]);
    expect(watcher.readers).toEqual([]);
  });

  it('a context that went away is replaced, and watching goes on', async () => {
    const daemon = new ScriptedDaemon();
    daemon.readers.set('R 00 00', { state: SCARD_STATE_EMPTY, atr: new Uint8Array(0) });
    const { seen, logs } = watch(daemon);
    await flush();
    expect(daemon.contexts).toBe(1);
    daemon.invalidate();
    await flush(20);
    expect(daemon.contexts).toBe(2);
    expect(logs.some((l) => l.startsWith('debug: reader watcher: '))).toBe(true);
    daemon.change(() => daemon.readers.set('R 00 00', { state: SCARD_STATE_PRESENT, atr: ATR }));
    await flush();
    expect(seen.at(-1)).toEqual([{ name: 'R 00 00', state: SCARD_STATE_PRESENT, atr: ATR }]);
  });

  it('stops after the current wait ends and closes its daemon client; start() twice runs one loop', async () => {
    const daemon = new ScriptedDaemon();
    const { watcher, done } = watch(daemon);
    expect(watcher.start()).toBe(done);
    await flush();
    expect(daemon.waits).toBe(1);
    watcher.stop();
    daemon.shutdown();
    await done;
    expect(daemon.closed).toBe(1);
  });

  it('a throwing onChange is logged and does not stop the watcher', async () => {
    const daemon = new ScriptedDaemon();
    const logs: string[] = [];
    let calls = 0;
    const watcher = new ReaderWatcher(daemon, {
      onChange: () => {
        calls++;
        throw new Error('listener broke');
      },
      log: (l, m) => logs.push(`${l}: ${m}`),
    });
    const done = watcher.start();
    cleanup.push(async () => {
      watcher.stop();
      daemon.shutdown();
      await done;
    });
    await flush();
    daemon.change(() => daemon.readers.set('R 00 00', { state: SCARD_STATE_EMPTY, atr: new Uint8Array(0) }));
    await flush();
    expect(calls).toBe(2);
    expect(logs).toContain('warn: publishing readers: Error: listener broke');
  });

  it('with the real daemon (through the service): the demo reader and its card as a client sees them', async () => {
    const service = new ConnectorService({ usb: null, version: '1.0.0' });
    cleanup.push(() => service.shutdown());
    await service.start();
    await service.setDemoReader(true);
    const present = () =>
      service.readerWatcher.readers.some((r) => (r.state & SCARD_STATE_PRESENT) !== 0 && r.atr.length > 0);
    for (let i = 0; i < 200 && !present(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(present()).toBe(true);
    service.demoReader!.removeCard();
    const empty = () => service.readerWatcher.readers.every((r) => (r.state & SCARD_STATE_EMPTY) !== 0);
    for (let i = 0; i < 200 && !empty(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(empty()).toBe(true);
  });
});

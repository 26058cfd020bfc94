/**
 * The connector service with the host link, in Node: the demo reader (service 'worker') and an in-memory host's
 * simulated reader (service 'host') as one reader list for a client extension, names kept unique, card handles going
 * to the service of their reader, the window's status (origins, the host's state), the host settings stored and read
 * back by a new worker, and the list healing when the host dies and comes back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectorService, HOST_SETTING, MemorySettings } from '../../../src/connector/service.js';
import { createPortPair } from '../../../src/protocol/port.js';
import { connect, type Connection } from '../../../client-lib/src/index.js';
import {
  SCARD_E_NO_SMARTCARD,
  SCARD_W_REMOVED_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  PcscError,
} from '../../../src/pcsc/index.js';
import { FakeNative, ManualTimers, hostDaemon } from './fake-host.js';
import { SELECT_HELLO } from '../../support/hello.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
});

async function until(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!f()) throw new Error(`never: ${what}`);
}

const GEMPC = 'Gemalto PC Twin Reader 00 00';
const GEMPC_01 = 'Gemalto PC Twin Reader 01 00';
const SAY_HELLO = Uint8Array.of(0, 0, 0, 0);

async function make(options: { settings?: MemorySettings; notInstalled?: boolean } = {}) {
  const host = await hostDaemon();
  cleanup.push(() => host.close());
  const native = new FakeNative({ daemon: host.daemon });
  native.notInstalled = options.notInstalled ?? false;
  const timers = new ManualTimers();
  const settings = options.settings ?? new MemorySettings();
  const service = new ConnectorService({
    usb: null,
    version: '9.9.9',
    settings,
    connectNative: native.connectNative,
    nativeLastError: native.lastError,
    hostLink: { timers },
  });
  cleanup.push(() => service.shutdown());
  const client = async (): Promise<Connection> => {
    const c = await connect('connector', {
      pingIntervalMs: 0,
      port: () => {
        const [mine, theirs] = createPortPair('test app');
        service.attachClient(theirs, { id: 'a'.repeat(32) });
        return mine;
      },
    });
    cleanup.push(() => c.close());
    return c;
  };
  return { service, native, timers, settings, host, client };
}

describe('ConnectorService with the host', () => {
  it('tries the host once at start by default: one reader list, names unique, handles routed', async () => {
    const { service, native, client, host } = await make();
    await service.start();
    await until(() => service.status().host.state === 'connected', 'host connected');
    expect(native.connects).toBe(1);
    expect(service.status().host).toMatchObject({ enabled: true, choice: 'auto', backend: 'own', version: '0.2.0' });
    await service.setDemoReader(true);
    await until(() => service.status().readers.length === 2, 'two readers in the window');

    const app = await client();
    const { hContext } = await app.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await app.SCardListReaders(hContext, null);
    // The same model on both sides: the host's reader came first, the demo reader is renamed as pcscd would.
    expect(new Set(readers).size).toBe(2);
    expect(readers.sort()).toEqual([GEMPC, GEMPC_01]);

    // The window says where each comes from, with the names the watcher (and so the clients' events) use.
    const rows = service.status().readers;
    const demo = rows.find((r) => r.origin === 'demo')!;
    const fromHost = rows.find((r) => r.origin === 'own')!;
    expect(demo.readerNames).toHaveLength(1);
    expect(fromHost.readerNames).toHaveLength(1);
    expect(new Set([demo.readerNames[0], fromHost.readerNames[0]])).toEqual(new Set([GEMPC, GEMPC_01]));
    await until(() => service.status().readers.every((r) => r.cards[0] === true), 'cards seen');

    // The host's card goes: only the handle on the host's reader sees it.
    const hostName = fromHost.readerNames[0]!;
    const demoName = demo.readerNames[0]!;
    const onHost = await app.SCardConnect(hContext, hostName, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const onDemo = await app.SCardConnect(hContext, demoName, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    host.sim.removeCard();
    await until(() => service.status().readers.find((r) => r.origin === 'own')!.cards[0] === false, 'card out');
    expect((await app.SCardStatus(onHost.hCard).catch((e: unknown) => e)) as object).toBeInstanceOf(PcscError);
    const err = await app.SCardTransmit(onHost.hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_HELLO).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PcscError);
    expect([SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD]).toContain((err as PcscError).code);
    await app.SCardTransmit(onDemo.hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_HELLO);
    const hello = await app.SCardTransmit(onDemo.hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SAY_HELLO);
    expect(new TextDecoder().decode(hello.recvBuffer.slice(0, -2))).toBe('Hello world!');
  });

  it('host not installed: the window says how to install it, the demo reader works as before', async () => {
    const { service, native, timers, client } = await make({ notInstalled: true });
    await service.start();
    await until(() => service.status().host.state === 'not-installed', 'not installed');
    expect(service.status().host.text).toBe('Host not installed: run `smart-card-host install`');
    expect(service.status().host.installCommand).toBe('smart-card-host install');
    expect(timers.pending).toEqual([]);
    expect(native.connects).toBe(1);
    await service.setDemoReader(true);
    const app = await client();
    const { hContext } = await app.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    expect((await app.SCardListReaders(hContext, null)).readers).toEqual([GEMPC]);
    expect(service.status().readers.map((r) => r.origin)).toEqual(['demo']);
  });

  it('the host dies: its reader leaves the list, and comes back when the host is started again', async () => {
    const { service, native, timers, client } = await make();
    await service.start();
    await until(() => service.status().host.state === 'connected', 'connected');
    const app = await client();
    const { hContext } = await app.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await until(() => service.status().readers.length === 1, 'host reader seen');
    expect((await app.SCardListReaders(hContext, null)).readers).toEqual([GEMPC]);
    native.current!.kill();
    await until(() => service.status().host.state === 'crashed', 'crashed');
    expect(service.status().host.text).toBe('Host stopped: starting it again in 1 s.');
    await until(() => service.status().readers.length === 0, 'reader gone from the window');
    timers.advance(1000);
    await until(() => service.status().host.state === 'connected', 'connected again');
    await until(() => service.status().readers.length === 1, 'reader back in the window');
    expect((await app.SCardListReaders(hContext, null)).readers).toEqual([GEMPC]);
    expect(native.connects).toBe(2);
  });

  it('the switch and the backend are stored and read back by the next worker', async () => {
    const settings = new MemorySettings();
    const first = await make({ settings });
    await first.service.start();
    await until(() => first.service.status().host.state === 'connected', 'connected');
    await first.service.setHostBackend('system');
    await until(() => first.service.status().host.state === 'no-backend', 'system not running');
    const view = first.service.status().host;
    expect(view.text).toMatch(/system's smart card service is not running/);
    expect(view.offerOwn).toBe(true);
    await first.service.setHostEnabled(false);
    expect(first.service.status().host).toMatchObject({ state: 'off', enabled: false, choice: 'system' });
    expect(await settings.get(HOST_SETTING)).toEqual({ enabled: false, backend: 'system' });

    const second = await make({ settings });
    await second.service.start();
    expect(second.native.connects).toBe(0);
    expect(second.service.status().host).toMatchObject({ state: 'off', enabled: false, choice: 'system' });
  });

  it("answers SCardEstablishContext before the host link's put-off start; a reader list starts it", async () => {
    const { service, native, client } = await make();
    await service.start();
    const app = await client();
    const { hContext } = await app.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    // Put off (up to 100 ms) until a call needs the readers, as the demo reader's set-up: no connectNative yet.
    expect(native.connects).toBe(0);
    await app.SCardListReaders(hContext, null).catch(() => undefined);
    await until(() => service.status().host.state === 'connected', 'connected after the reader list');
    expect(native.connects).toBe(1);
  });

  it("the window's switch used while the start puts the host off has the last word", async () => {
    const { service, native, client } = await make();
    // start() is over once the settings are read (no demo reader to wait for); the link's start is still put off.
    await service.start();
    await service.setHostEnabled(false);
    // A call that needs the readers ends the start's wait (as its timer would); the link must stay as the switch left it.
    const app = await client();
    const { hContext } = await app.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await app.SCardListReaders(hContext, null).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 150));
    expect(service.status().host).toMatchObject({ state: 'off', enabled: false });
    expect(native.connects).toBeLessThanOrEqual(1);
    await service.setHostEnabled(true);
    await until(() => service.status().host.state === 'connected', 'connected once switched on');
  });
});

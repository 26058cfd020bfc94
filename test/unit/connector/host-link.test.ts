/**
 * The host link against an in-memory smart-card-host (fake-host.ts: the connector's router over a PcscDaemon with a
 * simulated reader, behind Chrome-like JSON ports) and hand-moved timers: the hello exchange, a missing host, a
 * version mismatch, a host dying in the middle of a transmit and of a wait (the codes the combined reader list gives),
 * the back-off schedule and its reset, readers coming back, switching off and changing backends without leaks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HOST_INSTALL_COMMAND, HostLink, protocolPort, type HostLinkState } from '../../../src/connector/host-link.js';
import { CombinedDaemon } from '../../../src/connector/combined-daemon.js';
import { NATIVE_HOST_NAME } from '../../../src/protocol/native.js';
import { createPortPair } from '../../../src/protocol/port.js';
import type { PcscApi } from '../../../src/pcsc/api.js';
import {
  INFINITE,
  PcscError,
  SCARD_E_NO_SERVICE,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_CHANGED,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAVAILABLE,
  SCARD_STATE_UNKNOWN,
} from '../../../src/pcsc/index.js';
import {
  FakeNative,
  HOST_EXITED,
  HOST_NOT_FOUND,
  ManualTimers,
  hostDaemon,
  type FakeHostOptions,
} from './fake-host.js';
import { FakeDaemon, flush } from './fake-daemon.js';
import { SELECT_HELLO } from '../../support/hello.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
});

/** Flushes until `cond` holds (each round lets ports, the daemon and the simulator move). */
async function until(cond: () => boolean, what: string, rounds = 200): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (cond()) return;
    await flush(2);
  }
  throw new Error(`never happened: ${what}`);
}

async function setup(host: FakeHostOptions = {}, withDaemon = true) {
  const timers = new ManualTimers();
  const stack = withDaemon ? await hostDaemon() : undefined;
  if (stack) cleanup.push(() => stack.close());
  const native = new FakeNative({ ...(stack ? { daemon: stack.daemon } : {}), ...host });
  const services: { service: PcscApi | null; backend: string | null }[] = [];
  const states: HostLinkState[] = [];
  const logs: string[] = [];
  const link = new HostLink({
    connectNative: native.connectNative,
    lastError: native.lastError,
    timers,
    pingIntervalMs: 0,
    onService: (service, backend) => services.push({ service, backend }),
    onState: (s) => states.push(s),
    log: (level, message) => logs.push(`${level} ${message}`),
  });
  cleanup.push(() => link.dispose());
  return { timers, native, link, services, states, logs, stack };
}

describe('host link: hello', () => {
  it('sends hello with the chosen backend first, then serves the host through protocol v1', async () => {
    const { native, link, services, states } = await setup();
    link.setBackend('own');
    link.setEnabled(true);
    expect(native.names).toEqual([NATIVE_HOST_NAME]);
    await until(() => link.state.state === 'connected', 'connected');
    const proc = native.current!;
    expect(proc.hellos).toHaveLength(1);
    expect(proc.received[0]).toMatchObject({ v: 1, kind: 'hello', backend: 'own' });
    expect(states.map((s) => s.state)).toEqual(['starting', 'connected']);
    expect(link.state).toMatchObject({ state: 'connected', version: '0.2.0', platform: 'linux-x64', backend: 'own' });
    expect(services).toHaveLength(1);
    const pcsc = services[0]!.service!;
    const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await pcsc.SCardListReaders(hContext, null);
    expect(readers).toEqual(['Gemalto PC Twin Reader 00 00']);
    const { hCard } = await pcsc.SCardConnect(hContext, readers[0]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const { recvBuffer } = await pcsc.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_HELLO);
    expect([...recvBuffer]).toEqual([0x90, 0x00]);
  });

  it('the protocol port hides hello replies from the Connection and passes the rest in order', async () => {
    const [a, b] = createPortPair();
    const seen: unknown[] = [];
    protocolPort(a).onMessage.addListener((m) => seen.push(m));
    b.postMessage({ v: 1, kind: 'hello', id: 1 });
    b.postMessage({ v: 1, kind: 'pong', id: 2, instance: 'x' });
    await flush();
    expect(seen).toEqual([{ v: 1, kind: 'pong', id: 2, instance: 'x' }]);
  });

  it('a chosen backend that is not available: no service, the state says so', async () => {
    const { native, link, services } = await setup();
    link.setBackend('system');
    link.setEnabled(true);
    await until(() => link.state.state === 'connected', 'connected');
    expect(link.state).toMatchObject({ backend: null, system: { available: false }, own: { available: true } });
    expect(services).toEqual([]);
    // No protocol call was sent: only the hello.
    expect(native.current!.received).toHaveLength(1);
  });

  it('a host that never answers hello is given up after the timeout and started again', async () => {
    const { native, link, timers } = await setup({ silent: true }, false);
    link.setEnabled(true);
    await flush();
    expect(link.state.state).toBe('starting');
    timers.advance(10_000);
    expect(link.state).toMatchObject({ state: 'crashed', retryInMs: 1000 });
    expect((link.state as { message: string }).message).toMatch(/did not answer within 10000 ms/);
    await flush();
    expect(native.current!.closedByConnector).toBe(true);
  });
});

describe('host link: not installed', () => {
  it('costs one failed connectNative and a calm line with the install command; no retry, no timer', async () => {
    const { native, link, timers, services, logs } = await setup();
    native.notInstalled = true;
    link.setEnabled(true);
    await until(() => link.state.state === 'not-installed', 'not installed');
    expect(link.state).toEqual({ state: 'not-installed', message: HOST_NOT_FOUND, command: HOST_INSTALL_COMMAND });
    expect(HOST_INSTALL_COMMAND).toBe('smart-card-host install');
    expect(timers.pending).toEqual([]);
    timers.advance(600_000);
    await flush();
    expect(native.connects).toBe(1);
    expect(services).toEqual([]);
    expect(logs.filter((l) => l.startsWith('error') || l.startsWith('warn'))).toEqual([]);
    // Installed meanwhile: "Try again" starts it.
    native.notInstalled = false;
    link.retry();
    await until(() => link.state.state === 'connected', 'connected after retry');
    expect(native.connects).toBe(2);
  });
});

describe('host link: version mismatch', () => {
  it('a newer host: the link closes before any call and says to update the connector', async () => {
    const { native, link, timers, services } = await setup({ protocol: 2, version: '3.0.0' });
    link.setEnabled(true);
    await until(() => link.state.state === 'mismatch', 'mismatch');
    const s = link.state as Extract<HostLinkState, { state: 'mismatch' }>;
    expect(s.hostProtocol).toBe(2);
    expect(s.message).toMatch(/smart-card-host 3\.0\.0 speaks protocol version 2, this connector version 1/);
    expect(s.message).toMatch(/update the connector/);
    await flush();
    expect(native.current!.received).toHaveLength(1); // the hello only: no call, no ping
    expect(native.current!.closedByConnector).toBe(true);
    expect(services).toEqual([]);
    expect(timers.pending).toEqual([]);
  });
});

describe('host link: a host of another protocol answering with an error', () => {
  it('its error instead of a hello reply: shown as a mismatch, the link closed, no retry', async () => {
    const timers = new ManualTimers();
    const [connector, host] = createPortPair();
    const received: unknown[] = [];
    host.onMessage.addListener((m) => {
      received.push(m);
      host.postMessage({ v: 2, kind: 'error', message: 'the connector speaks protocol v1, smart-card-host 9.0.0 v2' });
    });
    let closed = false;
    host.onDisconnect.addListener(() => (closed = true));
    const link = new HostLink({ connectNative: () => connector, timers, onService: () => undefined });
    cleanup.push(() => link.dispose());
    link.setEnabled(true);
    await until(() => link.state.state === 'mismatch', 'mismatch');
    expect((link.state as { message: string }).message).toMatch(
      /protocol version 2, this connector version 1: update the connector/,
    );
    await flush();
    expect(closed).toBe(true);
    expect(received).toHaveLength(1);
    expect(timers.pending).toEqual([]);
  });
});

describe('host link: the host dies', () => {
  async function combined(host: FakeHostOptions = {}) {
    const t = await setup(host);
    const pcsc = new CombinedDaemon(new FakeDaemon());
    // The service wiring as service.ts does it, serialised.
    let queue = Promise.resolve();
    const link = new HostLink({
      connectNative: t.native.connectNative,
      lastError: t.native.lastError,
      timers: t.timers,
      pingIntervalMs: 0,
      onService: (service) => {
        queue = queue.then(() => pcsc.setHost(service));
      },
    });
    cleanup.push(() => link.dispose());
    link.setBackend('own');
    const client = pcsc.connect({ name: 'app' });
    cleanup.push(() => client.close());
    const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    link.setEnabled(true);
    await until(() => pcsc.hasHost, 'host combined');
    await queue;
    return { ...t, link, pcsc, client, hContext };
  }

  it('mid-transmit: the call fails with the removal code, the host is started again after 1 s, readers come back', async () => {
    const { native, link, timers, client, hContext, pcsc } = await combined({ hold: ['SCardTransmit'] });
    const { readers } = await client.SCardListReaders(hContext, null);
    expect(readers).toEqual(['Fake Reader A 00 00', 'Fake Reader B 00 00', 'Gemalto PC Twin Reader 00 00']);
    const { hCard } = await client.SCardConnect(hContext, readers[2]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const transmit = client.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_HELLO);
    transmit.catch(() => undefined);
    await flush();
    native.current!.kill();
    const e = await transmit.then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(PcscError);
    expect([SCARD_E_NO_SERVICE, SCARD_E_READER_UNAVAILABLE]).toContain((e as PcscError).code);
    await until(() => link.state.state === 'crashed', 'crashed');
    expect(link.state).toMatchObject({ state: 'crashed', message: HOST_EXITED, retryInMs: 1000 });
    await until(() => !pcsc.hasHost, 'host removed');
    expect((await client.SCardListReaders(hContext, null)).readers).toEqual([
      'Fake Reader A 00 00',
      'Fake Reader B 00 00',
    ]);
    expect(timers.pending).toEqual([1000]);
    timers.advance(1000);
    expect(native.connects).toBe(2);
    await until(() => pcsc.hasHost && link.state.state === 'connected', 'back');
    await flush();
    expect((await client.SCardListReaders(hContext, null)).readers).toContain('Gemalto PC Twin Reader 00 00');
  });

  it('mid-wait: a GetStatusChange on the host reader ends with the reader unknown and unavailable', async () => {
    const { native, client, hContext } = await combined();
    const name = 'Gemalto PC Twin Reader 00 00';
    const now = await client.SCardGetStatusChange(hContext, 0, [{ szReader: name, dwCurrentState: 0 }]);
    const current = now.readerStates[0]!.dwEventState & ~SCARD_STATE_CHANGED;
    expect(current & SCARD_STATE_PRESENT).toBe(SCARD_STATE_PRESENT);
    const wait = client.SCardGetStatusChange(hContext, INFINITE, [{ szReader: name, dwCurrentState: current }]);
    await flush();
    native.current!.kill();
    const { readerStates } = await wait;
    const state = readerStates[0]!.dwEventState;
    expect(state & SCARD_STATE_CHANGED).toBe(SCARD_STATE_CHANGED);
    expect(state & SCARD_STATE_UNKNOWN).toBe(SCARD_STATE_UNKNOWN);
    expect(state & SCARD_STATE_UNAVAILABLE).toBe(SCARD_STATE_UNAVAILABLE);
  });
});

describe("host link: the host's service stops", () => {
  it('SCARD_E_NO_SERVICE from a live host: the link starts again and the new hello says what is there', async () => {
    const stack = await hostDaemon();
    cleanup.push(() => stack.close());
    let down = false;
    // The host's backend as a system pcscd that stops: every call then answers SCARD_E_NO_SERVICE.
    const daemon = {
      connect(info?: { name?: string }) {
        const client = stack.daemon.connect(info);
        return new Proxy(client, {
          get(target, prop) {
            const v: unknown = Reflect.get(target, prop, target);
            if (typeof v !== 'function') return v;
            return (...args: unknown[]) =>
              down && prop !== 'close'
                ? Promise.reject(new PcscError(SCARD_E_NO_SERVICE, 'pcscd is not running'))
                : (v as (...a: unknown[]) => unknown).apply(target, args);
          },
        });
      },
    };
    const timers = new ManualTimers();
    const native = new FakeNative({ daemon });
    const services: (PcscApi | null)[] = [];
    const link = new HostLink({
      connectNative: native.connectNative,
      lastError: native.lastError,
      timers,
      pingIntervalMs: 0,
      onService: (service) => services.push(service),
    });
    cleanup.push(() => link.dispose());
    link.setEnabled(true);
    await until(() => link.state.state === 'connected', 'connected');
    const pcsc = services[0]!;
    await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    down = true;
    native.options = { ...native.options, own: { available: false, detail: 'pcscd is not running' } };
    const e = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM).catch((x: unknown) => x);
    expect((e as PcscError).code).toBe(SCARD_E_NO_SERVICE);
    await until(() => link.state.state === 'crashed', 'restarting');
    expect((link.state as { message: string }).message).toMatch(/PC\/SC service stopped answering/);
    expect(services.at(-1)).toBeNull();
    timers.advance(1000);
    await until(() => link.state.state === 'connected', 'connected again');
    expect(link.state).toMatchObject({ own: { available: false, detail: 'pcscd is not running' } });
  });
});

describe('host link: back-off', () => {
  it('1 s, 2 s, 4 s … capped at 60 s while the host keeps dying; reset after a healthy period', async () => {
    const { native, link, timers } = await setup({}, false);
    const delays: number[] = [];
    link.setEnabled(true);
    for (let i = 0; i < 9; i++) {
      await until(() => native.current?.hellos.length === 1, `hello ${i}`);
      native.current!.kill();
      await until(() => link.state.state === 'crashed', `crash ${i}`);
      const s = link.state as Extract<HostLinkState, { state: 'crashed' }>;
      delays.push(s.retryInMs);
      expect(timers.pending).toEqual([s.retryInMs]);
      timers.advance(s.retryInMs);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect(native.connects).toBe(10);
    // Each dead process was let go: its port closed by the host, none left open by the connector.
    expect(native.processes.slice(0, -1).every((p) => p.exited)).toBe(true);
  });

  it('a link that stayed up for a minute starts again after 1 s', async () => {
    const { native, link, timers } = await setup();
    link.setEnabled(true);
    await until(() => link.state.state === 'connected', 'connected');
    native.current!.kill();
    await until(() => link.state.state === 'crashed', 'crash 1');
    timers.advance(1000);
    await until(() => link.state.state === 'connected', 'connected 2');
    native.current!.kill();
    await until(() => link.state.state === 'crashed', 'crash 2');
    expect(link.state).toMatchObject({ retryInMs: 2000 });
    timers.advance(2000);
    await until(() => link.state.state === 'connected', 'connected 3');
    timers.advance(60_000);
    native.current!.kill();
    await until(() => link.state.state === 'crashed', 'crash 3');
    expect(link.state).toMatchObject({ retryInMs: 1000 });
  });
});

describe('host link: switching', () => {
  it('off closes the host and cancels the retry; a backend change starts a new host with a new hello', async () => {
    const { native, link, timers, services } = await setup();
    link.setEnabled(true);
    await until(() => link.state.state === 'connected', 'connected');
    link.setBackend('system');
    expect(services.at(-1)).toEqual({ service: null, backend: null });
    await until(() => native.connects === 2 && link.state.state === 'connected', 'second host');
    await flush();
    expect(native.processes[0]!.closedByConnector).toBe(true);
    expect(native.current!.hellos[0]!.backend).toBe('system');
    native.current!.kill();
    await until(() => link.state.state === 'crashed', 'crashed');
    expect(timers.pending).toHaveLength(1);
    link.setEnabled(false);
    expect(link.state).toEqual({ state: 'off' });
    expect(timers.pending).toEqual([]);
    timers.advance(120_000);
    expect(native.connects).toBe(2);
  });

  it('connectNative missing or throwing: "unavailable", nothing retried', async () => {
    const timers = new ManualTimers();
    const link = new HostLink({
      connectNative: () => {
        throw new Error('chrome.runtime.connectNative is not a function');
      },
      timers,
      onService: () => undefined,
    });
    link.setEnabled(true);
    expect(link.state).toMatchObject({ state: 'unavailable' });
    expect(timers.pending).toEqual([]);
  });
});

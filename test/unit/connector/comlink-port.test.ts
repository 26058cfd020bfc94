/**
 * comlink over a chrome.runtime-like port (createPortPair: JSON-serialised, asynchronous, disconnect seen by the other
 * end only): typed calls and thrown errors cross, calls pending when the port drops reject instead of hanging, the
 * exposed side serves the object's own methods only, and pushes travel beside the calls without disturbing them.
 */
import { describe, expect, it } from 'vitest';
import {
  exposeOnPort,
  onPush,
  portEndpoint,
  pushOnPort,
  thrownAnswer,
  wrapPort,
} from '../../../src/connector/comlink-port.js';
import { createPortPair, type PortLike } from '../../../src/protocol/port.js';
import { flush } from './fake-daemon.js';

interface Api {
  add(a: number, b: number): Promise<number>;
  echo(value: unknown): Promise<unknown>;
  fail(message: string): Promise<void>;
  wait(): Promise<string>;
  nothing(): Promise<void>;
}

function serve() {
  const waiting: ((v: string) => void)[] = [];
  const api = {
    add: (a: number, b: number) => Promise.resolve(a + b),
    echo: (value: unknown) => Promise.resolve(value),
    fail: (message: string) => Promise.reject(new RangeError(message)),
    wait: () => new Promise<string>((r) => waiting.push(r)),
    nothing: () => Promise.resolve(),
    secret: 'not for callers',
  };
  const [pagePort, workerPort] = createPortPair('page');
  exposeOnPort(api, workerPort);
  const { remote, endpoint } = wrapPort<Api>(pagePort, 'the service went away');
  return { api, remote, endpoint, pagePort, workerPort, waiting };
}

/** Posts a raw comlink message in the link envelope and collects what comes back for its id. */
function raw(pagePort: PortLike, message: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    pagePort.onMessage.addListener((m) => {
      const link = (m as { link?: Record<string, unknown> }).link;
      if (link && link['id'] === message['id']) resolve(link);
    });
    pagePort.postMessage({ link: message });
  });
}

describe('portEndpoint / wrapPort / exposeOnPort', () => {
  it('calls a method across the JSON port and returns its value', async () => {
    const { remote } = serve();
    await expect(remote.add(2, 40)).resolves.toBe(42);
    await expect(remote.echo({ a: [1, 'x', null], b: true })).resolves.toEqual({ a: [1, 'x', null], b: true });
    await expect(remote.nothing()).resolves.toBeUndefined();
  });

  it('values cross as JSON: a Uint8Array arrives as an object (bytes must be encoded by the service)', async () => {
    const { remote } = serve();
    await expect(remote.echo(Uint8Array.of(1, 2))).resolves.toEqual({ 0: 1, 1: 2 });
  });

  it('a thrown error arrives as an Error with its message and name', async () => {
    const { remote } = serve();
    const e = await remote.fail('no such reader').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toBe('no such reader');
    expect((e as Error).name).toBe('RangeError');
  });

  it('calls pending when the serving end disconnects reject with the given reason; later calls too', async () => {
    const { remote, endpoint, workerPort } = serve();
    const pending = remote.wait();
    await flush();
    expect(endpoint.pending).toBe(1);
    workerPort.disconnect();
    await expect(pending).rejects.toThrow('the service went away');
    expect(endpoint.pending).toBe(0);
    await expect(remote.add(1, 1)).rejects.toThrow('the service went away');
  });

  it('a post that throws (a port Chrome already closed) fails the call instead of throwing or hanging', async () => {
    const [pagePort] = createPortPair('page');
    const throwing: PortLike = {
      ...pagePort,
      postMessage: () => {
        throw new Error('Attempting to use a disconnected port object');
      },
      onMessage: pagePort.onMessage,
      onDisconnect: pagePort.onDisconnect,
    };
    const { remote } = wrapPort<Api>(throwing);
    await expect(remote.add(1, 2)).rejects.toThrow(
      'could not reach the connector service (Attempting to use a disconnected port object)',
    );
  });

  it('close() fails what is pending here (a page disconnecting its own port: Chrome does not tell it)', async () => {
    const { remote, endpoint, pagePort } = serve();
    const pending = remote.wait();
    await flush();
    endpoint.close('closed by the page');
    pagePort.disconnect();
    await expect(pending).rejects.toThrow('closed by the page');
  });

  it("serves only the object's own methods: property reads, writes, paths and constructors are refused", async () => {
    const { api, remote, pagePort } = serve();
    // Through comlink's proxy: reading a property, walking up from a method.
    const read = (async () => await (remote as unknown as { secret: Promise<string> }).secret)();
    const refused = 'the connector service only answers calls of its methods';
    await expect(read).rejects.toThrow(`${refused} (got GET of a path of 1 name(s))`);
    const asMethod = (remote as unknown as { secret: () => Promise<string> }).secret();
    await expect(asMethod).rejects.toThrow('got APPLY of a path of 1 name(s)');
    const walk = (remote.add as unknown as { call(t: unknown, ...a: number[]): Promise<number> }).call(null, 1, 2);
    await expect(walk).rejects.toThrow('got APPLY of a path of 2 name(s)');
    // Raw messages: a write, a constructor, a path to the prototype, a method that is not its own.
    const set = await raw(pagePort, { id: 's', type: 'SET', path: ['add'], value: { type: 'RAW', value: 1 } });
    expect(set).toEqual(thrownAnswer('s', `${refused} (got SET of a path of 1 name(s))`));
    expect(typeof api.add).toBe('function');
    const ctor = await raw(pagePort, { id: 'c', type: 'CONSTRUCT', path: ['add'], argumentList: [] });
    expect(ctor['name']).toBe('throw');
    const proto = await raw(pagePort, { id: 'p', type: 'APPLY', path: ['toString'], argumentList: [] });
    expect(proto['name']).toBe('throw');
    const unknownType = await raw(pagePort, { id: 'u', type: 'ENDPOINT' });
    expect(unknownType['name']).toBe('throw');
    // The refusal does not echo what was sent.
    const named = await raw(pagePort, { id: 'n', type: 'GET', path: ['<script>'] });
    expect(JSON.stringify(named)).not.toContain('<script>');
  });

  it('refuses arguments that are not plain values (a comlink proxy would need a MessagePort)', async () => {
    const { pagePort } = serve();
    const proxyArg = await raw(pagePort, {
      id: 'x',
      type: 'APPLY',
      path: ['echo'],
      argumentList: [{ type: 'HANDLER', name: 'proxy', value: {} }],
    });
    expect(proxyArg['name']).toBe('throw');
    const missing = await raw(pagePort, { id: 'y', type: 'APPLY', path: ['echo'] });
    expect(missing['name']).toBe('throw');
    const hi = [{ type: 'RAW', value: 'hi' }];
    const plain = await raw(pagePort, { id: 'z', type: 'APPLY', path: ['echo'], argumentList: hi });
    expect(plain).toEqual({ id: 'z', type: 'RAW', value: 'hi' });
  });

  it('ignores messages outside the link envelope and malformed ones without answering or throwing', async () => {
    const { remote, pagePort, workerPort } = serve();
    const seen: unknown[] = [];
    pagePort.onMessage.addListener((m) => seen.push(m));
    const junk = [null, 42, 'text', { link: null }, { link: 'x' }, { link: { type: 'APPLY' } }, { other: 1 }];
    for (const m of junk) pagePort.postMessage(m);
    await flush();
    expect(seen).toEqual([]);
    await expect(remote.add(1, 2)).resolves.toBe(3);
    expect(workerPort).toBeDefined();
  });

  it('pushes travel beside the calls, in order, and only push listeners see them', async () => {
    const { remote, pagePort, workerPort } = serve();
    const pushes: unknown[] = [];
    onPush(pagePort, (e) => pushes.push(e));
    pushOnPort(workerPort, { type: 'status', n: 1 });
    const sum = remote.add(3, 4);
    pushOnPort(workerPort, { type: 'status', n: 2 });
    await expect(sum).resolves.toBe(7);
    await flush();
    expect(pushes).toEqual([
      { type: 'status', n: 1 },
      { type: 'status', n: 2 },
    ]);
  });

  it('removeEventListener stops delivery to that listener', async () => {
    const [a, b] = createPortPair();
    const ep = portEndpoint(a);
    const got: unknown[] = [];
    const listener = (ev: { data: unknown }) => got.push(ev.data);
    ep.addEventListener('message', listener);
    b.postMessage({ link: { id: '1', type: 'RAW', value: 1 } });
    await flush();
    ep.removeEventListener('message', listener);
    b.postMessage({ link: { id: '2', type: 'RAW', value: 2 } });
    await flush();
    expect(got).toEqual([{ id: '1', type: 'RAW', value: 1 }]);
  });
});

/**
 * NativeHostServer with stand-in backends: an answer beyond Chrome's 1 MiB limit is never sent (an error result naming
 * the limit goes instead), the hello's choices (auto resolved by the host's --backend, an unavailable backend leaving
 * none), calls before hello, a second hello releasing the first backend, close() releasing everything.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, BackendClient, BackendProvider } from '../../../../src/host/native/backends.js';
import { NativeHostServer } from '../../../../src/host/native/server.js';
import { SCARD_E_NO_SERVICE, SCARD_F_INTERNAL_ERROR } from '../../../../src/pcsc/constants.js';
import { PcscError } from '../../../../src/pcsc/errors.js';
import { MAX_NATIVE_MESSAGE_TO_BROWSER, decodeHelloReply, type HostBackend } from '../../../../src/protocol/native.js';

interface Fake {
  provider: BackendProvider;
  events: string[];
  readers: string[];
}

function fake(systemUp: boolean, ownFails?: string): Fake {
  const events: string[] = [];
  const f: Fake = { provider: undefined as unknown as BackendProvider, events, readers: ['Reader 00 00'] };
  const backend = (kind: HostBackend): Backend => ({
    kind,
    detail: () => `${kind} detail`,
    connect(name) {
      events.push(`${kind}: connect ${name}`);
      const client = {
        async SCardEstablishContext() {
          return { hContext: 1 };
        },
        async SCardListReaders() {
          return { readers: f.readers };
        },
        async SCardGetStatusChange() {
          return new Promise<never>(() => {});
        },
        async close() {
          events.push(`${kind}: close ${name}`);
        },
      };
      return client as unknown as BackendClient;
    },
    async close() {
      events.push(`${kind}: backend closed`);
    },
  });
  f.provider = {
    async probeSystem() {
      return systemUp
        ? { available: true, detail: 'system detail' }
        : { available: false, detail: 'pcscd is not running; or choose the own stack' };
    },
    async openSystem() {
      if (!systemUp) throw new PcscError(SCARD_E_NO_SERVICE, 'pcscd is not running; or choose the own stack');
      return backend('system');
    },
    ownState: () => ({ available: true, detail: 'own state' }),
    async openOwn() {
      if (ownFails !== undefined) throw new Error(ownFails);
      return backend('own');
    },
  };
  return f;
}

function serve(f: Fake, options: Partial<ConstructorParameters<typeof NativeHostServer>[0]> = {}) {
  const sent: Record<string, unknown>[] = [];
  const server = new NativeHostServer({
    provider: f.provider,
    send: (json) => {
      // What the server hands to the framing must always fit.
      expect(Buffer.byteLength(json)).toBeLessThanOrEqual(options.maxMessageBytes ?? MAX_NATIVE_MESSAGE_TO_BROWSER);
      sent.push(JSON.parse(json) as Record<string, unknown>);
    },
    log: () => {},
    version: '9.8.7',
    instance: 'abc',
    ...options,
  });
  const answer = async (id: number) => {
    for (let i = 0; i < 100; i++) {
      const m = sent.find((s) => s.id === id);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 1));
    }
    throw new Error(`no answer to ${id}`);
  };
  return { server, sent, answer };
}

describe('NativeHostServer', () => {
  it('refuses an answer beyond 1 MiB of JSON with an error result naming the limit, and goes on', async () => {
    const f = fake(true);
    // 256 reader names of 1024 control characters: each one 6 bytes of JSON (\u0001), 1.5 MiB in all, within the
    // protocol's own limits (MAX_WIRE_READERS, MAX_WIRE_STRING).
    f.readers = Array.from({ length: 256 }, () => '\u0001'.repeat(1024));
    const { server, answer } = serve(f);
    server.handle({ v: 1, kind: 'hello', id: 1, backend: 'own' });
    server.handle({ v: 1, kind: 'call', id: 2, fn: 'SCardListReaders', args: [1, null, null] });
    const r = await answer(2);
    expect(r).toMatchObject({
      kind: 'result',
      ok: false,
      code: SCARD_F_INTERNAL_ERROR,
      name: 'SCARD_F_INTERNAL_ERROR',
    });
    expect(String(r.message)).toMatch(
      /the answer is 15\d{5} bytes of JSON, beyond Chrome's native messaging limit of 1048576 bytes/,
    );
    f.readers = ['Reader 00 00'];
    server.handle({ v: 1, kind: 'call', id: 3, fn: 'SCardListReaders', args: [1, null, null] });
    expect(await answer(3)).toMatchObject({ ok: true, value: { readers: ['Reader 00 00'] } });
  });

  it('sends an answer of exactly the limit', async () => {
    const f = fake(true);
    const envelope = JSON.stringify({ v: 1, kind: 'result', id: 2, ok: true, value: { readers: [''] } }).length;
    f.readers = ['x'.repeat(200 - envelope)];
    const { server, answer } = serve(f, { maxMessageBytes: 200 });
    server.handle({ v: 1, kind: 'hello', id: 1, backend: 'own' });
    server.handle({ v: 1, kind: 'call', id: 2, fn: 'SCardListReaders', args: [1, null, null] });
    expect(await answer(2)).toMatchObject({ ok: true });
  });

  it('writes the per-call debug line at --log-level debug (the default) and builds none above it', async () => {
    const lines = async (logLevel?: 'debug' | 'info') => {
      const logged: string[] = [];
      const { server, answer } = serve(fake(true), {
        log: (level, message) => logged.push(`${level} ${message}`),
        ...(logLevel !== undefined ? { logLevel } : {}),
      });
      server.handle({ v: 1, kind: 'hello', id: 1, backend: 'own' });
      server.handle({ v: 1, kind: 'call', id: 2, fn: 'SCardListReaders', args: [1, null, null] });
      await answer(2);
      return logged.filter((l) => l.startsWith('debug connector:'));
    };
    expect(await lines()).toEqual(['debug connector: SCardListReaders → SCARD_S_SUCCESS']);
    expect(await lines('debug')).toEqual(['debug connector: SCardListReaders → SCARD_S_SUCCESS']);
    expect(await lines('info')).toEqual([]);
  });

  it('fails calls before hello with SCARD_E_NO_SERVICE', async () => {
    const { server, answer } = serve(fake(true));
    server.handle({ v: 1, kind: 'call', id: 5, fn: 'SCardEstablishContext', args: [2] });
    expect(await answer(5)).toMatchObject({ ok: false, code: SCARD_E_NO_SERVICE });
  });

  it("resolves auto by the host's --backend, else to the system service when it runs", async () => {
    const a = serve(fake(true));
    a.server.handle({ v: 1, kind: 'hello', id: 1, backend: 'auto' });
    expect(await a.answer(1)).toMatchObject({ backend: 'system', version: '9.8.7', protocol: 1 });
    const b = serve(fake(true), { defaultBackend: 'own' });
    b.server.handle({ v: 1, kind: 'hello', id: 1, backend: 'auto' });
    expect(await b.answer(1)).toMatchObject({ backend: 'own' });
    const c = serve(fake(false));
    c.server.handle({ v: 1, kind: 'hello', id: 1, backend: 'auto' });
    expect(await c.answer(1)).toMatchObject({ backend: 'own', system: { available: false } });
  });

  it('leaves no backend when the chosen one is unavailable, and says why in calls', async () => {
    const { server, answer } = serve(fake(false));
    server.handle({ v: 1, kind: 'hello', id: 1, backend: 'system' });
    expect(await answer(1)).toMatchObject({ backend: null, system: { available: false }, own: { available: true } });
    server.handle({ v: 1, kind: 'call', id: 2, fn: 'SCardEstablishContext', args: [2] });
    const r = await answer(2);
    expect(r).toMatchObject({ ok: false, code: SCARD_E_NO_SERVICE });
    expect(String(r.message)).toMatch(/the chosen backend \(system\) is not available: pcscd is not running/);
  });

  it('says why the own stack could not start, and points at the system service', async () => {
    const { server, answer } = serve(fake(true, 'vpcd: 127.0.0.1:35963 is in use by another program'));
    server.handle({ v: 1, kind: 'hello', id: 1, backend: 'own' });
    expect(await answer(1)).toMatchObject({
      backend: null,
      own: {
        available: false,
        detail: "the host's own stack could not start: vpcd: 127.0.0.1:35963 is in use by another program",
      },
      system: { available: true },
    });
    server.handle({ v: 1, kind: 'call', id: 2, fn: 'SCardEstablishContext', args: [2] });
    expect(await answer(2)).toMatchObject({
      ok: false,
      code: SCARD_E_NO_SERVICE,
      message: expect.stringMatching(/35963 is in use.*choose the system PC\/SC service/),
    });
  });

  it('keeps the hello reply within what the connector decodes', async () => {
    const { server, answer } = serve(fake(true, 'x'.repeat(5000)), { version: 'v'.repeat(100) });
    server.handle({ v: 1, kind: 'hello', id: 1, backend: 'own' });
    const reply = await answer(1);
    expect(() => decodeHelloReply(reply)).not.toThrow();
    expect(String((reply.own as { detail: string }).detail).length).toBeLessThanOrEqual(1024);
  });

  it('a second hello closes the first backend (client first) before opening the next; close() releases all', async () => {
    const f = fake(true);
    const { server, answer } = serve(f);
    server.handle({ v: 1, kind: 'hello', id: 1, backend: 'own' });
    server.handle({ v: 1, kind: 'hello', id: 2, backend: 'own' });
    server.handle({ v: 1, kind: 'hello', id: 3, backend: 'system' });
    expect(await answer(3)).toMatchObject({ backend: 'system' });
    // The same backend again keeps it (and what the connector holds on it).
    expect(f.events).toEqual([
      'own: connect connector',
      'own: close connector',
      'own: backend closed',
      'system: connect connector',
    ]);
    await server.close();
    expect(f.events.slice(4)).toEqual(['system: close connector', 'system: backend closed']);
  });

  it('answers malformed messages and hellos with error messages', async () => {
    const { server, sent } = serve(fake(true));
    server.handle({ v: 1, kind: 'hello', id: 4, backend: 'usb' });
    server.handle({ v: 1, kind: 'nope', id: 5 });
    server.handle({ kind: 'hello', id: 6, backend: 'own' });
    server.handle('text');
    await new Promise((r) => setTimeout(r, 5));
    expect(sent).toEqual([
      { v: 1, kind: 'error', id: 4, message: expect.stringContaining('message.backend') },
      { v: 1, kind: 'error', id: 5, message: expect.stringContaining('unknown kind') },
      { v: 1, kind: 'error', id: 6, message: expect.stringMatching(/no version.*update the connector/) },
      { v: 1, kind: 'error', message: expect.stringContaining('expected an object') },
    ]);
  });
});

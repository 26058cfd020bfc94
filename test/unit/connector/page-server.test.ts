/**
 * The page server with a recording backend, a page connected over a JSON port pair and calling through comlink as
 * the real pages do (pages/link.ts): the answers a page shows, arguments checked, the status pushed on connecting and
 * after changes, the log pushed whole then in batches, and the sender check that keeps the link to our own pages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isConnectorPage, PageServer, type PageBackend } from '../../../src/connector/page-server.js';
import { onPush, wrapPort } from '../../../src/connector/comlink-port.js';
import { LogBuffer } from '../../../src/connector/log.js';
import { createPortPair } from '../../../src/protocol/port.js';
import type { ConnectorStatus, PagePush, PageService } from '../../../src/connector/pages/messages.js';
import { flush } from './fake-daemon.js';
import { hostView } from '../../../src/connector/status-view.js';

const ID = 'abcdefghijklmnopabcdefghijklmnop';

function status(n: number): ConnectorStatus {
  return {
    version: '1.2.3',
    instance: `i${n}`,
    usb: false,
    demoReader: false,
    readers: [],
    apps: [],
    connectedApps: n,
    permissions: [],
    prompts: [],
    logApdus: false,
    host: hostView({ state: 'off' }, false, 'auto', 0),
  };
}

function backend(options: { permissions?: boolean } = {}) {
  const calls: string[] = [];
  let current = status(0);
  const logs = new LogBuffer();
  const b: PageBackend & { calls: string[]; logs: LogBuffer; setStatus(s: ConnectorStatus): void } = {
    calls,
    setStatus: (s) => (current = s),
    status: () => current,
    setDemoReader: (on) => Promise.resolve(void calls.push(`demo ${on}`)),
    pickUpDevices: () => Promise.resolve([{}, {}]),
    retryReader: (id) =>
      id === 'missing'
        ? Promise.reject(new Error('no reader "missing" is listed'))
        : Promise.resolve(void calls.push(`retry ${id}`)),
    setLogApdus: (on) => Promise.resolve(void calls.push(`apdus ${on}`)),
    setHostEnabled: (on) => Promise.resolve(void calls.push(`host ${on}`)),
    setHostBackend: (choice) => Promise.resolve(void calls.push(`backend ${choice}`)),
    retryHost: () => void calls.push('retry host'),
    endHold: (id) => Promise.resolve(`ended ${calls.push(`end ${id}`) && id}`),
    permissions:
      options.permissions === false
        ? null
        : {
            answer: (id, d) => Promise.resolve(void calls.push(`answer ${id} ${d}`)),
            revoke: (id) => Promise.resolve(void calls.push(`revoke ${id}`)),
          },
    logs,
  };
  return b;
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function page(server: PageServer) {
  const [pagePort, workerPort] = createPortPair('connector-page');
  const pushes: PagePush[] = [];
  onPush<PagePush>(pagePort, (e) => pushes.push(e));
  server.attach(workerPort);
  const { remote } = wrapPort<PageService>(pagePort);
  cleanup.push(() => pagePort.disconnect());
  return { remote, pushes, pagePort, workerPort };
}

describe('PageServer', () => {
  it('pushes the status on connecting and after each change, to every page', async () => {
    const b = backend();
    const server = new PageServer(b);
    const one = page(server);
    const two = page(server);
    await flush();
    expect(one.pushes).toEqual([{ type: 'status', status: status(0) }]);
    server.publish(status(5));
    await flush();
    expect(one.pushes.at(-1)).toEqual({ type: 'status', status: status(5) });
    expect(two.pushes.at(-1)).toEqual({ type: 'status', status: status(5) });
    expect(server.pages).toBe(2);
    one.pagePort.disconnect();
    await flush();
    expect(server.pages).toBe(1);
  });

  it('answers each request with the text the page shows, having done it', async () => {
    const b = backend();
    const { remote } = page(new PageServer(b));
    await expect(remote.setDemoReader(true)).resolves.toBe('Demo reader plugged in.');
    await expect(remote.setDemoReader(false)).resolves.toBe('Demo reader unplugged.');
    await expect(remote.pickUpDevices()).resolves.toBe('2 reader(s) listed.');
    await expect(remote.retry('r1')).resolves.toBe('Tried again.');
    await expect(remote.answerPrompt(ID, 'allow')).resolves.toBe('Allowed.');
    await expect(remote.answerPrompt(ID, 'block')).resolves.toBe('Blocked.');
    await expect(remote.revoke(ID)).resolves.toBe('Done: the app will be asked again on its next call.');
    await expect(remote.endHold(ID)).resolves.toBe(`ended ${ID}`);
    await expect(remote.setLogApdus(true)).resolves.toBe('APDU logging is on.');
    expect(b.calls).toEqual([
      'demo true',
      'demo false',
      'retry r1',
      `answer ${ID} allow`,
      `answer ${ID} block`,
      `revoke ${ID}`,
      `end ${ID}`,
      'apdus true',
    ]);
  });

  it('checks arguments (named, never echoed) and passes failures on as errors, logged', async () => {
    const b = backend();
    const logs: string[] = [];
    const { remote } = page(new PageServer(b, { log: (l, m) => logs.push(`${l}: ${m}`) }));
    const call = remote as unknown as Record<string, (...a: unknown[]) => Promise<string>>;
    await expect(call['setDemoReader']!('yes')).rejects.toThrow('setDemoReader needs on: a boolean (got string)');
    await expect(call['retry']!(7)).rejects.toThrow('retry needs readerId: a string (got number)');
    await expect(call['answerPrompt']!(ID, 'maybe')).rejects.toThrow('answerPrompt needs decision: "allow" or "block"');
    await expect(call['revoke']!({ evil: '<b>' })).rejects.toThrow('revoke needs clientId: a string (got object)');
    await expect(call['endHold']!(['x'])).rejects.toThrow('endHold needs clientId: a string (got object)');
    await expect(call['setLogApdus']!()).rejects.toThrow('setLogApdus needs on: a boolean (got undefined)');
    await expect(remote.retry('missing')).rejects.toThrow('no reader "missing" is listed');
    expect(b.calls).toEqual([]);
    expect(logs).toContain('error: connector page request retry: Error: no reader "missing" is listed');
    expect(logs.join('\n')).not.toContain('<b>');
  });

  it('without permissions, prompt answers and revokes fail with a reason', async () => {
    const { remote } = page(new PageServer(backend({ permissions: false })));
    await expect(remote.answerPrompt(ID, 'allow')).rejects.toThrow('this connector has no permissions');
    await expect(remote.revoke(ID)).rejects.toThrow('this connector has no permissions');
  });

  it('watchLog pushes the whole log, then new entries in batches; pages not watching get none', async () => {
    const b = backend();
    b.logs.add('info', 'test', 'before');
    const server = new PageServer(b, { logBatchMs: 5 });
    const watching = page(server);
    const other = page(server);
    await watching.remote.watchLog();
    await flush();
    const reset = watching.pushes.find((p) => p.type === 'log');
    expect(reset).toMatchObject({ type: 'log', reset: true, dropped: 0 });
    expect(reset?.type === 'log' && reset.entries.map((e) => e.message)).toEqual(['before']);
    b.logs.add('info', 'test', 'one');
    b.logs.add('warn', 'test', 'two');
    await new Promise((r) => setTimeout(r, 20));
    await flush();
    const batches = watching.pushes.filter((p) => p.type === 'log' && !p.reset);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.type === 'log' && batches[0].entries.map((e) => e.message)).toEqual(['one', 'two']);
    expect(other.pushes.some((p) => p.type === 'log')).toBe(false);
  });

  it('a page whose port is gone is forgotten when a push fails', async () => {
    const b = backend();
    const server = new PageServer(b);
    const { workerPort } = page(server);
    await flush();
    workerPort.disconnect();
    expect(() => server.publish(status(1))).not.toThrow();
    expect(server.pages).toBe(0);
  });
});

describe('isConnectorPage', () => {
  it('accepts our own pages only: same id and a URL in our extension origin', () => {
    expect(isConnectorPage({ id: ID, url: `chrome-extension://${ID}/pages/index.html` }, ID)).toBe(true);
    expect(isConnectorPage({ id: ID, url: `chrome-extension://${ID}/pages/prompt.html?id=x` }, ID)).toBe(true);
    // A content script of ours runs in a web page: our id, the page's URL.
    expect(isConnectorPage({ id: ID, url: 'https://example.com/' }, ID)).toBe(false);
    // Another extension (onConnect never sees one, but the check does not rely on that).
    const other = 'ponmlkjihgfedcbaponmlkjihgfedcba';
    expect(isConnectorPage({ id: other, url: `chrome-extension://${other}/x.html` }, ID)).toBe(false);
    expect(isConnectorPage({ id: other, url: `chrome-extension://${ID}/x.html` }, ID)).toBe(false);
    expect(isConnectorPage({ id: ID, url: `chrome-extension://${ID}.evil.example/` }, ID)).toBe(false);
    expect(isConnectorPage({ id: ID, url: `chrome-extension://user@${ID}/` }, ID)).toBe(false);
    expect(isConnectorPage({ id: ID, url: `https://${ID}/` }, ID)).toBe(false);
    expect(isConnectorPage({ id: ID }, ID)).toBe(false);
    expect(isConnectorPage({ id: ID, url: 'not a url' }, ID)).toBe(false);
    expect(isConnectorPage(undefined, ID)).toBe(false);
    expect(isConnectorPage({ id: '', url: 'chrome-extension:///' }, '')).toBe(false);
  });
});

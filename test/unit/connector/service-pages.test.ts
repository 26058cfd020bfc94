/**
 * The connector service and its pages, in Node: a page attached over a JSON port pair calls the service through
 * comlink as the window does, and sees the status pushed; the connected apps it shows are the router's own sessions
 * (clients that leave, are turned away or are dropped by the router are not counted).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectorService, type PagePush, type PageService } from '../../../src/connector/service.js';
import { onPush, wrapPort } from '../../../src/connector/comlink-port.js';
import { createPortPair, type PortLike } from '../../../src/protocol/port.js';
import { flush } from './fake-daemon.js';

const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
});

function make() {
  const service = new ConnectorService({ usb: null, version: '9.9.9' });
  cleanup.push(() => service.shutdown());
  const client = (id: string, name: string): PortLike => {
    const [mine, theirs] = createPortPair(name);
    service.attachClient(theirs, { id });
    return mine;
  };
  const page = () => {
    const [pagePort, workerPort] = createPortPair('connector-page');
    const pushes: PagePush[] = [];
    onPush<PagePush>(pagePort, (e) => pushes.push(e));
    service.attachPage(workerPort);
    const { remote } = wrapPort<PageService>(pagePort);
    const last = () => [...pushes].reverse().find((p) => p.type === 'status');
    return { remote, pushes, last: () => (last() as Extract<PagePush, { type: 'status' }>).status };
  };
  return { service, client, page };
}

async function until(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!f()) throw new Error(`never: ${what}`);
}

describe('ConnectorService and its pages', () => {
  it("lists connected apps from the router's sessions, live on the page", async () => {
    const { service, client, page } = make();
    await service.start();
    const p = page();
    await flush();
    expect(p.last().connectedApps).toBe(0);
    const a1 = client(A, 'App A');
    client(A, 'App A');
    client(B, 'App B');
    await flush();
    expect(p.last().connectedApps).toBe(3);
    expect(p.last().apps).toEqual([
      { id: A, name: 'App A', connections: 2 },
      { id: B, name: 'App B', connections: 1 },
    ]);
    a1.disconnect();
    await flush();
    expect(service.status().apps).toEqual([
      { id: A, name: 'App A', connections: 1 },
      { id: B, name: 'App B', connections: 1 },
    ]);
    expect(p.last().connectedApps).toBe(2);
  });

  it('a client the router drops (malformed messages) or turns away (too many ports) is not counted', async () => {
    const { service, client } = make();
    await service.start();
    const hostile = client(A, 'Hostile');
    await flush();
    expect(service.status().connectedApps).toBe(1);
    for (let i = 0; i < 10; i++) hostile.postMessage({ v: 1, kind: 'nonsense' });
    await flush(20);
    expect(service.router.stats.ports).toBe(0);
    expect(service.status().connectedApps).toBe(0);
    // The router's limit per extension (64 ports): the 65th is refused and never shows.
    for (let i = 0; i < 65; i++) client(B, 'Many tabs');
    await flush();
    expect(service.status().apps).toEqual([{ id: B, name: 'Many tabs', connections: 64 }]);
  });

  it('the page switches the demo reader through the service and sees it ready, its card present', async () => {
    const { service, page } = make();
    await service.start();
    const p = page();
    await expect(p.remote.setDemoReader(true)).resolves.toBe('Demo reader plugged in.');
    expect(service.demoReaderOn).toBe(true);
    const ready = () => p.last().readers.some((r) => r.state === 'ready' && r.cards.includes(true));
    await until(ready, 'the demo reader ready with its card');
    const reader = p.last().readers[0]!;
    expect(reader.simulated).toBe(true);
    expect(reader.slots[0]?.atr).toMatch(/^3B /);
    await expect(p.remote.setDemoReader(false)).resolves.toBe('Demo reader unplugged.');
    await until(() => p.last().readers.length === 0 && !p.last().demoReader, 'the demo reader gone');
  });

  it("a client extension sending the page link's messages gets a protocol error, not the page service", async () => {
    const { service, client } = make();
    await service.start();
    const c = client(A, 'connector-page');
    const answers: unknown[] = [];
    c.onMessage.addListener((m) => answers.push(m));
    const argumentList = [{ type: 'RAW', value: true }];
    c.postMessage({ link: { id: '1', type: 'APPLY', path: ['setDemoReader'], argumentList } });
    await flush(20);
    expect(service.demoReaderOn).toBe(false);
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatchObject({ v: 1, kind: 'error' });
  });

  it('the page turns APDU logging on and watches the log', async () => {
    const { service, page } = make();
    await service.start();
    const p = page();
    await p.remote.watchLog();
    await expect(p.remote.setLogApdus(true)).resolves.toBe('APDU logging is on.');
    expect(service.redaction).toEqual({ apdus: true });
    await until(
      () => p.pushes.some((e) => e.type === 'log' && e.entries.some((x) => x.message.startsWith('APDU logging on'))),
      'the log entry pushed',
    );
    expect(p.last().logApdus).toBe(true);
  });
});

/**
 * The connector service's start-up (issue 14, the worker's cold start): a woken worker's first call may arrive before
 * start() has read its settings and grants. It is answered as soon as the grants are known (one storage read, shared
 * by start() and the call's authorization), consent still decides it, and a reader list asked once start() is done
 * holds the readers the start brought back (pcscd answers once its initial reader scan is done).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectorService, MemorySettings, type SettingsStore } from '../../../src/connector/service.js';
import { Permissions, type PromptRequest, type StoredGrants } from '../../../src/connector/permissions.js';
import { openClient } from './open-client.js';
import { SCARD_SCOPE_SYSTEM, type Connection } from '../../../client-lib/src/index.js';
import { PcscError } from '../../../src/pcsc/errors.js';
import { SCARD_W_SECURITY_VIOLATION } from '../../../src/pcsc/constants.js';
import { flush } from './fake-daemon.js';

const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
});

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A settings store whose reads all wait for `release()` (chrome.storage answering late). */
function slowSettings(values: Record<string, unknown> = {}) {
  const gate = deferred<void>();
  const inner = new MemorySettings();
  for (const [k, v] of Object.entries(values)) void inner.set(k, v);
  const store: SettingsStore = {
    get: async (key) => {
      await gate.promise;
      return inner.get(key);
    },
    set: (key, value) => inner.set(key, value),
  };
  return { store, release: () => gate.resolve() };
}

function make(settings: SettingsStore) {
  const grants = deferred<StoredGrants>();
  let loads = 0;
  const prompts: PromptRequest[] = [];
  const permissions = new Permissions({
    store: {
      load: () => {
        loads++;
        return grants.promise;
      },
      save: () => Promise.resolve(),
    },
    openPrompt: (r) => void prompts.push(r),
  });
  const service = new ConnectorService({ usb: null, version: '9.9.9', permissions, settings });
  cleanup.push(() => service.shutdown());
  const open = (name: string): Promise<Connection> => openClient(service, A, name);
  return { service, permissions, prompts, open, grants, loads: () => loads };
}

describe('ConnectorService start-up', () => {
  it('answers a call that arrived before start() read its settings, once the grants are read (one read, shared)', async () => {
    const slow = slowSettings();
    const { service, open, grants, loads } = make(slow.store);
    let startDone = false;
    const started = service.start().then(() => (startDone = true));
    const c = await open('Early app');
    let answered = false;
    const ctx = c.SCardEstablishContext(SCARD_SCOPE_SYSTEM).then((r) => ((answered = true), r));
    await flush();
    expect(answered).toBe(false);
    expect(loads()).toBe(1);
    grants.resolve({ [A]: { decision: 'allow', name: 'Early app', at: 1 } });
    // The settings are still unread (start() not done): the call does not wait for them.
    const { hContext } = await ctx;
    expect(startDone).toBe(false);
    expect(loads()).toBe(1);
    await expect(c.SCardIsValidContext(hContext)).resolves.toBeUndefined();
    slow.release();
    await started;
    expect(loads()).toBe(1);
    c.close();
  });

  it('still asks the user about an unknown app whose first call arrived during the start-up, and denies on Block', async () => {
    const slow = slowSettings();
    const { service, permissions, prompts, open, grants } = make(slow.store);
    const started = service.start();
    const c = await open('Unknown app');
    const ctx = c.SCardEstablishContext(SCARD_SCOPE_SYSTEM).catch((e: unknown) => e);
    grants.resolve({});
    slow.release();
    await started;
    await flush();
    expect(prompts.map((p) => p.id)).toEqual([A]);
    await permissions.answer(A, 'block');
    const e = await ctx;
    expect(e).toBeInstanceOf(PcscError);
    expect((e as PcscError).code).toBe(SCARD_W_SECURITY_VIOLATION);
    c.close();
  });

  it('lists the demo reader the start brought back (its switch was stored) to the first reader list after start()', async () => {
    const slow = slowSettings({ demoReader: true });
    const { service, open, grants } = make(slow.store);
    const started = service.start();
    grants.resolve({ [A]: { decision: 'allow', name: 'Reader app', at: 1 } });
    slow.release();
    await started;
    const c = await open('Reader app');
    const { hContext } = await c.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await c.SCardListReaders(hContext, null);
    // pcscd's name for the demo reader, a simulated GemPC Twin (libccid's friendly name, interface 00, slot 00).
    expect(readers).toEqual(['Gemalto PC Twin Reader 00 00']);
    c.close();
  });

  it('builds no status while nobody listens, and a listener added later gets the current one', async () => {
    const settings = new MemorySettings();
    const { service, grants } = make(settings);
    grants.resolve({});
    await service.start();
    await service.setDemoReader(true);
    const seen: boolean[] = [];
    service.onChange((s) => seen.push(s.demoReader));
    await service.setDemoReader(false);
    expect(seen.at(-1)).toBe(false);
    expect(service.status().demoReader).toBe(false);
  });

  it("answers SCardEstablishContext before the demo reader's put-off set-up, and a reader list waits for it", async () => {
    const slow = slowSettings({ demoReader: true });
    const { service, open, grants } = make(slow.store);
    const started = service.start();
    grants.resolve({ [A]: { decision: 'allow', name: 'Reader app', at: 1 } });
    slow.release();
    const c = await open('Reader app');
    const { hContext } = await c.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    // The set-up is put off (up to 100 ms) until a call needs the readers: not plugged in yet.
    expect(service.demoReader).toBeNull();
    // Asked now (and, behind it, a release that must not overtake it): the demo reader is listed.
    const list = c.SCardListReaders(hContext, null);
    const release = c.SCardReleaseContext(hContext);
    await expect(list).resolves.toEqual({ readers: ['Gemalto PC Twin Reader 00 00'] });
    await release;
    await started;
    expect(service.demoReaderOn).toBe(true);
    c.close();
  });

  it('a demo switch made during the start-up is applied after the put-off set-up (the last switch wins)', async () => {
    const settings = new MemorySettings();
    await settings.set('demoReader', true);
    const { service, grants } = make(settings);
    grants.resolve({});
    const started = service.start();
    await flush();
    const off = service.setDemoReader(false);
    await started;
    await off;
    expect(service.demoReaderOn).toBe(false);
    expect(service.demoReader).toBeNull();
    await expect(settings.get('demoReader')).resolves.toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import {
  GRANTS_KEY,
  Permissions,
  WHERE_TO_CHANGE,
  parseGrants,
  parsePolicy,
  promptDelay,
  type GrantStore,
  type PromptRequest,
  type StoredGrants,
} from '../../../src/connector/permissions.js';

const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const P = 'pppppppppppppppppppppppppppppppp';
const flush = () => new Promise((r) => setTimeout(r, 0));

class MemoryStore implements GrantStore {
  grants: StoredGrants = {};
  saves = 0;
  load() {
    return Promise.resolve(structuredClone(this.grants));
  }
  save(g: StoredGrants) {
    this.saves++;
    this.grants = structuredClone(g);
    return Promise.resolve();
  }
}

function make(extra: Partial<ConstructorParameters<typeof Permissions>[0]> = {}) {
  const store = new MemoryStore();
  const prompts: PromptRequest[] = [];
  const revoked: string[] = [];
  const perms = new Permissions({ store, openPrompt: (r) => void prompts.push(r), now: () => 1000, ...extra });
  perms.onRevoke((id) => revoked.push(id));
  return { store, prompts, revoked, perms };
}

describe('Permissions', () => {
  it('asks once for an unknown client however many calls wait, and lets them all through on Allow (stored)', async () => {
    const { perms, prompts, store } = make({
      lookupName: (id) => Promise.resolve(id === A ? 'App A (Chrome says)' : null),
    });
    const calls = [perms.check(A, 'my app'), perms.check(A, 'my app, port 2'), perms.check(A)];
    await flush();
    expect(prompts).toEqual([
      {
        id: A,
        extensionName: 'App A (Chrome says)',
        claimedName: 'my app',
        since: 1000,
        promptAt: null,
        unanswered: 0,
      },
    ]);
    expect(perms.pending.map((p) => p.id)).toEqual([A]);
    await perms.answer(A, 'allow');
    for (const v of await Promise.all(calls)) expect(v).toEqual({ allowed: true, source: 'user' });
    expect(store.grants[A]).toEqual({ decision: 'allow', name: 'App A (Chrome says)', at: 1000 });
    expect(perms.pending).toEqual([]);
    // Next time: no prompt.
    await expect(perms.check(A)).resolves.toMatchObject({ allowed: true });
    expect(prompts).toHaveLength(1);
  });

  it('Block denies the waiting calls with a message saying who blocked it and where to change that, and is remembered', async () => {
    const { perms, prompts } = make();
    const waiting = perms.check(B, 'Bad app');
    await flush();
    await perms.answer(B, 'block');
    const v = await waiting;
    expect(v.allowed).toBe(false);
    if (!v.allowed) {
      expect(v.message).toContain('the user blocked "Bad app"');
      expect(v.message).toContain(WHERE_TO_CHANGE);
    }
    await expect(perms.check(B)).resolves.toMatchObject({ allowed: false, source: 'user' });
    expect(prompts).toHaveLength(1);
  });

  it('closing the prompt is not an answer: the request stays pending and can be answered in the window', async () => {
    const { perms, prompts, store } = make();
    const waiting = perms.check(A, 'x');
    await flush();
    perms.dismiss(A); // another extension may have closed the window
    await flush();
    expect(perms.pending).toMatchObject([{ id: A, unanswered: 1 }]);
    expect(store.saves).toBe(0);
    let settled = false;
    void waiting.then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    await perms.answer(A, 'allow'); // from the connector's window
    await expect(waiting).resolves.toEqual({ allowed: true, source: 'user' });
    expect(prompts).toHaveLength(1);
  });

  it('a client that withdraws and asks again after repeated unanswered prompts waits a growing delay', async () => {
    const { perms, prompts } = make();
    for (let round = 1; round <= 2; round++) {
      const waiting = perms.check(A, 'x');
      await flush();
      expect(prompts).toHaveLength(round);
      perms.dismiss(A); // closed
      perms.dismiss(A, 'gone'); // the app drops its ports to ask again
      await expect(waiting).resolves.toMatchObject({ allowed: false, source: 'dismissed' });
    }
    const third = perms.check(A, 'x');
    await flush();
    expect(prompts).toHaveLength(2); // no prompt now
    expect(perms.pending).toMatchObject([{ id: A, unanswered: 2, promptAt: 1000 + 10_000 }]);
    await perms.answer(A, 'block'); // answered in the window meanwhile
    await expect(third).resolves.toMatchObject({ allowed: false, source: 'user' });
    // An answer resets the count.
    await perms.revoke(A);
    void perms.check(A, 'x');
    await flush();
    expect(prompts).toHaveLength(3);
  });

  it('the delay grows from 10 s to at most 10 minutes', () => {
    expect([0, 1, 2, 3, 4, 8, 20].map(promptDelay)).toEqual([0, 0, 10_000, 20_000, 40_000, 600_000, 600_000]);
  });

  it('revoke forgets the decision, tells onRevoke listeners, and the next call is asked again', async () => {
    const { perms, prompts, revoked, store } = make();
    store.grants = { [A]: { decision: 'allow', name: 'A', at: 1 } };
    await expect(perms.check(A)).resolves.toMatchObject({ allowed: true });
    await perms.revoke(A);
    expect(revoked).toEqual([A]);
    expect(store.grants).toEqual({});
    expect(perms.list()).toEqual([]);
    void perms.check(A);
    await flush();
    expect(prompts.map((p) => p.id)).toEqual([A]);
  });

  it('policy ids are allowed without a prompt, cannot be revoked, answer a pending prompt, and lose access when removed', async () => {
    let setInitial!: (v: unknown) => void;
    const { perms, prompts, revoked } = make({ initialPolicy: new Promise((r) => (setInitial = r)) });
    const early = perms.check(P);
    await flush();
    expect(prompts).toEqual([]); // no decision before the policy is known
    setInitial([P, 'not an id', 42]);
    await expect(early).resolves.toEqual({ allowed: true, source: 'policy' });
    expect(perms.policy).toEqual([P]);
    expect(perms.list()).toEqual([{ id: P, name: '', source: 'policy', decision: 'allow', at: null }]);
    await perms.revoke(P);
    await expect(perms.check(P)).resolves.toMatchObject({ allowed: true, source: 'policy' });
    // A policy added live answers a pending prompt.
    const waiting = perms.check(A);
    await flush();
    perms.setPolicy([P, A]);
    await expect(waiting).resolves.toMatchObject({ allowed: true, source: 'policy' });
    perms.setPolicy([]);
    expect(revoked.sort()).toEqual([A, P].sort());
  });

  it('a client the user allowed is let through before the (slow) policy read; blocked and unknown ones wait for it', async () => {
    let setInitial!: (v: unknown) => void;
    const { perms, prompts, store } = make({ initialPolicy: new Promise((r) => (setInitial = r)) });
    store.grants = { [A]: { decision: 'allow', name: 'A', at: 1 }, [B]: { decision: 'block', name: 'B', at: 1 } };
    await expect(perms.check(A)).resolves.toEqual({ allowed: true, source: 'user' });
    let blockedSettled = false;
    const blocked = perms.check(B).then((v) => ((blockedSettled = true), v));
    const unknown = perms.check(P);
    await flush();
    expect(blockedSettled).toBe(false); // the policy might force-allow it
    expect(prompts).toEqual([]);
    setInitial([B]);
    await expect(blocked).resolves.toEqual({ allowed: true, source: 'policy' });
    await flush();
    expect(prompts.map((p) => p.id)).toEqual([P]);
    await perms.answer(P, 'block');
    await expect(unknown).resolves.toMatchObject({ allowed: false });
  });

  it('the policy does not cut off an app the user allowed too', async () => {
    const { perms, revoked, store } = make();
    store.grants = { [A]: { decision: 'allow', name: 'A', at: 1 } };
    perms.setPolicy([A]);
    await perms.check(A);
    perms.setPolicy([]);
    expect(revoked).toEqual([]);
  });

  it('built-in known clients are allowed and listed', async () => {
    const { perms, prompts } = make({ knownClients: { [B]: 'Known B' } });
    await expect(perms.check(B)).resolves.toEqual({ allowed: true, source: 'known' });
    expect(prompts).toEqual([]);
    expect(perms.list()).toEqual([{ id: B, name: 'Known B', source: 'known', decision: 'allow', at: null }]);
  });

  it('refuses senders without an extension id at once', async () => {
    const { perms, prompts } = make();
    await expect(perms.check(undefined)).resolves.toMatchObject({ allowed: false, source: 'invalid' });
    await expect(perms.check('https://evil.example')).resolves.toMatchObject({ allowed: false });
    expect(prompts).toEqual([]);
  });

  it('picks up a grant written to storage by someone else (another page, a test) before prompting, and on reload', async () => {
    const { perms, prompts, store, revoked } = make();
    const first = perms.check(P); // loads once, then prompts
    await flush();
    perms.dismiss(P, 'gone');
    await first;
    store.grants = { [A]: { decision: 'allow', name: 'A', at: 5 } };
    await expect(perms.check(A)).resolves.toMatchObject({ allowed: true });
    expect(prompts.map((p) => p.id)).toEqual([P]);
    // Removed elsewhere: revoked here on reload.
    store.grants = {};
    await perms.reload();
    expect(revoked).toEqual([A]);
  });

  it('a prompt that cannot open denies the waiting calls instead of leaving them hanging', async () => {
    const { perms } = make({ openPrompt: () => Promise.reject(new Error('no windows')) });
    await expect(perms.check(A)).resolves.toMatchObject({ allowed: false, source: 'dismissed' });
  });

  it('parses stored grants and policies defensively', () => {
    expect(parseGrants(null)).toEqual({});
    expect(parseGrants([1])).toEqual({});
    expect(
      parseGrants({
        [A]: { decision: 'allow', name: 7, at: 'x' },
        bad: { decision: 'allow' },
        [B]: { decision: 'maybe' },
      }),
    ).toEqual({
      [A]: { decision: 'allow', name: '', at: 0 },
    });
    const warnings: string[] = [];
    expect(parsePolicy('abc', (_l, m) => warnings.push(m))).toEqual([]);
    expect(parsePolicy(undefined)).toEqual([]);
    expect(warnings[0]).toContain('expected a list');
    expect(GRANTS_KEY).toBe('clientGrants');
  });
});

/**
 * Who may use the connector: the decision logic, pure (no chrome.*), unit-tested in Node. background.ts gives it a
 * storage (chrome.storage.local), the policy (chrome.storage.managed, watched live) and a way to open the prompt window.
 *
 * The model, in order (as Google's Smart Card Connector, plus review and revoke):
 *   1. Administrator policy: client extension ids in `force_allowed_client_app_ids` are allowed, without a prompt and
 *      without a way for the user to revoke them.
 *   2. Built-in known clients (`knownClients` option; none in the release build).
 *   3. The user's stored decision: "allow" or "block", kept until the user revokes it in the connector's window.
 *   4. Otherwise the user is asked: one prompt per client however many ports it opens; its calls wait for the answer.
 *      Closing the prompt is not an answer (another extension can close any window): the request stays pending, listed
 *      in the connector's window (and counted on its toolbar button), where the user can answer it too. It ends when
 *      the user answers or the client closes every connection. A client whose prompts keep going unanswered is asked
 *      again only after a growing delay (promptDelay), so an app cannot bring a prompt back at once after each close.
 *
 * Revoking (or a policy entry going away) tells `onRevoke` listeners, which close the client's contexts at once; its
 * next call is asked again.
 */

import { cleanName, quoteUntrusted } from '../util/sanitize.js';

export type Decision = 'allow' | 'block';

export interface StoredGrant {
  decision: Decision;
  /** The name shown when the user decided (the extension's name, or the name it gave). */
  name: string;
  /** ms since the epoch. */
  at: number;
}
export type StoredGrants = Record<string, StoredGrant>;

/** Where grants live (chrome.storage.local under GRANTS_KEY in the extension). */
export interface GrantStore {
  load(): Promise<StoredGrants>;
  save(grants: StoredGrants): Promise<void>;
}

export const GRANTS_KEY = 'clientGrants';
/** The managed-storage (policy) key: a list of extension ids, as Google's connector names it. */
export const POLICY_KEY = 'force_allowed_client_app_ids';

/** Why a client may or may not call. */
export type Verdict =
  | { allowed: true; source: 'policy' | 'known' | 'user' }
  | { allowed: false; source: 'user' | 'dismissed' | 'invalid'; message: string };

/** What the prompt shows: the client's id and the names we have for it. */
export interface PromptRequest {
  id: string;
  /** The name Chrome reports for the extension (chrome.management), when available. */
  extensionName: string | null;
  /** The name the client gave itself when connecting (its port name): its own claim, shown as such. */
  claimedName: string;
  /** When the request began (ms since the epoch). */
  since: number;
  /** When its prompt window opens, when that is delayed (earlier prompts went unanswered); null once it is open. */
  promptAt: number | null;
  /** Earlier prompts of this client that were closed (or withdrawn) without an answer, since the worker started. */
  unanswered: number;
}

/**
 * How long to wait before opening the prompt of a client whose last `unanswered` prompts were closed or withdrawn
 * without an answer: at once for the first two, then 10 s, doubling up to 10 minutes. The request is in the connector's
 * window meanwhile, where the user can answer it.
 */
export function promptDelay(unanswered: number): number {
  if (unanswered < 2) return 0;
  return Math.min(10_000 * 2 ** (unanswered - 2), 600_000);
}

export interface AppPermissionView {
  id: string;
  name: string;
  /** 'policy' and 'known' cannot be revoked from the window. */
  source: 'policy' | 'known' | 'user';
  decision: Decision;
  /** When the user decided (user grants only). */
  at: number | null;
}

export interface PermissionsOptions {
  store: GrantStore;
  /** Opens (or focuses) the prompt for a client. Called once per pending client. */
  openPrompt: (request: PromptRequest) => void | Promise<void>;
  /** Built-in allowed clients: id → name. */
  knownClients?: Readonly<Record<string, string>>;
  /** chrome.management.get where the connector has the permission; null when it cannot tell. */
  lookupName?: (id: string) => Promise<string | null>;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  now?: () => number;
  /** The policy as first read (chrome.storage.managed.get): no decision is made before it is known. */
  initialPolicy?: Promise<unknown>;
}

/** Where the user changes a decision (part of every denial message). */
export const WHERE_TO_CHANGE =
  'open the Smart Card Connector window (its toolbar button), section "Apps", to change this';

export function blockedMessage(id: string, name: string): string {
  return `the user blocked ${name ? `${quoteUntrusted(name)} (${id})` : id} from using smart card readers; ${WHERE_TO_CHANGE}`;
}

/** Chrome extension ids: 32 letters a–p. */
export function isExtensionId(id: unknown): id is string {
  return typeof id === 'string' && /^[a-p]{32}$/.test(id);
}

/** The policy value as given by an administrator: a list of ids; anything else counts as an empty list (and is logged). */
export function parsePolicy(value: unknown, log?: PermissionsOptions['log']): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    log?.('warn', `policy ${POLICY_KEY}: expected a list of extension ids, got ${typeof value}; ignored`);
    return [];
  }
  const ids: string[] = [];
  for (const v of value) {
    if (isExtensionId(v)) ids.push(v);
    else log?.('warn', `policy ${POLICY_KEY}: ${quoteUntrusted(String(v), 64)} is not an extension id; ignored`);
  }
  return ids;
}

/** Keeps only well-formed entries of what storage returned (it may hold anything an older version wrote). */
export function parseGrants(value: unknown): StoredGrants {
  const out: StoredGrants = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out;
  for (const [id, g] of Object.entries(value as Record<string, unknown>)) {
    if (!isExtensionId(id) || typeof g !== 'object' || g === null) continue;
    const { decision, name, at } = g as Record<string, unknown>;
    if (decision !== 'allow' && decision !== 'block') continue;
    out[id] = {
      decision,
      name: cleanName(name),
      at: typeof at === 'number' ? at : 0,
    };
  }
  return out;
}

/** A name in a log line: the extension id leads, the name follows quoted (it is the app's own text). */
function nameForLog(name: string | null | undefined): string {
  return name ? `named ${quoteUntrusted(name)}` : 'unnamed';
}

interface Pending {
  request: PromptRequest;
  waiters: Array<(v: Verdict) => void>;
  /** The delayed opening of its prompt. */
  timer?: ReturnType<typeof setTimeout>;
  /** Its prompt was opened (so withdrawing it counts as unanswered). */
  prompted: boolean;
  /** Already counted as unanswered. */
  counted?: boolean;
}

export class Permissions {
  readonly #o: PermissionsOptions;
  #policy = new Set<string>();
  #grants: StoredGrants = {};
  #loaded: Promise<void> | null = null;
  readonly #pending = new Map<string, Pending>();
  /** Client id → prompts closed or withdrawn without an answer in a row (promptDelay). */
  readonly #unanswered = new Map<string, number>();
  readonly #changeListeners = new Set<() => void>();
  readonly #revokeListeners = new Set<(id: string) => void>();
  /** Serialises writes so two quick decisions cannot lose one another. */
  #writes: Promise<void> = Promise.resolve();

  readonly #policyRead: Promise<void>;

  constructor(options: PermissionsOptions) {
    this.#o = options;
    this.#policyRead = options.initialPolicy
      ? options.initialPolicy.then(
          (v) => this.setPolicy(v),
          (e: unknown) => this.#log('warn', `could not read the policy: ${String(e)}`),
        )
      : Promise.resolve();
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    try {
      this.#o.log?.(level, message);
    } catch {
      /* never */
    }
  }

  /** (Re)reads the stored grants: at start, and when storage changed under us (another page, a test). */
  async reload(): Promise<void> {
    let grants: StoredGrants;
    try {
      grants = parseGrants(await this.#o.store.load());
    } catch (e) {
      this.#log('warn', `could not read the stored app permissions: ${String(e)}`);
      grants = this.#grants;
    }
    const before = this.#grants;
    this.#grants = grants;
    for (const id of Object.keys(before)) {
      if (
        before[id]!.decision === 'allow' &&
        grants[id]?.decision !== 'allow' &&
        !this.#policy.has(id) &&
        !this.#known(id)
      )
        this.#revoked(id);
    }
    // A decision stored elsewhere answers a waiting prompt.
    for (const [id, g] of Object.entries(grants))
      if (this.#pending.has(id)) this.#settle(id, this.#verdictOf(id, g.name) ?? undefined);
    this.#changed();
  }

  /**
   * The stored grants as read once at start (shared with the first check(), which needs them: one storage read, begun
   * as early as the caller likes). reload() reads them again.
   */
  load(): Promise<void> {
    return this.#grantsRead();
  }

  #ensureLoaded(): Promise<void> {
    this.#loaded ??= Promise.all([this.#grantsRead(), this.#policyRead]).then(() => {});
    return this.#loaded;
  }

  #grantsLoaded: Promise<void> | null = null;

  /** The stored grants, read once at start (reload() reads them again on change). */
  #grantsRead(): Promise<void> {
    this.#grantsLoaded ??= this.reload();
    return this.#grantsLoaded;
  }

  /** The administrator's list (chrome.storage.managed), at start and on every change. Ids removed lose access at once. */
  setPolicy(value: unknown): void {
    const ids = new Set(parsePolicy(value, (l, m) => this.#log(l, m)));
    const before = this.#policy;
    this.#policy = ids;
    for (const id of before)
      if (!ids.has(id) && this.#grants[id]?.decision !== 'allow' && !this.#known(id)) this.#revoked(id);
    for (const id of ids) if (this.#pending.has(id)) this.#settle(id, { allowed: true, source: 'policy' });
    this.#log(
      'info',
      `policy: ${ids.size === 0 ? 'no force-allowed apps' : `force-allowed apps ${[...ids].join(', ')}`}`,
    );
    this.#changed();
  }

  get policy(): readonly string[] {
    return [...this.#policy];
  }

  #known(id: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.#o.knownClients ?? {}, id);
  }

  /** The verdict without asking anyone, or null when the user must be asked. */
  #verdictOf(id: string, name: string): Verdict | null {
    if (this.#policy.has(id)) return { allowed: true, source: 'policy' };
    if (this.#known(id)) return { allowed: true, source: 'known' };
    const g = this.#grants[id];
    if (g?.decision === 'allow') return { allowed: true, source: 'user' };
    if (g?.decision === 'block') return { allowed: false, source: 'user', message: blockedMessage(id, g.name || name) };
    return null;
  }

  /**
   * May client `id` (which calls itself `claimedName`) use the readers? Resolves at once when decided, else after the
   * user answered the prompt (shared by every caller for the same id).
   */
  async check(id: string | undefined, claimedName = ''): Promise<Verdict> {
    if (!isExtensionId(id)) {
      return {
        allowed: false,
        source: 'invalid',
        message: 'only Chrome extensions may use the smart card connector (no extension id)',
      };
    }
    // The policy can only allow more, so a client the user allowed (or a built-in one) need not wait for it: Chrome's
    // chrome.storage.managed.get can take seconds after start (measured ~3 s headless), which would delay every
    // returning client's first call. Blocked and unknown clients wait, since the policy may force-allow them.
    await this.#grantsRead();
    let v = this.#verdictOf(id, claimedName);
    if (v?.allowed) return v;
    await this.#ensureLoaded();
    v = this.#verdictOf(id, claimedName);
    if (v) return v;
    // Storage may have changed since we last read it (the window, another worker instance): look once more.
    await this.reload();
    v = this.#verdictOf(id, claimedName);
    if (v) return v;
    return new Promise<Verdict>((resolve) => {
      const waiting = this.#pending.get(id);
      if (waiting) {
        waiting.waiters.push(resolve);
        if (!waiting.request.claimedName && claimedName) waiting.request.claimedName = claimedName.slice(0, 256);
        return;
      }
      const unanswered = this.#unanswered.get(id) ?? 0;
      const now = (this.#o.now ?? Date.now)();
      const delay = promptDelay(unanswered);
      const request: PromptRequest = {
        id,
        extensionName: null,
        claimedName: claimedName.slice(0, 256),
        since: now,
        promptAt: delay > 0 ? now + delay : null,
        unanswered,
      };
      const pending: Pending = { request, waiters: [resolve], prompted: false };
      this.#pending.set(id, pending);
      this.#changed();
      void (async () => {
        if (this.#o.lookupName) {
          try {
            request.extensionName = await this.#o.lookupName(id);
          } catch {
            request.extensionName = null;
          }
        }
        if (this.#pending.get(id) !== pending) return;
        this.#changed();
        if (delay > 0) {
          this.#log(
            'info',
            `${id} (${nameForLog(request.extensionName ?? request.claimedName)}) asks again after ${unanswered} ` +
              `unanswered prompts: its prompt opens in ${Math.round(delay / 1000)} s; it can be answered in the window`,
          );
          pending.timer = setTimeout(() => void this.#prompt(id, pending), delay);
        } else await this.#prompt(id, pending);
      })();
    });
  }

  /** Opens the prompt of a pending request (if it is still pending). */
  async #prompt(id: string, pending: Pending): Promise<void> {
    if (this.#pending.get(id) !== pending) return;
    const request = pending.request;
    pending.prompted = true;
    if (request.promptAt !== null) {
      request.promptAt = null;
      this.#changed();
    }
    this.#log('info', `asking the user about ${id} (${nameForLog(request.extensionName ?? request.claimedName)})`);
    try {
      await this.#o.openPrompt({ ...request });
    } catch (e) {
      this.#log('error', `could not open the permission prompt for ${id}: ${String(e)}`);
      this.#settle(id, {
        allowed: false,
        source: 'dismissed',
        message: `the connector could not ask the user (${String(e)})`,
      });
    }
  }

  /** Allowed as far as is known right now, without asking or waiting (policy, built in, the user's stored Allow). */
  allowedNow(id: string | undefined): boolean {
    return isExtensionId(id) && this.#verdictOf(id, '')?.allowed === true;
  }

  /** Clients waiting for the user's answer. */
  get pending(): PromptRequest[] {
    return [...this.#pending.values()].map((p) => ({ ...p.request }));
  }

  #settle(id: string, verdict: Verdict | undefined): void {
    const p = this.#pending.get(id);
    if (!p || !verdict) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    for (const w of p.waiters) w(verdict);
    this.#changed();
  }

  /** The user answered the prompt (Allow or Block): stored, and every waiting call proceeds or is denied. */
  async answer(id: string, decision: Decision): Promise<void> {
    if (!isExtensionId(id)) throw new TypeError(`not an extension id: ${JSON.stringify(id)}`);
    const p = this.#pending.get(id);
    const name = cleanName(p ? (p.request.extensionName ?? p.request.claimedName) : (this.#grants[id]?.name ?? ''));
    const grant: StoredGrant = { decision, name, at: (this.#o.now ?? Date.now)() };
    this.#log('info', `the user ${decision === 'allow' ? 'allowed' : 'blocked'} ${id} (${nameForLog(name)})`);
    this.#grants = { ...this.#grants, [id]: grant };
    this.#unanswered.delete(id);
    this.#settle(id, this.#verdictOf(id, name) ?? undefined);
    this.#changed();
    await this.#save();
  }

  /**
   * The prompt window was closed unanswered (`closed`: by the user, or by another extension, which can close any
   * window), or the client closed every connection while it waited (`gone`). Closing is not an answer: the request stays
   * pending, listed in the connector's window, and its calls keep waiting. `gone` withdraws the request. Either way the
   * client's next prompt comes only after promptDelay.
   */
  dismiss(id: string, reason: 'closed' | 'gone' = 'closed'): void {
    const p = this.#pending.get(id);
    if (!p) return;
    // One unanswered prompt counts once, whether it was closed, withdrawn, or both.
    if (!p.counted && (reason === 'closed' || p.prompted)) {
      p.counted = true;
      this.#unanswered.set(id, (this.#unanswered.get(id) ?? 0) + 1);
    }
    if (reason === 'closed') {
      this.#log(
        'info',
        `the permission prompt for ${id} was closed without an answer; the request stays pending in the connector's window`,
      );
      p.request.unanswered = this.#unanswered.get(id) ?? 0;
      this.#changed();
      return;
    }
    this.#log('info', `${id} closed its connections while the user was being asked; the question is withdrawn`);
    this.#settle(id, {
      allowed: false,
      source: 'dismissed',
      message: 'the app closed its connections before the user answered; the next connection will ask again',
    });
  }

  /**
   * Forgets the user's decision about `id` (Revoke for an allowed app, Unblock for a blocked one): its contexts are closed
   * at once (onRevoke) and its next call is asked again. Policy and built-in grants cannot be revoked here.
   */
  async revoke(id: string): Promise<void> {
    const g = this.#grants[id];
    if (!g) return;
    const rest = { ...this.#grants };
    delete rest[id];
    this.#grants = rest;
    this.#unanswered.delete(id);
    this.#log('info', `the user revoked the decision about ${id} (${nameForLog(g.name)})`);
    if (!this.#policy.has(id) && !this.#known(id)) this.#revoked(id);
    this.#changed();
    await this.#save();
  }

  #revoked(id: string): void {
    for (const l of [...this.#revokeListeners]) {
      try {
        l(id);
      } catch (e) {
        this.#log('error', `revoke listener threw: ${String(e)}`);
      }
    }
  }

  async #save(): Promise<void> {
    const grants = this.#grants;
    const write = this.#writes.then(() => this.#o.store.save(grants));
    this.#writes = write.catch(() => {});
    try {
      await write;
    } catch (e) {
      this.#log('error', `could not store the app permissions: ${String(e)}`);
    }
  }

  /** Every app with a decision: policy, built-in and the user's, sorted by name. */
  list(): AppPermissionView[] {
    const out = new Map<string, AppPermissionView>();
    for (const [id, g] of Object.entries(this.#grants))
      out.set(id, { id, name: g.name, source: 'user', decision: g.decision, at: g.at });
    for (const [id, name] of Object.entries(this.#o.knownClients ?? {}))
      out.set(id, { id, name, source: 'known', decision: 'allow', at: null });
    for (const id of this.#policy)
      out.set(id, { id, name: out.get(id)?.name ?? '', source: 'policy', decision: 'allow', at: null });
    return [...out.values()].sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
  }

  /** Grants, policy or pending prompts changed (the window's list). */
  onChange(listener: () => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** `id` lost its access: close its contexts. */
  onRevoke(listener: (id: string) => void): () => void {
    this.#revokeListeners.add(listener);
    return () => this.#revokeListeners.delete(listener);
  }

  #changed(): void {
    for (const l of [...this.#changeListeners]) {
      try {
        l();
      } catch (e) {
        this.#log('error', `permissions listener threw: ${String(e)}`);
      }
    }
  }
}

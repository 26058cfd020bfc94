/// <reference types="chrome" />
/**
 * The connector's window: the readers (state, reason, card, ATR decoded in short), "Add reader", the demo reader
 * switch, connected apps, allowed and blocked apps with Revoke, the log (level filter, export, the "Log APDUs" switch)
 * and About. The page calls the worker's PageService through comlink (link.ts); the worker pushes a status after every
 * change and log entries as they come on the same chrome.runtime port; when the worker restarts the port drops and the
 * page connects again.
 */
import { REQUEST_DEVICE_FILTERS } from '../../usb/filters.js';
import { boundEntries, exportText, formatEntry, LOG_LEVELS, type LogEntry } from '../log.js';
import { LICENCE_TEXT, PROJECT_URL } from '../about.js';
import {
  ORIGIN_TEXT,
  holderSummary,
  type AppPermissionView,
  type HolderView,
  type ConnectorStatus,
  type HostView,
  type PagePush,
  type PromptRequest,
  type ReaderView,
} from './messages.js';
import type { HostBackendChoice } from '../../protocol/native.js';
import { connectService, type ServiceLink } from './link.js';
import { nameView } from '../../util/sanitize.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const readersList = $<HTMLUListElement>('readers');
const noReaders = $<HTMLParagraphElement>('no-readers');
const addButton = $<HTMLButtonElement>('add-reader');
const demoSwitch = $<HTMLInputElement>('demo-reader');
const notice = $<HTMLParagraphElement>('notice');
const appsList = $<HTMLUListElement>('apps');
const appsCount = $<HTMLSpanElement>('apps-count');
const linkState = $<HTMLSpanElement>('link-state');
const version = $<HTMLSpanElement>('version');
const permissionsList = $<HTMLUListElement>('permissions');
const noPermissions = $<HTMLParagraphElement>('no-permissions');
const pendingList = $<HTMLUListElement>('pending');
const noPending = $<HTMLParagraphElement>('no-pending');
const logList = $<HTMLOListElement>('log');
const logCount = $<HTMLParagraphElement>('log-count');
const logLevel = $<HTMLSelectElement>('log-level');
const logApdus = $<HTMLInputElement>('log-apdus');
const exportButton = $<HTMLButtonElement>('export-log');
const hostState = $<HTMLParagraphElement>('host-state');
const hostDetail = $<HTMLParagraphElement>('host-detail');
const hostInstall = $<HTMLParagraphElement>('host-install');
const hostInstallCommand = $<HTMLElement>('host-install-command');
const hostEnabled = $<HTMLInputElement>('host-enabled');
const hostBackend = $<HTMLSelectElement>('host-backend');
const hostRetry = $<HTMLButtonElement>('host-retry');
const hostUseOwn = $<HTMLButtonElement>('host-use-own');
const hostBackends = $<HTMLParagraphElement>('host-backends');

$<HTMLSpanElement>('licence').textContent = LICENCE_TEXT;
const projectLink = $<HTMLAnchorElement>('project-link');
if (PROJECT_URL) {
  projectLink.href = PROJECT_URL;
  projectLink.textContent = PROJECT_URL;
  $<HTMLParagraphElement>('project-line').hidden = false;
}
const manifestVersion = chrome.runtime.getManifest().version;
$<HTMLSpanElement>('about-version').textContent = `version ${manifestVersion}`;

const STATE_TEXT: Record<ReaderView['state'], string> = {
  opening: 'Opening…',
  ready: 'Ready',
  blocked: 'Blocked by Chrome',
  unsupported: 'Not supported',
  failed: 'Failed',
};

let link: ServiceLink | null = null;
let lastInstance: string | null = null;

/** Calls the worker's service and shows its answer, or why it failed. */
function call(request: (service: ServiceLink['service']) => Promise<string>): void {
  if (!link) {
    notice.textContent = 'The connector service is not reachable; try again in a moment.';
    return;
  }
  request(link.service).then(
    (message) => (notice.textContent = message),
    (e: unknown) => (notice.textContent = e instanceof Error ? e.message : String(e)),
  );
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string } = {},
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.className) e.className = props.className;
  if (props.text !== undefined) e.textContent = props.text;
  return e;
}

function renderReader(r: ReaderView): HTMLLIElement {
  const li = el('li', { className: `reader ${r.state}` });
  li.dataset['readerId'] = r.id;
  li.dataset['state'] = r.state;
  li.dataset['origin'] = r.origin;
  const head = el('div', { className: 'reader-head' });
  head.append(el('span', { className: 'reader-label', text: r.label }));
  if (r.usbId) {
    head.append(el('span', { className: 'reader-usb', text: `USB ${r.usbId}${r.simulated ? ' · simulated' : ''}` }));
  }
  head.append(
    el('span', { className: `origin ${r.origin}`, text: ORIGIN_TEXT[r.origin] }),
    el('span', { className: `badge ${r.state}`, text: STATE_TEXT[r.state] }),
  );
  li.append(head);
  if (r.reason) li.append(el('p', { className: 'reason', text: r.reason }));
  if (r.readerNames.length > 0) {
    const names = el('p', { className: 'names' });
    names.textContent = r.readerNames
      .map((n, i) => `PC/SC: ${n} · ${r.cards[i] ? 'card present' : 'no card'}`)
      .join('\n');
    li.append(names);
    for (const slot of r.slots ?? []) {
      if (!slot.card && !slot.mute) continue;
      const dl = el('dl', { className: 'card' });
      const row = (term: string, value: string, className = '') => {
        const dd = el('dd', { text: value, className });
        dl.append(el('dt', { text: term }), dd);
      };
      if (r.slots.length > 1) row('Slot', slot.name);
      row(
        'Card',
        slot.mute
          ? 'present but not answering (mute)'
          : `present${slot.exclusive ? ', used exclusively by an app' : slot.inUse ? ', in use' : ''}`,
      );
      if (slot.atr) row('ATR', slot.atr, 'mono atr');
      if (slot.protocols) row('Protocols', slot.protocols);
      if (slot.atrInfo) row('ATR decoded', slot.atrInfo, 'atr-info');
      li.append(dl);
    }
    for (const slot of r.slots ?? []) {
      if (!slot.holders || slot.holders.length === 0) continue;
      const list = el('ul', { className: 'holders' });
      list.dataset['reader'] = slot.name;
      list.append(...slot.holders.map((h) => renderHolder(h, r.slots.length > 1 ? slot.name : null)));
      li.append(list);
    }
  }
  if (r.state === 'failed') {
    const retry = el('button', { text: 'Try again' });
    retry.type = 'button';
    retry.addEventListener('click', () => call((s) => s.retry(r.id)));
    li.append(retry);
  }
  return li;
}

/**
 * The app whose "End" was pressed once: the second step asks for confirmation in the page (no confirm() dialog, which
 * another extension's window could cover). Kept here so that a re-render while asking keeps asking.
 */
let armedEnd: string | null = null;

/**
 * One app holding a reader: "held by <id> (<name>): 3 handles, transaction, exclusive", the id first, the name isolated
 * (<bdi>), with "End": a first press asks to confirm, the second revokes the app (its hold ends, waiting apps go on).
 */
function renderHolder(h: HolderView, slotName: string | null): HTMLLIElement {
  const li = el('li', { className: 'holder' });
  li.dataset['appId'] = h.id;
  li.dataset['transaction'] = String(h.transaction);
  li.dataset['exclusive'] = String(h.exclusive);
  li.append(
    `${slotName !== null ? `${slotName}: ` : ''}held by `,
    el('span', { className: 'app-id mono', text: h.id }),
  );
  if (h.name) li.append(' (', el('bdi', { className: 'app-name', text: h.name }), ')');
  li.append(el('span', { className: 'holder-summary', text: `: ${holderSummary(h)}` }), ' ');
  const end = el('button', { text: 'End' });
  end.type = 'button';
  end.setAttribute('aria-label', `End the hold of ${h.id}`);
  const confirmEnd = el('button', { text: 'Confirm: end' });
  confirmEnd.type = 'button';
  confirmEnd.setAttribute('aria-label', `Confirm: end the hold of ${h.id}`);
  const cancel = el('button', { text: 'Cancel' });
  cancel.type = 'button';
  cancel.setAttribute('aria-label', `Do not end the hold of ${h.id}`);
  const note = el('span', {
    className: 'hint',
    text: ' Ends its access to every reader: its calls fail and it is asked again on its next call. ',
  });
  const show = (armed: boolean) => {
    end.hidden = armed;
    confirmEnd.hidden = !armed;
    cancel.hidden = !armed;
    note.hidden = !armed;
  };
  show(armedEnd === h.id);
  end.addEventListener('click', () => {
    armedEnd = h.id;
    show(true);
    confirmEnd.focus();
  });
  cancel.addEventListener('click', () => {
    armedEnd = null;
    show(false);
    end.focus();
  });
  confirmEnd.addEventListener('click', () => {
    armedEnd = null;
    show(false);
    call((s) => s.endHold(h.id));
  });
  li.append(end, note, confirmEnd, cancel);
  return li;
}

/**
 * A request waiting for the user's answer: closing its prompt window is not an answer (another extension may have
 * closed it), so it is listed here until answered, with Allow and Block, and when its prompt opens again if it was
 * delayed (permissions.ts promptDelay).
 */
function renderPending(r: PromptRequest): HTMLLIElement {
  const li = el('li', { className: 'permission pending' });
  li.dataset['appId'] = r.id;
  const name = nameView(r.extensionName ?? r.claimedName);
  const text = el('div', { className: 'permission-text' });
  text.append(
    el('span', { className: 'app-id mono', text: r.id }),
    el('bdi', { className: 'app-name', text: name.text || 'Unnamed app' }),
  );
  if (!r.extensionName) text.append(el('span', { className: 'unverified', text: '(name not verified)' }));
  if (name.mixed) text.append(el('span', { className: 'badge block', text: `name mixes ${name.mixed.join(' and ')}` }));
  const since = new Date(r.since).toLocaleTimeString();
  const note =
    r.promptAt !== null
      ? `Waiting since ${since}. Its last ${r.unanswered} prompts went unanswered: its prompt opens again at ` +
        `${new Date(r.promptAt).toLocaleTimeString()}. You can answer here now.`
      : `Waiting since ${since}${r.unanswered > 0 ? ' (its prompt was closed without an answer)' : ''}.`;
  text.append(el('span', { className: 'hint pending-note', text: note }));
  li.append(text);
  for (const decision of ['allow', 'block'] as const) {
    const b = el('button', { text: decision === 'allow' ? 'Allow' : 'Block' });
    b.type = 'button';
    b.setAttribute('aria-label', `${decision === 'allow' ? 'Allow' : 'Block'} ${r.id}`);
    b.addEventListener('click', () => call((s) => s.answerPrompt(r.id, decision)));
    li.append(b);
  }
  return li;
}

function renderPermission(p: AppPermissionView, connected: boolean): HTMLLIElement {
  const li = el('li', { className: `permission ${p.decision}` });
  li.dataset['appId'] = p.id;
  li.dataset['decision'] = p.decision;
  const name = p.name || 'Unnamed app';
  const text = el('div', { className: 'permission-text' });
  // The id is the identity and leads; the name is the app's own text, isolated (<bdi>) so it cannot reorder the line.
  text.append(el('span', { className: 'app-id mono', text: p.id }), el('bdi', { className: 'app-name', text: name }));
  const source =
    p.source === 'policy'
      ? 'Allowed by your administrator'
      : p.source === 'known'
        ? 'Allowed (built in)'
        : p.decision === 'allow'
          ? 'Allowed by you'
          : 'Blocked by you';
  const when = p.at ? ` on ${new Date(p.at).toLocaleString()}` : '';
  text.append(el('span', { className: `badge ${p.decision}`, text: `${source}${when}` }));
  if (connected) text.append(el('span', { className: 'hint', text: 'connected now' }));
  li.append(text);
  if (p.source === 'user') {
    const b = el('button', { text: p.decision === 'allow' ? 'Revoke' : 'Unblock' });
    b.type = 'button';
    b.setAttribute('aria-label', `${p.decision === 'allow' ? 'Revoke' : 'Unblock'} ${name}`);
    b.addEventListener('click', () => call((s) => s.revoke(p.id)));
    li.append(b);
  }
  return li;
}

/**
 * Replaces a list's items only when what it shows changed: a status arrives on every card event, and rebuilding an
 * unchanged list would take the keyboard focus away from the button a user is on.
 */
const shown = new WeakMap<HTMLElement, string>();
function update<T>(list: HTMLElement, data: T, build: () => HTMLElement[]): void {
  const key = JSON.stringify(data);
  if (shown.get(list) === key) return;
  shown.set(list, key);
  const focused =
    document.activeElement instanceof HTMLElement && list.contains(document.activeElement)
      ? document.activeElement
      : null;
  const label = focused?.getAttribute('aria-label') ?? focused?.textContent ?? null;
  list.replaceChildren(...build());
  // Keep the focus on the same control when it is still there.
  if (label !== null) {
    const again = Array.from(list.querySelectorAll<HTMLElement>('button')).find(
      (b) => (b.getAttribute('aria-label') ?? b.textContent) === label,
    );
    again?.focus();
  }
}

/** The host link: its state in words, the install command, the switch, the backend choice and what it offers. */
let hostTimer: ReturnType<typeof setInterval> | undefined;
function renderHost(h: HostView): void {
  hostState.dataset['state'] = h.state;
  const countdown = () => {
    if (h.retryAt === null) return h.text;
    const s = Math.max(0, Math.ceil((h.retryAt - Date.now()) / 1000));
    return h.text.replace(/in \d+ s\./, `in ${s} s.`);
  };
  hostState.textContent = countdown();
  if (hostTimer !== undefined) clearInterval(hostTimer);
  hostTimer = h.retryAt !== null ? setInterval(() => (hostState.textContent = countdown()), 1000) : undefined;
  hostDetail.hidden = h.detail === null;
  hostDetail.textContent = h.detail ?? '';
  hostInstall.hidden = h.installCommand === null;
  hostInstallCommand.textContent = h.installCommand ?? '';
  hostEnabled.checked = h.enabled;
  if (document.activeElement !== hostBackend) hostBackend.value = h.choice;
  hostRetry.hidden = !(h.enabled && (h.state === 'not-installed' || h.state === 'crashed' || h.state === 'mismatch'));
  hostUseOwn.hidden = !h.offerOwn;
  hostBackends.hidden = h.backends === null;
  hostBackends.textContent = h.backends
    ? `System service: ${h.backends.systemAvailable ? 'available' : 'not available'} (${h.backends.system}). ` +
      `Own stack: ${h.backends.ownAvailable ? 'available' : 'not available'} (${h.backends.own}).`
    : '';
}

function render(status: ConnectorStatus): void {
  version.textContent = status.version;
  if (lastInstance !== null && lastInstance !== status.instance)
    notice.textContent = 'The connector service restarted.';
  lastInstance = status.instance;
  update(readersList, status.readers, () => status.readers.map(renderReader));
  noReaders.hidden = status.readers.length > 0;
  demoSwitch.checked = status.demoReader;
  appsCount.textContent = String(status.connectedApps);
  update(appsList, status.apps, () =>
    status.apps.map((a) => {
      const li = el('li');
      li.append(
        el('span', { className: 'app-id mono', text: a.id }),
        ' ',
        el('bdi', { className: 'app-name', text: a.name || 'Unnamed app' }),
        a.connections > 1 ? ` · ${a.connections} connections` : '',
      );
      return li;
    }),
  );
  update(pendingList, status.prompts, () => status.prompts.map(renderPending));
  noPending.hidden = status.prompts.length > 0;
  const connectedIds = new Set(status.apps.map((a) => a.id));
  update(permissionsList, [status.permissions, [...connectedIds]], () =>
    status.permissions.map((p) => renderPermission(p, connectedIds.has(p.id))),
  );
  noPermissions.hidden = status.permissions.length > 0;
  logApdus.checked = status.logApdus;
  renderHost(status.host);
  if (!status.usb) {
    addButton.disabled = true;
    addButton.title = 'This browser has no WebUSB: only the demo reader can be used.';
  }
}

// The log: what the worker sent (bounded as its buffer), shown filtered by level, newest last.
let logEntries: LogEntry[] = [];
let logDropped = 0;
let logApdusOn = false;
const LOG_SHOWN = 500;

/** The level filter the list was last drawn with (a change redraws it whole). */
let drawnLevel: string | null = null;

/**
 * Draws the log list: whole (first push, a reset, a level change), or with `added`, the entries of a new batch, only
 * those appended and the oldest beyond LOG_SHOWN removed. Redrawing 500 entries at each batch (every 150 ms while an app
 * calls) cost about a millisecond of layout per call in the connector's process, beside its worker. The tail of the
 * filtered list is the same either way: the buffer's bound only drops entries older than the newest LOG_SHOWN.
 */
function renderLog(added?: readonly LogEntry[]): void {
  const min = LOG_LEVELS.indexOf(logLevel.value as LogEntry['level']);
  const shown = logEntries.filter((e) => LOG_LEVELS.indexOf(e.level) >= min);
  const atBottom = logList.scrollTop + logList.clientHeight >= logList.scrollHeight - 4;
  const item = (e: LogEntry) => el('li', { className: `entry ${e.level}`, text: formatEntry(e) });
  if (added && drawnLevel === logLevel.value) {
    const fresh = added.filter((e) => LOG_LEVELS.indexOf(e.level) >= min).slice(-LOG_SHOWN);
    logList.append(...fresh.map(item));
    for (let n = logList.childElementCount - LOG_SHOWN; n > 0; n--) logList.firstElementChild?.remove();
  } else {
    logList.replaceChildren(...shown.slice(-LOG_SHOWN).map(item));
    drawnLevel = logLevel.value;
  }
  if (atBottom) logList.scrollTop = logList.scrollHeight;
  logCount.textContent = `${shown.length} of ${logEntries.length} entries shown${shown.length > LOG_SHOWN ? ` (the last ${LOG_SHOWN})` : ''}${logDropped ? `; ${logDropped} older entries dropped` : ''}.`;
}

function onPush(event: PagePush): void {
  if (event.type === 'status') {
    logApdusOn = event.status.logApdus;
    render(event.status);
  } else if (event.type === 'log') {
    logEntries = event.reset ? event.entries : boundEntries([...logEntries, ...event.entries]);
    logDropped = event.dropped;
    renderLog(event.reset ? undefined : event.entries);
  }
}

function connectToWorker(): void {
  const l = connectService({
    onPush,
    onGone: () => {
      if (link === l) link = null;
      linkState.textContent = 'Reconnecting to the service…';
      setTimeout(connectToWorker, 300);
    },
  });
  link = l;
  linkState.textContent = 'Connected to the service';
  // The whole log comes as a push, then new entries as they are logged; a failure here is the port dropping.
  l.service.watchLog().catch(() => {});
}

addButton.addEventListener('click', () => {
  if (!('usb' in navigator)) {
    notice.textContent = 'This browser has no WebUSB.';
    return;
  }
  // requestDevice needs this click (a user gesture), and only a page can call it; the worker then sees the granted
  // device in its own getDevices().
  navigator.usb.requestDevice({ filters: [...REQUEST_DEVICE_FILTERS] }).then(
    () => {
      notice.textContent = 'Opening the reader…';
      call((s) => s.pickUpDevices());
    },
    (e: unknown) => {
      const name = e instanceof Error ? e.name : '';
      notice.textContent = name === 'NotFoundError' ? 'No reader was chosen.' : `Could not add a reader: ${String(e)}`;
    },
  );
});

demoSwitch.addEventListener('change', () => {
  call((s) => s.setDemoReader(demoSwitch.checked));
});

hostEnabled.addEventListener('change', () => {
  call((s) => s.setHostEnabled(hostEnabled.checked));
});

hostBackend.addEventListener('change', () => {
  call((s) => s.setHostBackend(hostBackend.value as HostBackendChoice));
});

hostRetry.addEventListener('click', () => call((s) => s.retryHost()));

hostUseOwn.addEventListener('click', () => {
  hostBackend.value = 'own';
  call((s) => s.setHostBackend('own'));
});

logApdus.addEventListener('change', () => {
  call((s) => s.setLogApdus(logApdus.checked));
});

logLevel.addEventListener('change', () => renderLog());

exportButton.addEventListener('click', () => {
  const text = exportText(logEntries, { version: manifestVersion, apdus: logApdusOn, dropped: logDropped });
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `smart-card-connector-log-${new Date().toISOString().replace(/[:.]/g, '-')}.txt`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  notice.textContent = `Log exported (${logEntries.length} entries).`;
});

connectToWorker();

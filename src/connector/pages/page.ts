/// <reference types="chrome" />
/**
 * The connector's page: the readers list (with the state and the reason of each), "Add reader", the demo reader switch
 * and the connected apps. Live: the worker pushes a status over a chrome.runtime port after every change; when the
 * worker restarts the port drops and the page connects again.
 */
import { REQUEST_DEVICE_FILTERS } from '../../usb/filters.js';
import { PAGE_PORT_NAME, type ConnectorStatus, type PageMessage, type PageRequest, type ReaderView } from './messages.js';

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

const STATE_TEXT: Record<ReaderView['state'], string> = {
  opening: 'Opening…',
  ready: 'Ready',
  blocked: 'Blocked by Chrome',
  unsupported: 'Not supported',
  failed: 'Failed',
};

let port: chrome.runtime.Port | null = null;
let lastInstance: string | null = null;

function send(request: PageRequest): void {
  if (!port) {
    notice.textContent = 'The connector service is not reachable; try again in a moment.';
    return;
  }
  port.postMessage(request);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: { className?: string; text?: string } = {}): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.className) e.className = props.className;
  if (props.text !== undefined) e.textContent = props.text;
  return e;
}

function renderReader(r: ReaderView): HTMLLIElement {
  const li = el('li', { className: `reader ${r.state}` });
  li.dataset['readerId'] = r.id;
  li.dataset['state'] = r.state;
  const head = el('div', { className: 'reader-head' });
  head.append(
    el('span', { className: 'reader-label', text: r.label }),
    el('span', { className: 'reader-usb', text: `USB ${r.usbId}${r.simulated ? ' · simulated' : ''}` }),
    el('span', { className: `badge ${r.state}`, text: STATE_TEXT[r.state] }),
  );
  li.append(head);
  if (r.reason) li.append(el('p', { className: 'reason', text: r.reason }));
  if (r.readerNames.length > 0) {
    const names = el('p', { className: 'names' });
    names.textContent = r.readerNames.map((n, i) => `PC/SC: ${n} · ${r.cards[i] ? 'card present' : 'no card'}`).join('\n');
    li.append(names);
  }
  if (r.state === 'failed') {
    const retry = el('button', { text: 'Try again' });
    retry.type = 'button';
    retry.addEventListener('click', () => send({ type: 'retry', id: r.id }));
    li.append(retry);
  }
  return li;
}

function render(status: ConnectorStatus): void {
  version.textContent = status.version;
  if (lastInstance !== null && lastInstance !== status.instance) notice.textContent = 'The connector service restarted.';
  lastInstance = status.instance;
  readersList.replaceChildren(...status.readers.map(renderReader));
  noReaders.hidden = status.readers.length > 0;
  demoSwitch.checked = status.demoReader;
  appsCount.textContent = String(status.connectedApps);
  appsList.replaceChildren(
    ...status.apps.map((a) => {
      const li = el('li');
      li.textContent = `${a.name || 'Unnamed app'} (${a.id})${a.connections > 1 ? ` · ${a.connections} connections` : ''}`;
      return li;
    }),
  );
  if (!status.usb) {
    addButton.disabled = true;
    addButton.title = 'This browser has no WebUSB: only the demo reader can be used.';
  }
}

function connectToWorker(): void {
  const p = chrome.runtime.connect({ name: PAGE_PORT_NAME });
  port = p;
  linkState.textContent = 'Connected to the service';
  p.onMessage.addListener((message: PageMessage) => {
    if (message.type === 'status') render(message.status);
    else if (message.type === 'done') notice.textContent = message.message;
  });
  p.onDisconnect.addListener(() => {
    void chrome.runtime.lastError;
    if (port === p) port = null;
    linkState.textContent = 'Reconnecting to the service…';
    setTimeout(connectToWorker, 300);
  });
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
      send({ type: 'pick-up-devices' });
    },
    (e: unknown) => {
      const name = e instanceof Error ? e.name : '';
      notice.textContent = name === 'NotFoundError' ? 'No reader was chosen.' : `Could not add a reader: ${String(e)}`;
    },
  );
});

demoSwitch.addEventListener('change', () => {
  send({ type: 'set-demo-reader', on: demoSwitch.checked });
});

connectToWorker();

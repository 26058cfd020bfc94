/// <reference types="chrome" />
/**
 * The permission prompt (a popup window the worker opens with ?id=<client extension id>): names the app (Chrome's name
 * for it when the connector may ask chrome.management, and the name it gave itself, shown as its own claim) and sends
 * the user's Allow or Block to the worker, then closes. Closing it unanswered denies the waiting calls (background.ts).
 */
import { PAGE_PORT_NAME, type PageMessage, type PageRequest, type PromptRequest } from './messages.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const id = new URLSearchParams(location.search).get('id') ?? '';
const box = $<HTMLDivElement>('request');
const state = $<HTMLParagraphElement>('state');
const allow = $<HTMLButtonElement>('allow');
const block = $<HTMLButtonElement>('block');

let port: chrome.runtime.Port | null = null;
let answered = false;
let shown = false;

function show(r: PromptRequest): void {
  const name = r.extensionName ?? (r.claimedName ? `“${r.claimedName}”` : 'An unnamed app');
  $('app-name').textContent = r.extensionName ? r.extensionName : `${name} (name not verified)`;
  $('app-id').textContent = r.id;
  const claimed = r.claimedName && r.claimedName !== r.extensionName ? r.claimedName : '';
  $('claimed-term').hidden = !claimed;
  $('claimed-name').hidden = !claimed;
  $('claimed-name').textContent = claimed;
  document.title = `Allow ${r.extensionName ?? r.claimedName ?? r.id} to use your smart card readers?`;
  box.hidden = false;
  state.textContent = '';
  if (!shown) allow.focus();
  shown = true;
}

function answer(decision: 'allow' | 'block'): void {
  if (!port || answered) return;
  answered = true;
  allow.disabled = true;
  block.disabled = true;
  port.postMessage({ type: 'answer-prompt', id, decision } satisfies PageRequest);
  state.textContent = decision === 'allow' ? 'Allowed.' : 'Blocked.';
}

function connect(): void {
  const p = chrome.runtime.connect({ name: PAGE_PORT_NAME });
  port = p;
  p.onMessage.addListener((m: PageMessage) => {
    if (m.type === 'status') {
      const r = m.status.prompts.find((x) => x.id === id);
      if (r) show(r);
      else if (!answered) {
        // Nobody waits (the app closed its connections, or the worker restarted): no question to answer now. The
        // window stays, and comes back to life if the app asks again.
        box.hidden = true;
        state.textContent = 'This app is no longer waiting for an answer. You can close this window.';
      }
    } else if (m.type === 'done' && m.request === 'answer-prompt') {
      if (m.ok) window.close();
      else state.textContent = `Could not save the answer: ${m.message}`;
    }
  });
  p.onDisconnect.addListener(() => {
    void chrome.runtime.lastError;
    if (port === p) port = null;
    if (!answered) setTimeout(connect, 300);
  });
}

allow.addEventListener('click', () => answer('allow'));
block.addEventListener('click', () => answer('block'));
connect();

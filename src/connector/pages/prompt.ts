/// <reference types="chrome" />
/**
 * The permission prompt (a popup window the worker opens with ?id=<client extension id>): names the app (Chrome's name
 * for it when the connector may ask chrome.management, and the name it gave itself, shown as its own claim) and sends
 * the user's Allow or Block to the worker (its PageService, through comlink: link.ts), then closes. Closing it
 * unanswered denies the waiting calls (background.ts).
 */
import type { PagePush, PromptRequest } from './messages.js';
import { connectService, type ServiceLink } from './link.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const id = new URLSearchParams(location.search).get('id') ?? '';
const box = $<HTMLDivElement>('request');
const state = $<HTMLParagraphElement>('state');
const allow = $<HTMLButtonElement>('allow');
const block = $<HTMLButtonElement>('block');

let link: ServiceLink | null = null;
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
  if (!link || answered) return;
  answered = true;
  allow.disabled = true;
  block.disabled = true;
  state.textContent = decision === 'allow' ? 'Allowed.' : 'Blocked.';
  link.service.answerPrompt(id, decision).then(
    () => window.close(),
    (e: unknown) => {
      // Not saved (the worker restarted meanwhile, say): the user may answer again once the question is back.
      answered = false;
      allow.disabled = false;
      block.disabled = false;
      state.textContent = `Could not save the answer: ${e instanceof Error ? e.message : String(e)}`;
      if (!link) setTimeout(connect, 300);
    },
  );
}

function onPush(m: PagePush): void {
  if (m.type !== 'status') return;
  const r = m.status.prompts.find((x) => x.id === id);
  if (r) show(r);
  else if (!answered) {
    // Nobody waits (the app closed its connections, or the worker restarted): no question to answer now. The
    // window stays, and comes back to life if the app asks again.
    box.hidden = true;
    state.textContent = 'This app is no longer waiting for an answer. You can close this window.';
  }
}

function connect(): void {
  const l = connectService({
    onPush,
    onGone: () => {
      if (link === l) link = null;
      if (!answered) setTimeout(connect, 300);
    },
  });
  link = l;
}

allow.addEventListener('click', () => answer('allow'));
block.addEventListener('click', () => answer('block'));
connect();

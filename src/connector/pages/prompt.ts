/// <reference types="chrome" />
/**
 * The permission prompt (a popup window the worker opens with ?id=<client extension id>): names the app (Chrome's name
 * for it when the connector may ask chrome.management, and the name it gave itself, shown as its own claim) and sends
 * the user's Allow or Block to the worker (its PageService, through comlink: link.ts), then closes.
 */
import type { PagePush, PromptRequest } from './messages.js';
import { connectService, type ServiceLink } from './link.js';
import { nameView } from '../../util/sanitize.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const id = new URLSearchParams(location.search).get('id') ?? '';
const box = $<HTMLDivElement>('request');
const state = $<HTMLParagraphElement>('state');
const allow = $<HTMLButtonElement>('allow');
const block = $<HTMLButtonElement>('block');

let link: ServiceLink | null = null;
let answered = false;
let shown = false;

/**
 * The buttons are inert for ARM_MS after the prompt shows, and again after it regains focus, is resized or moved: a
 * window that pops up under the user's typing (or is brought up by another extension) must not take an Enter or a
 * click meant for something else as an answer. Neither button is the default one, and neither has the focus.
 */
const ARM_MS = 1000;
let armTimer: ReturnType<typeof setTimeout> | undefined;

function disarm(): void {
  if (answered) return;
  allow.disabled = true;
  block.disabled = true;
  $('arming').textContent = 'The buttons turn active in a moment.';
  clearTimeout(armTimer);
  armTimer = setTimeout(() => {
    if (answered) return;
    allow.disabled = false;
    block.disabled = false;
    $('arming').textContent = '';
  }, ARM_MS);
}

function show(r: PromptRequest): void {
  // The extension id is the identity and leads; names are decoration, cleaned (no controls, no bidirectional
  // overrides), shown isolated (<bdi>) and flagged when they mix scripts the way look-alike names do.
  const official = r.extensionName ? nameView(r.extensionName) : null;
  const claimed = nameView(r.claimedName);
  $('app-id').textContent = r.id;
  const main = official ?? claimed;
  $('app-name').textContent = main.text || 'an unnamed app';
  $('name-note').hidden = official !== null;
  $('name-note').textContent = official ? '' : '(not verified)';
  const showClaimed = official !== null && claimed.text !== '' && claimed.text !== official.text;
  $('claimed-term').hidden = !showClaimed;
  $('claimed-row').hidden = !showClaimed;
  $('claimed-name').textContent = showClaimed ? claimed.text : '';
  const flags: string[] = [];
  for (const v of official && showClaimed ? [official, claimed] : [main]) {
    if (v.mixed)
      flags.push(
        `The name “${v.text}” mixes letters of different scripts (${v.mixed.join(', ')}), as look-alike names do.`,
      );
    if (v.removed) flags.push('Hidden or control characters were removed from a name.');
  }
  if (flags.length) flags.push('Go by the extension id, not the name.');
  $('name-flags').hidden = flags.length === 0;
  $('name-flags').textContent = flags.join(' ');
  document.title = `Allow ${r.id} to use your smart card readers?`;
  box.hidden = false;
  state.textContent = '';
  if (!shown) {
    // The focus goes to the heading, not to a button: Enter or Space answers nothing.
    $('heading').focus();
    disarm();
  }
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
      disarm();
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
// Regaining the focus after losing it, a resize, a move: inert again for a moment.
let blurred = false;
window.addEventListener('blur', () => (blurred = true));
window.addEventListener('focus', () => {
  if (blurred && shown) disarm();
  blurred = false;
});
window.addEventListener('resize', () => shown && disarm());
let where = `${window.screenX},${window.screenY}`;
setInterval(() => {
  const now = `${window.screenX},${window.screenY}`;
  if (now !== where && shown) disarm();
  where = now;
}, 200);
connect();

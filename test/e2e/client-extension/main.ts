/// <reference types="chrome" />
/**
 * The end-to-end tests' third extension: exposes the client library (`window.lib`) and raw chrome.runtime ports to the
 * connector (`window.raw`) so that tests can drive both through `page.evaluate`.
 */
import * as lib from '../../../client-lib/src/index.js';

interface RawPort {
  port: chrome.runtime.Port;
  received: unknown[];
  disconnected: boolean;
  error: string | null;
}

const ports = new Map<number, RawPort>();
let next = 1;

const raw = {
  open(connectorId: string, name = 'e2e raw'): number {
    const id = next++;
    const port = chrome.runtime.connect(connectorId, { name });
    const rec: RawPort = { port, received: [], disconnected: false, error: null };
    port.onMessage.addListener((m: unknown) => rec.received.push(m));
    port.onDisconnect.addListener(() => {
      rec.disconnected = true;
      rec.error = chrome.runtime.lastError?.message ?? null;
    });
    ports.set(id, rec);
    return id;
  },
  /** Posts a message; false (with the error) when Chrome refuses it or the port is gone. */
  post(id: number, message: unknown): { ok: boolean; error?: string } {
    try {
      ports.get(id)!.port.postMessage(message);
      return { ok: true };
    } catch (e) {
      return { ok: false, error: String(e) };
    }
  },
  state(id: number): { received: unknown[]; disconnected: boolean; error: string | null } {
    const r = ports.get(id)!;
    return { received: r.received, disconnected: r.disconnected, error: r.error };
  },
  close(id: number): void {
    ports.get(id)?.port.disconnect();
  },
};

/** Runs a client-library call and reports the outcome as JSON: the value, or the error's PC/SC name and message. */
async function attempt(
  f: () => Promise<unknown>,
): Promise<{ ok: true; value: unknown } | { ok: false; name: string; message: string }> {
  try {
    return { ok: true, value: toJson(await f()) };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return {
      ok: false,
      name: typeof code === 'number' ? lib.pcscErrorName(code) : String((e as Error).name),
      message: String((e as Error).message),
    };
  }
}

function toJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return [...v].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}

Object.assign(globalThis, { lib, raw, attempt });
document.getElementById('ready')!.textContent = 'ready';

/**
 * The browser's end of a native messaging link, for tests: spawns the built host (or a launcher) with pipes, writes
 * Chrome's frames to its stdin, reads frames from its stdout (which must carry nothing else) and keeps its stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { FrameDecoder, encodeFrame } from '../../../src/host/native/framing.js';
import { MAX_NATIVE_MESSAGE_TO_HOST } from '../../../src/protocol/native.js';

export { ROOT, buildHost } from '../support/host-process.js';

export interface Received {
  v: number;
  kind: string;
  id?: number;
  [k: string]: unknown;
}

export class NativeLink {
  readonly child: ChildProcess;
  readonly messages: Received[] = [];
  stderr = '';
  /** Set when stdout carried something that is not a frame. */
  stdoutError: string | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #nextId = 1;
  readonly #waiters: { match: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];

  constructor(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    const decoder = new FrameDecoder(MAX_NATIVE_MESSAGE_TO_HOST);
    this.child.stdout!.on('data', (chunk: Buffer) => {
      try {
        for (const m of decoder.push(chunk)) this.#received(m as Received);
      } catch (e) {
        this.stdoutError = String(e);
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  #received(m: Received): void {
    this.messages.push(m);
    const i = this.#waiters.findIndex((w) => w.match(m));
    if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(m);
  }

  /** The next message matching `match` (already received ones first). */
  next(match: (m: Received) => boolean, what = 'a message', ms = 15_000): Promise<Received> {
    const had = this.messages.find(match);
    if (had) {
      this.messages.splice(this.messages.indexOf(had), 1);
      return Promise.resolve(had);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} in ${ms} ms; stderr:\n${this.stderr}`)), ms);
      this.#waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          this.messages.splice(this.messages.indexOf(m), 1);
          resolve(m);
        },
      });
    });
  }

  writeRaw(bytes: Uint8Array): void {
    this.child.stdin!.write(bytes);
  }

  send(message: unknown): void {
    this.writeRaw(encodeFrame(JSON.stringify(message), MAX_NATIVE_MESSAGE_TO_HOST));
  }

  /** Sends a request (its id filled in) and resolves with the answer of that id. */
  request(message: Record<string, unknown>): Promise<Received> {
    const id = this.#nextId++;
    const answer = this.next((m) => m.id === id && m.kind !== 'event', `answer to ${String(message.kind)} ${id}`);
    this.send({ v: 1, ...message, id });
    return answer;
  }

  hello(backend: string): Promise<Received> {
    return this.request({ kind: 'hello', backend });
  }

  /** A call; resolves with the result message (ok or not). */
  call(fn: string, ...args: unknown[]): Promise<Received> {
    return this.request({ kind: 'call', fn, args });
  }

  /** A call that must succeed: its value. */
  async ok(fn: string, ...args: unknown[]): Promise<Record<string, unknown>> {
    const r = await this.call(fn, ...args);
    if (r.ok !== true) throw new Error(`${fn} failed: ${String(r.name)} ${String(r.message)}`);
    return r.value as Record<string, unknown>;
  }

  /** Closes stdin (Chrome's port.disconnect) and resolves with the exit. */
  async end(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.stdin!.end();
    return this.exited;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

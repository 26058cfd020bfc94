/**
 * The transport both ends of the protocol talk over: anything shaped like `chrome.runtime.Port`, and an in-memory pair
 * that behaves as Chrome's does (for tests and trusted in-process links).
 *
 * Chrome facts the pair reproduces (docs: shared/reference/chrome-platform.md):
 * - messages are JSON-serialised: `JSON.parse(JSON.stringify(msg))` on the way (a Uint8Array arrives as {"0":1,…},
 *   undefined fields vanish, NaN becomes null); a value JSON cannot carry makes `postMessage` throw;
 * - delivery is asynchronous and in order;
 * - `disconnect()` fires `onDisconnect` on the *other* end only; posting on a disconnected port throws.
 */

export type Listener<A extends unknown[]> = (...args: A) => void;

export interface PortEvent<A extends unknown[]> {
  addListener(listener: Listener<A>): void;
  removeListener(listener: Listener<A>): void;
}

/** The part of `chrome.runtime.Port` the protocol uses. A real `chrome.runtime.Port` is a PortLike. */
export interface PortLike {
  /** The name the connecting side chose (chrome.runtime.connect's `name`; a client's title). May be absent or ''. */
  readonly name?: string;
  postMessage(message: unknown): void;
  disconnect(): void;
  readonly onMessage: PortEvent<[message: unknown, port: PortLike]>;
  readonly onDisconnect: PortEvent<[port: PortLike]>;
}

class SimpleEvent<A extends unknown[]> implements PortEvent<A> {
  private readonly listeners: Listener<A>[] = [];
  addListener(listener: Listener<A>): void {
    if (!this.listeners.includes(listener)) this.listeners.push(listener);
  }
  removeListener(listener: Listener<A>): void {
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
  }
  /** Calls every listener; one that throws does not stop the others (Chrome reports it and goes on). */
  dispatch(...args: A): void {
    for (const l of [...this.listeners]) {
      try {
        l(...args);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
  get size(): number {
    return this.listeners.length;
  }
}

export interface PortPairOptions {
  /** 'json' (default): every message goes through JSON.parse(JSON.stringify(…)) as in Chrome. 'none': passed as is. */
  serialize?: 'json' | 'none';
  /** When messages arrive: 'microtask' (default) or 'macrotask' (setTimeout 0). Always asynchronous and ordered. */
  delivery?: 'microtask' | 'macrotask';
}

class MemoryPort implements PortLike {
  readonly onMessage = new SimpleEvent<[unknown, PortLike]>();
  readonly onDisconnect = new SimpleEvent<[PortLike]>();
  peer!: MemoryPort;
  connected = true;
  /** Messages this end has posted and the peer has not yet received. */
  inFlight = 0;

  constructor(
    readonly name: string,
    private readonly options: Required<PortPairOptions>,
  ) {}

  postMessage(message: unknown): void {
    if (!this.connected) throw new Error('Attempting to use a disconnected port object');
    const copy = this.options.serialize === 'json' ? roundTrip(message) : message;
    this.inFlight++;
    this.schedule(() => {
      this.inFlight--;
      if (this.peer.connected) this.peer.onMessage.dispatch(copy, this.peer);
    });
  }

  disconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    const peer = this.peer;
    // Messages already posted by this end are delivered first (the queue is ordered), then the peer learns.
    this.schedule(() => {
      if (!peer.connected) return;
      peer.connected = false;
      peer.onDisconnect.dispatch(peer);
    });
  }

  private schedule(task: () => void): void {
    if (this.options.delivery === 'macrotask') setTimeout(task, 0);
    else queueMicrotask(task);
  }
}

/** JSON round trip as Chrome does it; `undefined` (a message JSON cannot represent at all) is refused like Chrome. */
function roundTrip(message: unknown): unknown {
  const text = JSON.stringify(message);
  if (text === undefined) throw new TypeError('Could not serialize message.');
  return JSON.parse(text) as unknown;
}

/** Two connected in-memory ports: `[a, b]`; what `a` posts arrives on `b` and the other way round. */
export function createPortPair(name = '', options: PortPairOptions = {}): [PortLike, PortLike] {
  const opts: Required<PortPairOptions> = {
    serialize: options.serialize ?? 'json',
    delivery: options.delivery ?? 'microtask',
  };
  const a = new MemoryPort(name, opts);
  const b = new MemoryPort(name, opts);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

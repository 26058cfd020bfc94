/**
 * comlink over a `chrome.runtime.Port`: the trusted link between the connector's own pages (its window, the permission
 * prompt) and its worker. Untrusted clients never get this link: they speak the validated protocol (router.ts).
 *
 * One port carries two kinds of message, each in its own envelope:
 * - `{ link: <comlink message> }`: calls from the page to the worker's service object and their answers;
 * - `{ push: <event> }`: what the worker pushes to the page on its own (status after every change, log entries).
 *
 * Why pushes are not comlink callbacks: `Comlink.proxy` hands the other side a MessagePort, and a chrome.runtime port
 * carries JSON only (no transferables, no MessagePorts; shared/reference/chrome-platform.md). A push on the same port
 * also lives exactly as long as the link: when the page goes, the worker has no subscription left to clean up.
 *
 * Two gaps of comlink that this file closes:
 * - a call pending when the port drops would never settle (comlink waits for an answer forever): the endpoint answers
 *   each one itself with an error when the port disconnects or a post fails;
 * - `expose()` lets the caller read any property, overwrite methods and walk up `constructor` (comlink's GET, SET,
 *   CONSTRUCT and paths): `exposeOnPort` serves only calls of the service object's own methods, with plain arguments.
 *
 * Platform-free (a PortLike is enough), so both ends run in Node tests with createPortPair.
 */
import { expose, wrap, type Endpoint, type Remote } from 'comlink';
import type { PortLike } from '../protocol/port.js';

/** The part of a port this link uses (a chrome.runtime.Port fits, and so does port.ts's PortLike). */
export type LinkPort = Pick<PortLike, 'postMessage' | 'onMessage' | 'onDisconnect'>;

/** comlink's request kinds (comlink/dist/esm/protocol.d.ts MessageType): a message of these expects an answer. */
const REQUEST_TYPES = new Set(['GET', 'SET', 'APPLY', 'CONSTRUCT', 'ENDPOINT', 'RELEASE']);

export type Listener = (event: { data: unknown }) => void;
export type ListenerArg = Listener | { handleEvent: Listener };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * An answer carrying a thrown Error, in comlink's wire format (a HANDLER value named "throw", protocol.d.ts): the
 * caller sees the promise of its call reject with an Error of this message.
 */
export function thrownAnswer(id: string, message: string): Record<string, unknown> {
  return { id, type: 'HANDLER', name: 'throw', value: { isError: true, value: { name: 'Error', message } } };
}

/**
 * comlink's Endpoint as this file implements it. comlink types its listeners with the DOM's Event, but reads only
 * `event.data` (and `event.origin` when expose() is given allowed origins, which is not done here): the synthetic
 * `{ data }` events below are enough, and the cast to Endpoint happens once, where comlink is called.
 */
export interface LinkEndpoint {
  postMessage(message: unknown): void;
  addEventListener(type: string, listener: ListenerArg): void;
  removeEventListener(type: string, listener: ListenerArg): void;
}

export interface PortEndpoint extends LinkEndpoint {
  /** Settles every pending call with an error; later posts fail the same way (the port is gone). */
  close(reason?: string): void;
  /** Calls this end made that have not been answered yet. */
  readonly pending: number;
}

/**
 * A comlink Endpoint over a port. Messages outside the `link` envelope (pushes, anything else) are ignored here.
 * `gone`: the message pending calls fail with when the port disconnects.
 */
export function portEndpoint(port: LinkPort, gone = 'the connector service went away; try again'): PortEndpoint {
  const listeners = new Map<ListenerArg, (message: unknown) => void>();
  /** Ids of requests this end posted, not yet answered. */
  const pending = new Set<string>();
  let closed: string | null = null;
  const deliver = (data: unknown) => {
    for (const l of [...listeners.keys()]) {
      if (typeof l === 'function') l({ data });
      else l.handleEvent({ data });
    }
  };
  // Answers a request locally, asynchronously as a real answer would come (comlink registers its resolver first).
  const fail = (id: string, message: string) => {
    queueMicrotask(() => {
      if (pending.delete(id)) deliver(thrownAnswer(id, message));
    });
  };
  const endpoint: PortEndpoint = {
    postMessage(message: unknown) {
      const id = isRecord(message) && typeof message['id'] === 'string' ? message['id'] : null;
      const request = id !== null && isRecord(message) && REQUEST_TYPES.has(message['type'] as string);
      if (request) pending.add(id);
      if (closed !== null) {
        if (request) fail(id, closed);
        return;
      }
      try {
        port.postMessage({ link: message });
      } catch (e) {
        // Chrome throws on a disconnected port, and on a value JSON cannot carry: the call fails, the page goes on.
        if (request) fail(id, `could not reach the connector service (${e instanceof Error ? e.message : String(e)})`);
      }
    },
    addEventListener(type: string, listener: ListenerArg) {
      if (type !== 'message' || listeners.has(listener)) return;
      const onMessage = (message: unknown) => {
        if (!isRecord(message) || !isRecord(message['link'])) return;
        const data = message['link'];
        if (typeof data['id'] === 'string' && !REQUEST_TYPES.has(data['type'] as string)) pending.delete(data['id']);
        if (typeof listener === 'function') listener({ data });
        else listener.handleEvent({ data });
      };
      listeners.set(listener, onMessage);
      port.onMessage.addListener(onMessage);
    },
    removeEventListener(type: string, listener: ListenerArg) {
      const onMessage = listeners.get(listener);
      if (type !== 'message' || !onMessage) return;
      listeners.delete(listener);
      port.onMessage.removeListener(onMessage);
    },
    close(reason = gone) {
      if (closed !== null) return;
      closed = reason;
      for (const id of pending) fail(id, reason);
    },
    get pending() {
      return pending.size;
    },
  };
  port.onDisconnect.addListener(() => endpoint.close());
  return endpoint;
}

/** The page's end: a typed proxy of the worker's service object. Its calls reject once the port is gone. */
export function wrapPort<T>(port: LinkPort, gone?: string): { remote: Remote<T>; endpoint: PortEndpoint } {
  const endpoint = portEndpoint(port, gone);
  return { remote: wrap<T>(endpoint as unknown as Endpoint), endpoint };
}

/**
 * The worker's end: serves `service`'s own methods (and nothing else: no property reads or writes, no paths, no
 * constructors) to the page on `port`. Arguments and results must survive JSON (chrome.runtime ports).
 */
export function exposeOnPort(service: object, port: LinkPort): void {
  const endpoint = portEndpoint(port);
  const callable = (name: unknown) =>
    typeof name === 'string' &&
    Object.prototype.hasOwnProperty.call(service, name) &&
    typeof (service as Record<string, unknown>)[name] === 'function';
  // comlink's expose() listens through this filter: allowed requests pass, the others are answered with an error here.
  const guarded: LinkEndpoint = {
    postMessage: (m: unknown) => endpoint.postMessage(m),
    addEventListener(type: string, listener: ListenerArg) {
      endpoint.addEventListener(type, filtered(listener));
    },
    removeEventListener(type: string, listener: ListenerArg) {
      endpoint.removeEventListener(type, filtered(listener));
    },
  };
  const wrapped = new Map<ListenerArg, Listener>();
  function filtered(listener: ListenerArg): Listener {
    let f = wrapped.get(listener);
    if (!f) {
      f = (event) => {
        const data = event.data;
        if (!isRecord(data) || typeof data['id'] !== 'string') return;
        const path = data['path'];
        const ok =
          data['type'] === 'RELEASE' ||
          (data['type'] === 'APPLY' &&
            Array.isArray(path) &&
            path.length === 1 &&
            callable(path[0]) &&
            plainArguments(data['argumentList']));
        if (!ok) {
          const why = `the connector service only answers calls of its methods (got ${describeRequest(data)})`;
          endpoint.postMessage(thrownAnswer(data['id'], why));
          return;
        }
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      };
      wrapped.set(listener, f);
    }
    return f;
  }
  expose(service, guarded as unknown as Endpoint);
}

/**
 * Arguments passed as plain values only: comlink's other wire values (HANDLER "proxy" and "throw") would make expose()
 * open a MessagePort or throw before it answers, and the caller would wait forever.
 */
function plainArguments(list: unknown): boolean {
  return Array.isArray(list) && list.every((a) => isRecord(a) && a['type'] === 'RAW');
}

/** "GET of a path of 2 names": what was refused, without echoing the names sent. */
function describeRequest(data: Record<string, unknown>): string {
  const known = typeof data['type'] === 'string' && REQUEST_TYPES.has(data['type']);
  const type = known ? (data['type'] as string) : 'an unknown request';
  const path = Array.isArray(data['path']) ? `a path of ${data['path'].length} name(s)` : 'no path';
  return `${type} of ${path}`;
}

/** Sends a push (outside comlink) to the other end. Throws as postMessage does on a port that is gone. */
export function pushOnPort(port: LinkPort, event: unknown): void {
  port.postMessage({ push: event });
}

/** Listens to pushes on a port. */
export function onPush<E>(port: LinkPort, listener: (event: E) => void): void {
  port.onMessage.addListener((message: unknown) => {
    if (isRecord(message) && 'push' in message) listener(message['push'] as E);
  });
}

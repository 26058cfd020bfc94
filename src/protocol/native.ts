/**
 * The link between the connector and `smart-card-host` over Chrome's native messaging (docs/protocol.md, "Native
 * messaging"). Chrome frames each message as a 4-byte length in the machine's byte order, then UTF-8 JSON; the host may
 * send at most 1 MiB per message (one byte more and Chrome drops the port), the browser up to 64 MiB.
 *
 * Inside the frames travels protocol version 1 unchanged, with the connector as the client (`call`, `ping`,
 * `subscribe`… → `result`, `pong`, `event`, `error`), plus one exchange of the link's own, `hello`: the connector's
 * first message, which picks the backend the host serves and is answered with the host's version and the state of each
 * backend. A later `hello` switches backends; everything the connector held on the previous one is released first, as
 * when a client of pcscd goes away.
 */
import { PROTOCOL_VERSION } from './messages.js';
import { Invalid, at, checkObject, fail, guard, requestId, str } from './check.js';

/** The host's name in Chrome's manifest lookup: lowercase letters, digits, `_` and dots only (Chrome's rule). */
export const NATIVE_HOST_NAME = 'org.smart_card_connector.host';
/** Largest message Chrome accepts from a native host (bytes of JSON, without the 4-byte length). */
export const MAX_NATIVE_MESSAGE_TO_BROWSER = 1024 * 1024;
/** Largest message Chrome sends to a native host. */
export const MAX_NATIVE_MESSAGE_TO_HOST = 64 * 1024 * 1024;

/** What the connector asks for: the operating system's PC/SC service, the host's own stack, or the system's if it runs. */
export type HostBackendChoice = 'auto' | 'system' | 'own';
export const HOST_BACKEND_CHOICES: readonly HostBackendChoice[] = ['auto', 'system', 'own'];
/** What the host serves: `system` (pcsc-lite, PCSC.framework or winscard.dll) or `own` (our daemon on node-usb). */
export type HostBackend = 'system' | 'own';

/** One backend as the host sees it. `detail` is for people: why it is unavailable, or what it is ("pcsc-lite 1.9.9"). */
export interface HostBackendState {
  available: boolean;
  detail: string;
}

/** Connector → host: the first message of every link, and whenever the user picks another backend. */
export interface HelloMessage {
  v: 1;
  kind: 'hello';
  id: number;
  backend: HostBackendChoice;
}

/**
 * Host → connector: the answer to `hello`. `backend` is what now serves calls, `null` when the chosen one is not
 * available (calls then fail with SCARD_E_NO_SERVICE until a `hello` picks one that is). `protocol` is the version of
 * the messages inside the frames; `version` the host's package version, shown to people.
 */
export interface HelloReplyMessage {
  v: 1;
  kind: 'hello';
  id: number;
  protocol: number;
  version: string;
  platform: string;
  backend: HostBackend | null;
  system: HostBackendState;
  own: HostBackendState;
}

export function encodeHello(id: number, backend: HostBackendChoice): HelloMessage {
  return { v: PROTOCOL_VERSION, kind: 'hello', id, backend };
}

export function encodeHelloReply(reply: Omit<HelloReplyMessage, 'v' | 'kind' | 'protocol'>): HelloReplyMessage {
  return { v: PROTOCOL_VERSION, kind: 'hello', protocol: PROTOCOL_VERSION, ...reply };
}

/** Whether a received message is a `hello` (of either direction); anything else is protocol v1 proper. */
export function isHello(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { kind?: unknown }).kind === 'hello';
}

function version(v: Record<string, unknown>, path: string): void {
  if (v.v !== PROTOCOL_VERSION) fail(at(path, 'v'), `${PROTOCOL_VERSION}`, v.v);
}

function choice(v: unknown, path: string): HostBackendChoice {
  if (typeof v === 'string' && (HOST_BACKEND_CHOICES as readonly string[]).includes(v)) return v as HostBackendChoice;
  return fail(path, `one of ${HOST_BACKEND_CHOICES.join(', ')}`, v);
}

function backendState(v: unknown, path: string): HostBackendState {
  const o = checkObject(v, path, ['available', 'detail']);
  if (typeof o.available !== 'boolean') fail(at(path, 'available'), 'a boolean', o.available);
  return { available: o.available, detail: str(o.detail, at(path, 'detail'), 1024) };
}

/** Checks a `hello` from the connector (throws ProtocolError, with the id when readable). */
export function decodeHello(raw: unknown): HelloMessage {
  return guard(undefined, () => {
    const o = checkObject(raw, 'message', ['v', 'kind', 'id', 'backend']);
    const id = requestId(o.id, 'message.id');
    return guard(id, () => {
      version(o, 'message');
      if (o.kind !== 'hello') fail('message.kind', '"hello"', o.kind);
      return encodeHello(id, choice(o.backend, 'message.backend'));
    });
  });
}

/**
 * Checks the host's answer to `hello`. A `protocol` other than ours is not an error here: the caller compares it and
 * tells the user which side to update.
 */
export function decodeHelloReply(raw: unknown): HelloReplyMessage {
  return guard(undefined, () => {
    const o = checkObject(raw, 'message', [
      'v',
      'kind',
      'id',
      'protocol',
      'version',
      'platform',
      'backend',
      'system',
      'own',
    ]);
    const id = requestId(o.id, 'message.id');
    return guard(id, () => {
      version(o, 'message');
      if (o.kind !== 'hello') fail('message.kind', '"hello"', o.kind);
      if (typeof o.protocol !== 'number' || !Number.isInteger(o.protocol) || o.protocol < 1) {
        fail('message.protocol', 'a positive integer', o.protocol);
      }
      const backend = o.backend;
      if (backend !== null && backend !== 'system' && backend !== 'own') {
        throw new Invalid('message.backend: expected "system", "own" or null');
      }
      return {
        v: PROTOCOL_VERSION,
        kind: 'hello',
        id,
        protocol: o.protocol,
        version: str(o.version, 'message.version', 64),
        platform: str(o.platform, 'message.platform', 64),
        backend,
        system: backendState(o.system, 'message.system'),
        own: backendState(o.own, 'message.own'),
      };
    });
  });
}

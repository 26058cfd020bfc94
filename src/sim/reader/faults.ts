/**
 * Deterministic fault injection for the simulated reader. A fault is planned with a target and fires once, when its
 * target comes up; the same plan on the same traffic always fires the same way, so a failing run can be replayed.
 *
 * Targets: the next bulk-IN response (default), the response to a given PC_to_RDR message type, or the response to the
 * Nth bulk-OUT command from the moment the fault is planned. 'stall' instead arms an endpoint: its next transfer
 * resolves with status 'stall' until clearHalt. 'mute' and 'hardware-error' act at once.
 */
export type FaultTarget =
  { on: 'next-response' } | { on: 'message-type'; messageType: number } | { on: 'nth-command'; n: number };

export type EndpointName = 'bulk-out' | 'bulk-in' | 'interrupt-in';

export type FaultSpec =
  | { kind: 'drop'; target?: FaultTarget }
  | { kind: 'duplicate'; target?: FaultTarget }
  | { kind: 'truncate'; bytes: number; target?: FaultTarget }
  /** Flips (XOR `mask`, default 0xFF) the byte at `offset` of the header (default 0) or of the payload (default 0). */
  | { kind: 'garble'; where: 'header' | 'payload'; offset?: number; mask?: number; target?: FaultTarget }
  /** bSeq replaced by `seq` (default: bSeq + 1). */
  | { kind: 'wrong-seq'; seq?: number; target?: FaultTarget }
  /** An extra copy of the response with an older bSeq (default bSeq − 1) goes first. */
  | { kind: 'stale'; seq?: number; target?: FaultTarget }
  | { kind: 'stall'; endpoint: EndpointName }
  /** `count` extra time-extension responses (bStatus 0x80, bError = `multiplier`, default 1) go first. */
  | { kind: 'time-extension'; count: number; multiplier?: number; target?: FaultTarget }
  | { kind: 'zlp'; target?: FaultTarget }
  /** The card in `slot` (default 0) stops answering until it is removed or `unmute` is called. */
  | { kind: 'mute'; slot?: number }
  /** RDR_to_PC_HardwareError on interrupt-IN for `slot` (default 0) with bHardwareErrorCode `code` (default 0x01). */
  | { kind: 'hardware-error'; slot?: number; code?: number };

export type ResponseFaultSpec = Extract<FaultSpec, { target?: FaultTarget }>;

export interface FiredFault {
  spec: FaultSpec;
  /** Bulk-OUT command count at the moment it fired (1 = the first command the device ever got). */
  commandIndex: number;
  messageType: number | null;
}

interface Planned {
  spec: ResponseFaultSpec;
  /** For nth-command: the command count at which it fires. */
  fireAt: number | null;
}

const NONE_FIRED: readonly ResponseFaultSpec[] = Object.freeze([]);

export class FaultPlan {
  private planned: Planned[] = [];
  readonly log: FiredFault[] = [];
  private commands = 0;

  /** How many faults have fired so far. */
  get injected(): number {
    return this.log.length;
  }

  /** Faults planned and not fired yet. */
  get pending(): readonly FaultSpec[] {
    return this.planned.map((p) => p.spec);
  }

  clear(): void {
    this.planned = [];
  }

  /** @internal */
  plan(spec: ResponseFaultSpec): void {
    const t = spec.target;
    this.planned.push({ spec, fireAt: t?.on === 'nth-command' ? this.commands + Math.max(1, t.n) : null });
  }

  /** @internal A bulk-OUT command arrived. */
  countCommand(): number {
    return ++this.commands;
  }

  /** @internal Records a fault that acted at once (stall, mute, hardware-error). */
  record(spec: FaultSpec, messageType: number | null = null): void {
    this.log.push({ spec, commandIndex: this.commands, messageType });
  }

  /** @internal The faults that fire on the response to this command (removed from the plan, logged). */
  take(commandIndex: number, messageType: number): readonly ResponseFaultSpec[] {
    // Nothing planned (every response but a test's few): one shared empty list, no array made per response.
    if (this.planned.length === 0) return NONE_FIRED;
    const fired: ResponseFaultSpec[] = [];
    this.planned = this.planned.filter((p) => {
      const t = p.spec.target ?? { on: 'next-response' };
      const hit =
        t.on === 'next-response' ||
        (t.on === 'message-type' && t.messageType === messageType) ||
        (t.on === 'nth-command' && p.fireAt === commandIndex);
      if (hit) {
        fired.push(p.spec);
        this.log.push({ spec: p.spec, commandIndex, messageType });
      }
      return !hit;
    });
    return fired;
  }
}

/**
 * Applies response faults to one response and returns the packets to queue on bulk-IN, in order. `previous` is the
 * last response sent before this one (used by 'stale').
 */
export function applyResponseFaults(
  response: Uint8Array,
  faults: readonly ResponseFaultSpec[],
  timeExtension: (multiplier: number) => Uint8Array,
  previous: Uint8Array | null,
): Uint8Array[] {
  let body: Uint8Array = response;
  const before: Uint8Array[] = [];
  let copies = 1;
  for (const f of faults) {
    switch (f.kind) {
      case 'drop':
        copies = 0;
        break;
      case 'duplicate':
        copies = Math.max(copies, 1) + 1;
        break;
      case 'truncate':
        body = body.subarray(0, Math.max(0, Math.min(body.length, f.bytes)));
        break;
      case 'garble': {
        body = body.slice();
        const at = f.where === 'header' ? (f.offset ?? 0) : 10 + (f.offset ?? 0);
        // An empty payload has nothing to garble: the last header byte takes the hit instead.
        const index = at < body.length ? at : body.length - 1;
        if (index >= 0) body[index] = body[index]! ^ (f.mask ?? 0xff);
        break;
      }
      case 'wrong-seq':
        if (body.length > 6) {
          body = body.slice();
          body[6] = (f.seq ?? body[6]! + 1) & 0xff;
        }
        break;
      case 'stale': {
        let old: Uint8Array;
        if (f.seq === undefined && previous !== null) old = previous;
        else {
          old = response.slice();
          if (old.length > 6) old[6] = (f.seq ?? response[6]! - 1) & 0xff;
        }
        before.push(old);
        break;
      }
      case 'time-extension':
        for (let k = 0; k < f.count; k++) before.push(timeExtension(f.multiplier ?? 1));
        break;
      case 'zlp':
        before.push(new Uint8Array(0));
        break;
    }
  }
  const out = before;
  for (let k = 0; k < copies; k++) out.push(body);
  return out;
}

/**
 * An IN endpoint's queue: packets the device has ready, and transferIn calls waiting for one. WebUSB transfers have no
 * timeout, so a transferIn waits until a packet comes, the endpoint is halted, or the device goes away.
 */
export interface InResult {
  status: USBTransferStatus;
  data: DataView;
}

interface Waiter {
  length: number;
  resolve: (r: InResult) => void;
  reject: (e: unknown) => void;
}

export function inResult(packet: Uint8Array, length: number): InResult {
  // A packet longer than the host asked for overflows its buffer: 'babble', with what fitted (USB 2.0 §8.4.5).
  if (packet.length > length) {
    return { status: 'babble', data: new DataView(packet.buffer, packet.byteOffset, length) };
  }
  return { status: 'ok', data: new DataView(packet.buffer, packet.byteOffset, packet.length) };
}

export class InEndpoint {
  private readonly packets: Uint8Array[] = [];
  private readonly waiters: Waiter[] = [];

  get waiting(): number {
    return this.waiters.length;
  }

  get queued(): number {
    return this.packets.length;
  }

  /** The last packet still waiting to be read (for coalescing slot-change notifications). */
  lastQueued(): Uint8Array | undefined {
    return this.packets[this.packets.length - 1];
  }

  replaceLast(packet: Uint8Array): void {
    this.packets[this.packets.length - 1] = packet;
  }

  push(packet: Uint8Array): void {
    const w = this.waiters.shift();
    if (w !== undefined) w.resolve(inResult(packet, w.length));
    else this.packets.push(packet);
  }

  take(length: number): Promise<InResult> {
    const p = this.packets.shift();
    if (p !== undefined) return Promise.resolve(inResult(p, length));
    return new Promise((resolve, reject) => this.waiters.push({ length, resolve, reject }));
  }

  /** Fails every waiting transfer (unplug, close, reset). */
  rejectAll(error: () => unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(error());
  }

  /** Resolves every waiting transfer with 'stall' (the endpoint halted). */
  stallAll(): void {
    for (const w of this.waiters.splice(0)) w.resolve({ status: 'stall', data: new DataView(new ArrayBuffer(0)) });
  }

  clear(): void {
    this.packets.length = 0;
  }
}

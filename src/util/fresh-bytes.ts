/**
 * New zero-filled byte arrays for per-message buffers (CCID messages and T=1 blocks, in the driver and in the
 * simulator), carved from shared slabs instead of allocated one by one.
 *
 * Why: a `new Uint8Array(n)` of more than 64 bytes gets its own off-heap ArrayBuffer in V8 (an allocation, a backing
 * store to track and later sweep), and a smaller one, kept on the JavaScript heap, has to be moved out of it the first
 * time its `.buffer` is taken (a DataView for a WebUSB transfer result needs it). A 65,000-byte ECHO through T=1
 * chaining made about 1,500 such arrays on the simulator's side and 1,000 on the driver's; their allocation and
 * collection were the largest single cost of its profile (bench/README.md).
 *
 * What the caller gets is the same as with `new Uint8Array(n)`: n zero bytes nobody else sees or writes. A slab is
 * never reused: its unused tail is handed out, and a fresh slab replaces it when it is full; the old one is freed by
 * the garbage collector once every array carved from it is gone. Only `.buffer` differs: it is the whole slab, so
 * code must use `byteOffset` and `byteLength` with it (as it must with any view, and as WebUSB callers do).
 */

const SLAB_BYTES = 64 * 1024;
/** Larger arrays are allocated on their own: a few per message at most, and a slab would hold only a few of them. */
const LARGEST_POOLED = 4 * 1024;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** n zero bytes, like `new Uint8Array(n)`. */
export function freshBytes(n: number): Uint8Array {
  if (n > LARGEST_POOLED) return new Uint8Array(n);
  if (used + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const out = new Uint8Array(slab, used, n);
  used += n;
  return out;
}

/** A copy of bytes[start, end), like `bytes.slice(start, end)`. */
export function copyOfBytes(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  const n = Math.max(0, Math.min(end, bytes.length) - start);
  const out = freshBytes(n);
  if (n > 64) {
    // The whole array is copied as it is, without a view of it made for the copy.
    out.set(start === 0 && n === bytes.length ? bytes : bytes.subarray(start, end));
  } else {
    // Short: copied byte by byte, so that an array still kept on the heap is not moved out of it by `subarray`.
    for (let i = 0; i < n; i++) out[i] = bytes[start + i]!;
  }
  return out;
}

#!/usr/bin/env node
/**
 * The benchmark's bare native-messaging host (bench/host-link.ts): Chrome's framing (a 4-byte length in the machine's
 * byte order, then UTF-8 JSON) and nothing else. It answers each protocol `call` with a `result` shaped like the one
 * smart-card-host sends for an 8-byte GET CHALLENGE, so that the hops measured through it carry messages of the real
 * size; any other message comes back as it was. It does no PC/SC work at all: the time it adds to a round trip is
 * the cost of native messaging itself (Chrome's pipe to a child process, JSON both ways).
 */
import { endianness } from 'node:os';

const LE = endianness() === 'LE';
let pending = Buffer.alloc(0);

function send(message) {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const head = Buffer.alloc(4);
  if (LE) head.writeUInt32LE(body.length);
  else head.writeUInt32BE(body.length);
  process.stdout.write(Buffer.concat([head, body]));
}

function answer(message) {
  if (message && message.kind === 'call') {
    return {
      v: 1,
      kind: 'result',
      id: message.id,
      ok: true,
      value: { recvPci: { dwProtocol: 2 }, recvBuffer: '0123456789abcdef9000' },
    };
  }
  return message;
}

process.stdin.on('data', (chunk) => {
  pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
  while (pending.length >= 4) {
    const length = LE ? pending.readUInt32LE(0) : pending.readUInt32BE(0);
    if (pending.length < 4 + length) break;
    const body = pending.subarray(4, 4 + length).toString('utf8');
    pending = pending.subarray(4 + length);
    send(answer(JSON.parse(body)));
  }
});
// Chrome closes stdin when the port is disconnected: the host's cue to go.
process.stdin.on('end', () => process.exit(0));

/**
 * The floor under any Node front end of pcscd's socket: a bare `node:net` Unix-socket server that answers libpcsclite
 * with the same bytes our host would — VERSION, ESTABLISH_CONTEXT, GET_READERS_STATE (one reader), CONNECT,
 * DISCONNECT and RELEASE_CONTEXT canned, TRANSMIT answered like bench/memcard.ts (8 bytes + 90 00 for GET CHALLENGE,
 * the data + 90 00 for an extended ECHO) — with no daemon, no promise, no validation: one 'data' event, the framing,
 * one write per answer. The same C client timed through it gives what Node's socket I/O and event loop alone cost per
 * APDU, beside native pcscd: a lower bound for bench/host-socket.ts' "ours" rows, which no change to src/host can go
 * under while it runs on node:net. Not a pcscd: it checks nothing and serves this benchmark only.
 */
import { createServer, type Socket } from 'node:net';
import { SCARD_POWERED, SCARD_PRESENT, SCARD_PROTOCOL_T1, SCARD_SPECIFIC } from '../src/pcsc/constants.js';
import { CMD, HEADER_SIZE, encodeReaderStates, isCommand, requestSize, structSize } from '../src/host/pcscd/wire.js';

const TRANSMIT_STRUCT = structSize('transmit');
const READER_STATES = encodeReaderStates([
  {
    name: 'Memory Card Reader 00 00',
    eventCounter: 0,
    readerState: SCARD_PRESENT | SCARD_POWERED | SCARD_SPECIFIC,
    readerSharing: 0,
    atr: Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01),
    cardProtocol: SCARD_PROTOCOL_T1,
  },
]);

function serve(socket: Socket): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < HEADER_SIZE) return;
      const size = pending.readUInt32LE(0);
      const command = pending.readUInt32LE(4);
      let total = HEADER_SIZE + size;
      if (command === CMD.TRANSMIT && pending.length >= HEADER_SIZE + TRANSMIT_STRUCT)
        total += pending.readUInt32LE(HEADER_SIZE + 12); // cbSendLength
      else if (command === CMD.TRANSMIT) return;
      if (pending.length < total) return;
      const body = pending.subarray(HEADER_SIZE, HEADER_SIZE + size);
      let answer: Buffer;
      switch (command) {
        case CMD.GET_READERS_STATE:
          answer = Buffer.from(READER_STATES);
          break;
        case CMD.ESTABLISH_CONTEXT:
          answer = Buffer.from(body);
          answer.writeUInt32LE(1, 4); // hContext
          answer.writeUInt32LE(0, 8);
          break;
        case CMD.CONNECT:
          answer = Buffer.from(body);
          answer.writeUInt32LE(2, 140); // hCard
          answer.writeUInt32LE(SCARD_PROTOCOL_T1, 144); // dwActiveProtocol
          answer.writeUInt32LE(0, 148);
          break;
        case CMD.TRANSMIT: {
          const apdu = pending.subarray(HEADER_SIZE + size, total);
          const echo = apdu.length > 7 && apdu[1] === 0xee;
          const n = apdu.length === 5 && apdu[1] === 0x84 ? apdu[4]! : echo ? apdu.length - 7 : 0;
          answer = Buffer.allocUnsafe(TRANSMIT_STRUCT + n + 2);
          body.copy(answer, 0);
          if (echo) apdu.copy(answer, TRANSMIT_STRUCT, 7);
          else answer.fill(0x5a, TRANSMIT_STRUCT, TRANSMIT_STRUCT + n);
          answer[TRANSMIT_STRUCT + n] = 0x90;
          answer[TRANSMIT_STRUCT + n + 1] = 0x00;
          answer.writeUInt32LE(n + 2, 24); // pcbRecvLength
          answer.writeUInt32LE(0, 28); // rv
          break;
        }
        default:
          // VERSION, DISCONNECT, RELEASE_CONTEXT (and anything else): the struct back with rv = SCARD_S_SUCCESS.
          if (!isCommand(command) || size !== requestSize(command) || size < 4) {
            socket.destroy();
            return;
          }
          answer = Buffer.from(body);
          answer.writeUInt32LE(0, size - 4);
      }
      socket.write(answer);
      pending = pending.subarray(total);
    }
  });
  socket.on('error', () => socket.destroy());
}

/** Listen on `path` (which must not exist) until close(). */
export async function serveSocketFloor(path: string): Promise<{ path: string; close(): Promise<void> }> {
  const server = createServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return { path, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

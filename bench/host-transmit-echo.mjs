#!/usr/bin/env node
/**
 * A diagnostic native host for bench/host-link.ts (BENCH_HOST_LINK_TRANSMIT_ECHO=1): smart-card-host runs behind it as
 * a child and gets every message but SCardTransmit calls, which this process answers at once with the echo host's
 * canned answer (bench/native-echo-host.mjs). "Ours" then times the client page, the connector worker and native
 * messaging with no PC/SC work behind the transmit: the connector's share of the gap to the floor, apart from the
 * host's. Usage (as the registered launcher): node host-transmit-echo.mjs CLI.js --native-messaging ORIGIN…
 */
import { spawn } from 'node:child_process';
import { endianness } from 'node:os';

const LE = endianness() === 'LE';
const [cli, ...args] = process.argv.slice(2);
const host = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });

function frame(body) {
  const head = Buffer.alloc(4);
  if (LE) head.writeUInt32LE(body.length);
  else head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** Calls `each(body)` for every whole frame of a stream. */
function frames(stream, each) {
  let pending = Buffer.alloc(0);
  stream.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = LE ? pending.readUInt32LE(0) : pending.readUInt32BE(0);
      if (pending.length < 4 + length) break;
      each(pending.subarray(4, 4 + length));
      pending = pending.subarray(4 + length);
    }
  });
}

frames(process.stdin, (body) => {
  const m = JSON.parse(body.toString('utf8'));
  if (m && m.kind === 'call' && m.fn === 'SCardTransmit') {
    const answer = {
      v: 1,
      kind: 'result',
      id: m.id,
      ok: true,
      value: { recvPci: { dwProtocol: 2 }, recvBuffer: '0123456789abcdef9000' },
    };
    process.stdout.write(frame(Buffer.from(JSON.stringify(answer), 'utf8')));
  } else host.stdin.write(frame(Buffer.from(body)));
});
frames(host.stdout, (body) => process.stdout.write(frame(Buffer.from(body))));
process.stdin.on('end', () => host.stdin.end());
host.on('exit', (code) => process.exit(code ?? 0));

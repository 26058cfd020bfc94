/**
 * `node dist/node/host-serve.js [--floor] SOCKET`: serves our pcscd socket (PcscDaemon + bench/memcard.ts' in-memory
 * reader, exactly what bench/host-socket.ts measures) in a process of its own until SIGINT/SIGTERM, so the host side
 * can be profiled on its own while a client loops against it:
 *
 *   node --cpu-prof dist/node/host-serve.js /tmp/ours.comm &
 *   PCSCLITE_CSOCK_NAME=/tmp/ours.comm ./client_bench 20000 0
 *
 * (`strace -c -f -p PID` or `perf stat -p PID` work the same way.) `--floor` serves bench/socket-floor.ts instead: bare
 * node:net, no daemon. Not part of `npm run bench`; see bench/README.md.
 */
import { PcscDaemon } from '../src/pcsc/index.js';
import { servePcscd } from '../src/host/pcscd/server.js';
import { memoryCardReader } from './memcard.js';
import { serveSocketFloor } from './socket-floor.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const floor = args[0] === '--floor';
  const path = floor ? args[1] : args[0];
  if (path === undefined) throw new Error('usage: host-serve.js [--floor] SOCKET-PATH');
  const daemon = new PcscDaemon();
  await daemon.addReader(memoryCardReader());
  const server = floor ? await serveSocketFloor(path) : await servePcscd({ daemon, path });
  const what = floor ? 'the bare node:net floor' : 'our socket';
  console.error(`[host-serve] pid ${process.pid} serving ${what} on ${path}`);
  const stop = (): void => {
    void server
      .close()
      .then(() => daemon.shutdown())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

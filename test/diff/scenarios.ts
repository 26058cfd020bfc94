/**
 * The differential suite's scenarios: scripts for test/diff/pcsc-diff.c (its header lists the commands), run the same
 * way against Debian's pcscd with test/diff/ifd-memcard.c and against smart-card-host --memcard.
 *
 * A single-process scenario is one script. A two-process scenario is a list of steps, each for process A or B; a step
 * marked `pending` is a call expected to wait (for a transaction of the other process): its line is collected at the
 * next step of the same process, but it stays in the transcript where it was sent, so the order is the script's and
 * not the order of arrival.
 */

export interface Step {
  p: 'A' | 'B';
  cmd: string;
  /** The call waits on the other process: do not wait for its line now. */
  pending?: boolean;
}

export interface Scenario {
  name: string;
  /** One process: the script's lines. */
  script?: string;
  /** Two processes. */
  steps?: Step[];
}

const SELECT = '00A404000AA00000006203010C0601';
const HELLO = '00000000';

const lines = (s: string): string =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('\n');

export const SCENARIOS: Scenario[] = [
  {
    name: 'contexts, reader lists and status changes',
    script: lines(`
      establish c0
      establish c1 9
      establish c1 USER
      valid c1
      release c1
      valid c1
      release c1
      setctx c2 0x1234
      valid c2
      release c2
      list c2
      list c0 null
      list c0 5
      list c0 25
      list c0 26
      list c0 auto
      groups c0 null
      groups c0 3
      groups c0 auto
      gsc c0 0
      gsc c0 0 r0=IGNORE
      gsc c2 0 r0=0
      gsc c0 0 No_Such_Reader=0
      gsc c0 0 r0=0
      gsc c0 0 r0=last
      gsc c0 0 r0=0x20
      gsc c0 0 r0=0x10
      gsc c0 0 r0=0x00050020
      gsc c0 0 r0=0x04
      gsc c0 0 r0=0x08
      gsc c0 0 r0=0x100
      gsc c0 0 r0=0x80
      gsc c0 0 r0=0x22 r0=0
      gsc c0 0 r0=0x22 r0=IGNORE pnp=0
      gsc c0 0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0
      gsc c0 50 r0=0x22
      gsc c0 0 pnp=0
      gsc c0 50 pnp=last
      gsc c0 0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0 r0=0
      cancel c0
      cancel c2
      release c0
      list c0
    `),
  },
  {
    name: 'connect and sharing in one process',
    script: lines(`
      establish c0
      establish c1
      list c0
      connect c0 h0 r0 9 T1
      connect c0 h0 r0 SHARED 0
      connect c0 h0 r0 SHARED 8
      connect c0 h0 No_Such_Reader SHARED T1
      connect c0 h0 memory_card_reader_00_00 SHARED T1
      connect c0 h0 Memory_Card_Reader_00_00_ SHARED T1
      connect c0 h0 Memory_Card_Reader SHARED T1
      gsc c0 0 memory_card_reader_00_00=0
      gsc c0 0 \\\\?pnp?\\notification=0
      connect c2 h0 r0 SHARED T1
      connect c0 h0 ${'x'.repeat(130)} SHARED T1
      connect c0 h0 r0 SHARED T0
      connect c0 h0 r0 SHARED ANY
      status h0
      disconnect h0 LEAVE
      connect c0 h0 r0 SHARED ANY_OLD
      disconnect h0 LEAVE
      connect c0 h0 r0 DIRECT 0
      status h0
      connect c0 h1 r0 SHARED RAW
      connect c0 h2 r0 SHARED T1
      connect c1 h3 r0 EXCLUSIVE T1
      gsc c1 0 r0=0
      disconnect h1 LEAVE
      disconnect h2 LEAVE
      disconnect h0 LEAVE
      connect c1 h3 r0 EXCLUSIVE T1
      gsc c1 0 r0=0
      connect c0 h0 r0 SHARED T1
      connect c0 h0 r0 DIRECT 0
      connect c1 h4 r0 EXCLUSIVE T1
      reconnect h3 SHARED T1 LEAVE
      gsc c1 0 r0=0
      connect c0 h0 r0 SHARED T1
      reconnect h3 EXCLUSIVE T1 LEAVE
      reconnect h3 DIRECT 0 LEAVE
      reconnect h3 SHARED RAW LEAVE
      reconnect h3 SHARED ANY LEAVE
      reconnect h0 SHARED T0 LEAVE
      reconnect h0 9 T1 LEAVE
      reconnect h0 SHARED 0 LEAVE
      disconnect h0 9
      disconnect h0 LEAVE
      disconnect h0 LEAVE
      sethandle h9 0x4321
      disconnect h9 LEAVE
      transmit h9 T1 ${HELLO}
      status h9
      release c1
      status h3
      release c0
    `),
  },
  {
    name: 'transmit, status, attributes and control: buffer sizes and error paths',
    script: lines(`
      establish c0
      list c0
      connect c0 h0 r0 SHARED T1
      transmit h0 T1 ${SELECT}
      transmit h0 T1 ${HELLO}
      transmit h0 T1 ${HELLO} 14
      transmit h0 T1 ${HELLO} 13
      transmit h0 T1 ${HELLO} 0
      transmit h0 T0 ${HELLO}
      transmit h0 ANY ${HELLO}
      transmit h0 RAW ${HELLO}
      transmit h0 T1 -
      transmit h0 T1 00
      transmit h0 T1 0084000008
      transmit h0 T1 80CA000000
      transmit h0 T1 echo:255
      transmit h0 T1 echo:256
      transmit h0 T1 echo:4096
      transmit h0 T1 echo:65535
      transmit h0 T1 echo:65535 65536
      transmit h0 T1 echo:65541
      transmit h0 T1 echo:65542
      transmit h0 T1 echo:255 70000
      control h0 GET_FEATURE_REQUEST echo:65541 256
      control h0 GET_FEATURE_REQUEST echo:65542 256
      getattrib h0 FRIENDLY_NAME_A 300
      getattrib h0 ICC_PRESENCE 70000
      setattrib h0 ICC_PRESENCE echo:259
      setattrib h0 ICC_PRESENCE echo:260
      status h0
      status h0 null null
      status h0 5 40
      status h0 25 17
      status h0 24 17
      status h0 25 16
      status h0 auto auto
      getattrib h0 ATR_STRING
      getattrib h0 ICC_PRESENCE
      getattrib h0 ICC_PRESENCE 0
      getattrib h0 ICC_PRESENCE null
      getattrib h0 VENDOR_NAME
      getattrib h0 FRIENDLY_NAME_A
      getattrib h0 FRIENDLY_NAME_A 24
      getattrib h0 FRIENDLY_NAME_A null
      getattrib h0 SYSTEM_NAME_A
      getattrib h0 FRIENDLY_NAME_W
      getattrib h0 0x12345
      setattrib h0 ICC_PRESENCE 01
      setattrib h0 ICC_PRESENCE -
      setattrib h0 0x12345 0102
      control h0 GET_FEATURE_REQUEST - 256
      control h0 GET_FEATURE_REQUEST 00 256
      control h0 0x42000001 0102 0
      disconnect h0 LEAVE
      connect c0 h1 r0 DIRECT 0
      transmit h1 T1 ${HELLO}
      transmit h1 RAW ${HELLO}
      getattrib h1 ICC_PRESENCE
      control h1 GET_FEATURE_REQUEST - 256
      disconnect h1 LEAVE
      release c0
    `),
  },
  {
    name: 'transactions and dispositions in one process',
    script: lines(`
      establish c0
      list c0
      connect c0 h0 r0 SHARED T1
      connect c0 h1 r0 SHARED T1
      end h0 LEAVE
      end h0 9
      end h0 EJECT
      begin h0
      begin h0
      end h1 RESET
      end h1 EJECT
      end h1 LEAVE
      end h0 EJECT
      end h0 LEAVE
      begin h0
      end h0 RESET
      transmit h0 T1 ${HELLO}
      transmit h1 T1 ${HELLO}
      status h1
      begin h1
      reconnect h1 SHARED T1 LEAVE
      transmit h1 T1 ${HELLO}
      reconnect h0 SHARED T1 EJECT
      reconnect h0 SHARED T1 9
      reconnect h0 SHARED T1 RESET
      transmit h0 T1 ${HELLO}
      transmit h1 T1 ${HELLO}
      reconnect h1 SHARED T1 LEAVE
      begin h0
      end h0 UNPOWER
      reconnect h0 SHARED T1 LEAVE
      reconnect h1 SHARED T1 LEAVE
      status h0
      reconnect h1 SHARED T1 UNPOWER
      status h1
      transmit h0 T1 ${HELLO}
      reconnect h0 SHARED T1 LEAVE
      disconnect h0 EJECT
      transmit h1 T1 ${HELLO}
      disconnect h1 UNPOWER
      connect c0 h2 r0 DIRECT 0
      status h2
      connect c0 h0 r0 SHARED T1
      status h0
      disconnect h0 RESET
      status h2
      disconnect h2 LEAVE
      connect c0 h0 r0 EXCLUSIVE T1
      end h0 LEAVE
      end h0 LEAVE
      begin h0
      end h0 LEAVE
      reconnect h0 SHARED T1 LEAVE
      end h0 LEAVE
      disconnect h0 LEAVE
      release c0
    `),
  },
  {
    name: 'SCardCancel ends an infinite wait',
    script: lines(`
      establish c0
      list c0
      gsc c0 0 r0=0
      async wait gsc c0 INFINITE r0=last
      sleep 300
      valid c0
      cancel c0 wait
      join wait
      gsc c0 0 pnp=0
      async wait3 gsc c0 INFINITE pnp=last
      sleep 300
      cancel c0 wait3
      join wait3
      cancel c0
      release c0
    `),
  },
  {
    name: 'two processes: sharing and a transaction that makes the other wait',
    steps: [
      { p: 'A', cmd: 'establish c0' },
      { p: 'B', cmd: 'establish c0' },
      { p: 'A', cmd: 'list c0' },
      { p: 'B', cmd: 'list c0' },
      { p: 'A', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'B', cmd: 'connect c0 h0 r0 EXCLUSIVE T1' },
      { p: 'B', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'B', cmd: 'gsc c0 0 r0=0' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'B', cmd: 'getattrib h0 ICC_PRESENCE' },
      { p: 'B', cmd: 'control h0 GET_FEATURE_REQUEST - 256' },
      { p: 'B', cmd: 'setattrib h0 ICC_PRESENCE 01' },
      { p: 'B', cmd: 'end h0 RESET' },
      { p: 'B', cmd: 'end h0 EJECT' },
      { p: 'B', cmd: 'end h0 LEAVE' },
      { p: 'B', cmd: `transmit h0 T1 ${HELLO}`, pending: true },
      { p: 'A', cmd: `transmit h0 T1 ${SELECT}` },
      { p: 'A', cmd: 'end h0 LEAVE' },
      { p: 'B', cmd: 'begin h0' },
      { p: 'A', cmd: 'begin h0', pending: true },
      { p: 'B', cmd: 'status h0' },
      { p: 'B', cmd: 'end h0 RESET' },
      { p: 'A', cmd: 'status h0' },
      { p: 'A', cmd: 'reconnect h0 SHARED T1 LEAVE' },
      { p: 'A', cmd: 'end h0 LEAVE' },
      { p: 'B', cmd: 'reconnect h0 SHARED T1 LEAVE' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'B', cmd: 'disconnect h0 RESET', pending: true },
      { p: 'A', cmd: 'end h0 LEAVE' },
      // Collects B's disconnect before A goes on: its reset must come first on both daemons.
      { p: 'B', cmd: 'say disconnected' },
      { p: 'A', cmd: `transmit h0 T1 ${HELLO}` },
      { p: 'B', cmd: 'release c0' },
      { p: 'A', cmd: 'release c0' },
    ],
  },
  {
    name: 'two processes: the holder of a transaction exits',
    steps: [
      { p: 'A', cmd: 'establish c0' },
      { p: 'B', cmd: 'establish c0' },
      { p: 'A', cmd: 'list c0' },
      { p: 'B', cmd: 'list c0' },
      { p: 'A', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'B', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'B', cmd: `transmit h0 T1 ${HELLO}`, pending: true },
      { p: 'A', cmd: 'exit' },
      { p: 'B', cmd: 'status h0' },
      { p: 'B', cmd: 'gsc c0 0 r0=0' },
      { p: 'B', cmd: 'reconnect h0 SHARED T1 LEAVE' },
      { p: 'B', cmd: `transmit h0 T1 ${HELLO}` },
      { p: 'B', cmd: 'release c0' },
    ],
  },
  {
    name: 'two processes: the exclusive holder exits',
    steps: [
      { p: 'A', cmd: 'establish c0' },
      { p: 'B', cmd: 'establish c0' },
      { p: 'A', cmd: 'list c0' },
      { p: 'B', cmd: 'list c0' },
      { p: 'A', cmd: 'connect c0 h0 r0 EXCLUSIVE T1' },
      { p: 'B', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'B', cmd: 'connect c0 h0 r0 DIRECT 0' },
      { p: 'B', cmd: 'gsc c0 0 r0=0' },
      { p: 'A', cmd: 'exit' },
      // Ends at once if the daemon has already cleaned up after A, else on that change: the same line either way.
      { p: 'B', cmd: 'gsc c0 3000 r0=last' },
      { p: 'B', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'B', cmd: 'status h0' },
      { p: 'B', cmd: 'release c0' },
    ],
  },
  {
    name: 'two processes: what wakes a waiting GetStatusChange',
    steps: [
      { p: 'A', cmd: 'establish c0' },
      { p: 'B', cmd: 'establish c0' },
      { p: 'A', cmd: 'list c0' },
      { p: 'B', cmd: 'list c0' },
      { p: 'B', cmd: 'gsc c0 0 r0=0' },
      { p: 'B', cmd: 'async w gsc c0 INFINITE r0=last' },
      { p: 'B', cmd: 'sleep 300' },
      // Free -> in use does not fire (winscard_clnt.c compares INUSE only against a current EXCLUSIVE, and so on).
      { p: 'A', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'A', cmd: 'sleep 300' },
      { p: 'B', cmd: 'cancel c0 w' },
      { p: 'B', cmd: 'join w rc' },
      { p: 'B', cmd: 'gsc c0 0 r0=0' },
      { p: 'B', cmd: 'async w gsc c0 INFINITE r0=last' },
      { p: 'B', cmd: 'sleep 300' },
      // A reset does not fire either.
      { p: 'A', cmd: 'reconnect h0 SHARED T1 RESET' },
      { p: 'A', cmd: 'sleep 300' },
      { p: 'B', cmd: 'cancel c0 w' },
      { p: 'B', cmd: 'join w rc' },
      { p: 'B', cmd: 'async w gsc c0 INFINITE r0=last' },
      { p: 'B', cmd: 'sleep 300' },
      // In use -> exclusive fires.
      { p: 'A', cmd: 'reconnect h0 EXCLUSIVE T1 LEAVE' },
      { p: 'B', cmd: 'join w' },
      { p: 'B', cmd: 'async w gsc c0 INFINITE r0=last' },
      { p: 'B', cmd: 'sleep 300' },
      // The exclusive holder's process ends: the reader is free again.
      { p: 'A', cmd: 'exit' },
      { p: 'B', cmd: 'join w' },
      { p: 'B', cmd: 'gsc c0 0 r0=last' },
      { p: 'B', cmd: 'release c0' },
    ],
  },
  {
    name: 'the power-off grace period and UNPOWER, as Status shows them',
    script: lines(`
      establish c0
      list c0
      connect c0 h1 r0 SHARED T1
      disconnect h1 LEAVE
      sleep 6500
      connect c0 h0 r0 DIRECT 0
      status h0
      gsc c0 0 r0=0
      getattrib h0 ICC_PRESENCE
      connect c0 h1 r0 SHARED T1
      status h0
      status h1
      transmit h1 T1 ${HELLO}
      disconnect h1 UNPOWER
      status h0
      transmit h0 RAW ${HELLO}
      reconnect h0 SHARED T1 LEAVE
      status h0
      disconnect h0 LEAVE
      release c0
    `),
  },
  {
    name: 'two processes: calls that wait for the transaction of the other',
    steps: [
      { p: 'A', cmd: 'establish c0' },
      { p: 'B', cmd: 'establish c0' },
      { p: 'A', cmd: 'list c0' },
      { p: 'B', cmd: 'list c0' },
      { p: 'A', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'B', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'B', cmd: 'connect c0 h1 r0 SHARED T1', pending: true },
      { p: 'A', cmd: 'end h0 LEAVE' },
      { p: 'B', cmd: 'say resumed' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'B', cmd: 'status h0', pending: true },
      { p: 'A', cmd: 'end h0 LEAVE' },
      { p: 'B', cmd: 'say resumed' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'B', cmd: 'reconnect h0 SHARED T1 LEAVE', pending: true },
      { p: 'A', cmd: 'end h0 LEAVE' },
      { p: 'B', cmd: 'say resumed' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'B', cmd: 'disconnect h1 LEAVE' },
      { p: 'B', cmd: 'reconnect h0 SHARED T1 RESET', pending: true },
      { p: 'A', cmd: 'end h0 LEAVE' },
      { p: 'B', cmd: 'say resumed' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'A', cmd: 'reconnect h0 SHARED T1 LEAVE' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'B', cmd: 'async x begin h0' },
      { p: 'B', cmd: 'sleep 200' },
      // B's process ends while its BeginTransaction waits; A's transaction goes on untouched.
      { p: 'B', cmd: 'exit' },
      { p: 'A', cmd: `transmit h0 T1 ${HELLO}` },
      { p: 'A', cmd: 'end h0 LEAVE' },
      { p: 'A', cmd: 'gsc c0 0 r0=0' },
      { p: 'A', cmd: 'release c0' },
    ],
  },
  {
    name: 'card removal and insertion: event counter, W_REMOVED_CARD, waiters',
    steps: [
      { p: 'A', cmd: 'establish c0' },
      { p: 'B', cmd: 'establish c0' },
      { p: 'A', cmd: 'list c0' },
      { p: 'B', cmd: 'list c0' },
      { p: 'A', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'A', cmd: 'connect c0 h1 r0 DIRECT 0' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'B', cmd: 'gsc c0 0 r0=0' },
      { p: 'B', cmd: 'async w gsc c0 INFINITE r0=last' },
      { p: 'B', cmd: 'sleep 200' },
      { p: 'A', cmd: 'remove' },
      // The waiter wakes on the removal (pcscd polls presence every 400 ms; ours too, in the twin reader).
      { p: 'B', cmd: 'join w' },
      { p: 'B', cmd: 'gsc c0 0 r0=last' },
      { p: 'B', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'B', cmd: 'connect c0 h0 r0 DIRECT 0' },
      { p: 'B', cmd: 'status h0' },
      { p: 'B', cmd: 'disconnect h0 LEAVE' },
      { p: 'A', cmd: `transmit h0 T1 ${HELLO}` },
      { p: 'A', cmd: 'status h0' },
      { p: 'A', cmd: 'status h1' },
      { p: 'A', cmd: 'end h0 LEAVE' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'A', cmd: 'getattrib h0 ICC_PRESENCE' },
      { p: 'A', cmd: 'reconnect h0 SHARED T1 LEAVE' },
      { p: 'A', cmd: 'reconnect h0 SHARED T1 RESET' },
      { p: 'A', cmd: 'reconnect h1 DIRECT 0 LEAVE' },
      { p: 'A', cmd: 'status h1' },
      { p: 'B', cmd: 'async w gsc c0 INFINITE r0=last' },
      { p: 'B', cmd: 'sleep 200' },
      { p: 'A', cmd: 'insert' },
      { p: 'B', cmd: 'join w' },
      { p: 'A', cmd: `transmit h0 T1 ${HELLO}` },
      { p: 'A', cmd: 'status h0' },
      { p: 'A', cmd: 'reconnect h0 SHARED T1 LEAVE' },
      { p: 'A', cmd: 'status h0' },
      { p: 'A', cmd: `transmit h0 T1 ${HELLO}` },
      { p: 'A', cmd: 'status h1' },
      { p: 'A', cmd: 'reconnect h1 DIRECT 0 LEAVE' },
      { p: 'A', cmd: 'status h1' },
      { p: 'B', cmd: 'gsc c0 0 r0=0x00050020' },
      { p: 'A', cmd: 'remove' },
      { p: 'B', cmd: 'gsc c0 3000 r0=last' },
      { p: 'A', cmd: 'insert' },
      { p: 'B', cmd: 'gsc c0 3000 r0=last' },
      { p: 'A', cmd: 'status h0' },
      { p: 'B', cmd: 'release c0' },
      { p: 'A', cmd: 'release c0' },
    ],
  },
  {
    name: "pcscd's limits: contexts, handles per context and per reader",
    steps: [
      { p: 'A', cmd: 'establish c0' },
      { p: 'A', cmd: 'list c0' },
      { p: 'A', cmd: 'repeat 201 connect c0 h1 r0 SHARED T1' },
      { p: 'B', cmd: 'establish c0' },
      { p: 'B', cmd: 'list c0' },
      { p: 'B', cmd: 'repeat 2 connect c0 h1 r0 SHARED T1' },
      { p: 'A', cmd: 'release c0' },
      { p: 'B', cmd: 'repeat 2 connect c0 h1 r0 SHARED T1' },
      { p: 'B', cmd: 'repeat 210 establish c1' },
      { p: 'A', cmd: 'establish c0' },
      { p: 'B', cmd: 'release c0' },
    ],
  },
  {
    name: 'no card: direct connections, transactions and the insertion',
    steps: [
      { p: 'A', cmd: 'remove' },
      { p: 'A', cmd: 'establish c0' },
      { p: 'B', cmd: 'establish c0' },
      { p: 'A', cmd: 'list c0' },
      { p: 'B', cmd: 'list c0' },
      { p: 'A', cmd: 'gsc c0 3000 r0=0x20' },
      { p: 'A', cmd: 'connect c0 h0 r0 SHARED T1' },
      { p: 'A', cmd: 'connect c0 h0 r0 DIRECT 0' },
      { p: 'A', cmd: 'connect c0 h1 r0 DIRECT T1' },
      { p: 'A', cmd: 'status h0' },
      { p: 'A', cmd: 'begin h0' },
      { p: 'A', cmd: `transmit h0 T1 ${HELLO}` },
      { p: 'A', cmd: `transmit h0 RAW ${HELLO}` },
      { p: 'A', cmd: 'control h0 GET_FEATURE_REQUEST - 256' },
      { p: 'A', cmd: 'getattrib h0 ICC_PRESENCE' },
      { p: 'B', cmd: 'connect c0 h0 r0 DIRECT 0', pending: true },
      { p: 'A', cmd: 'end h0 LEAVE' },
      { p: 'B', cmd: 'status h0' },
      { p: 'B', cmd: 'gsc c0 0 r0=0' },
      { p: 'A', cmd: 'reconnect h0 EXCLUSIVE 0 LEAVE' },
      { p: 'A', cmd: 'reconnect h0 DIRECT 0 LEAVE' },
      { p: 'B', cmd: 'async w gsc c0 INFINITE r0=last' },
      { p: 'B', cmd: 'sleep 200' },
      { p: 'A', cmd: 'insert' },
      { p: 'B', cmd: 'join w' },
      { p: 'A', cmd: 'status h0' },
      { p: 'A', cmd: 'status h1' },
      { p: 'B', cmd: 'status h0' },
      { p: 'A', cmd: 'connect c0 h2 r0 EXCLUSIVE T1' },
      // (Reconnect to EXCLUSIVE while other handles exist is retried by libpcsclite for ever: not scripted.)
      { p: 'B', cmd: 'disconnect h0 LEAVE' },
      { p: 'A', cmd: 'disconnect h1 LEAVE' },
      { p: 'A', cmd: 'reconnect h0 EXCLUSIVE T1 LEAVE' },
      { p: 'A', cmd: 'reconnect h0 EXCLUSIVE T1 LEAVE' },
      { p: 'A', cmd: 'status h0' },
      { p: 'A', cmd: 'end h0 LEAVE' },
      { p: 'A', cmd: 'reconnect h0 DIRECT 0 UNPOWER' },
      { p: 'A', cmd: 'status h0' },
      { p: 'B', cmd: 'gsc c0 0 r0=0' },
      { p: 'B', cmd: 'connect c0 h1 r0 SHARED T1', pending: true },
      { p: 'A', cmd: 'disconnect h0 LEAVE' },
      { p: 'B', cmd: 'status h1' },
      { p: 'B', cmd: 'release c0' },
      { p: 'A', cmd: 'release c0' },
    ],
  },
];

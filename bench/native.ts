/**
 * The native anchor (../shared/anchors/native-pcscd/run.sh beside the project root): pcsc-lite 1.9.9 itself on this
 * machine — libpcsclite client → pcscd → an in-memory IFD handler with zero device latency. It needs root (apt-get,
 * unshare); when it cannot run, the figures say so and carry no number.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { RUNS, summarise, type Figure } from './measure.js';

const RUN_RE = /apdus=(\d+) bytes=(\d+) per_apdu_us=([\d.]+)/;

function runAnchor(script: string, apdus: number, echoBytes: number): { value: number } | { error: string } {
  const r = spawnSync('sh', [script, String(apdus), String(echoBytes)], { encoding: 'utf8', timeout: 300_000 });
  const m = RUN_RE.exec(r.stdout ?? '');
  if (r.status !== 0 || m === null) {
    return {
      error: `run.sh exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' ').slice(0, 200)}`,
    };
  }
  return { value: Number(m[3]) };
}

export function nativeFigures(root: string): Figure[] {
  const script = resolve(root, '..', 'shared', 'anchors', 'native-pcscd', 'run.sh');
  const specs = [
    {
      id: 'native-getchallenge',
      name: 'native pcsc-lite 1.9.9 SCardTransmit: 8-byte GET CHALLENGE (pcscd, in-memory reader)',
      apdus: 2000,
      echo: 0,
    },
    {
      id: 'native-echo',
      name: 'native pcsc-lite 1.9.9 SCardTransmit: 65,000-byte extended ECHO (pcscd, in-memory reader)',
      apdus: 200,
      echo: 65000,
    },
  ];
  let why: string | undefined;
  if (!existsSync(script)) why = `${script} not found`;
  else if (typeof process.getuid === 'function' && process.getuid() !== 0) why = 'needs root (apt-get, unshare)';
  return specs.map((s) => {
    if (why !== undefined) return { id: s.id, name: s.name, unit: 'us', median: null, note: `anchor not run: ${why}` };
    const samples: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const out = runAnchor(script, s.apdus, s.echo);
      if ('error' in out) {
        why = out.error;
        return { id: s.id, name: s.name, unit: 'us', median: null, note: `anchor failed: ${out.error}` };
      }
      samples.push(out.value);
    }
    return { id: s.id, name: s.name, unit: 'us', ...summarise(samples), runs: samples.length, perRun: s.apdus };
  });
}

/**
 * The differential suite: one C client of ours linked to libpcsclite (test/diff/pcsc-diff.c) runs the same scripted
 * scenarios (scenarios.ts) against Debian's pcscd 1.9.9 loading the in-memory IFD handler (ifd-memcard.c) and against
 * smart-card-host --memcard (its TypeScript twin), each started afresh per scenario; every line (return code and
 * outputs) must be equal, or listed with its reason in accepted.ts.
 *
 * DIFF_TRANSCRIPTS=DIR writes both transcripts of every scenario there (DIR/NAME.pcscd.txt, DIR/NAME.ours.txt).
 *
 * Needs Linux, pcscd, libpcsclite-dev, gcc and user namespaces (unshare -Urm): outside CI it skips and says why.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPTED, type AcceptedDifference } from './accepted.js';
import { build, runScenario, startOurs, startPcscd, unavailable, type Built, type Daemon } from './harness.js';
import { SCENARIOS, type Scenario } from './scenarios.js';

const why = unavailable();
if (why !== null && !process.env.CI) console.warn(`test/diff skipped: ${why}`);

const split = (line: string): { command: string; result: string } => {
  const i = line.indexOf(' => ');
  return i < 0 ? { command: line, result: '' } : { command: line.slice(0, i), result: line.slice(i + 4) };
};

/** The differing lines not accepted, as a readable report (empty = none), and the accepted entries used. */
export function compare(
  scenario: string,
  pcscd: string[],
  ours: string[],
  accepted: readonly AcceptedDifference[],
): { report: string; used: Set<AcceptedDifference> } {
  const used = new Set<AcceptedDifference>();
  const out: string[] = [];
  for (let i = 0; i < Math.max(pcscd.length, ours.length); i++) {
    const a = pcscd[i] ?? '(no line)';
    const b = ours[i] ?? '(no line)';
    if (a === b) continue;
    const sa = split(a);
    const sb = split(b);
    const ok = accepted.find(
      (d) =>
        d.scenario === scenario &&
        d.command === sa.command &&
        (typeof d.pcscd === 'string' ? d.pcscd === sa.result : d.pcscd.test(sa.result)) &&
        d.ours === sb.result,
    );
    if (ok !== undefined && sa.command === sb.command) {
      used.add(ok);
      continue;
    }
    out.push(`line ${i + 1}:\n  pcscd: ${a}\n  ours:  ${b}`);
  }
  return { report: out.join('\n'), used };
}

describe.runIf(why === null || process.env.CI)('differential: pcscd 1.9.9 and smart-card-host, same client', () => {
  let built: Built | undefined;
  const used = new Set<AcceptedDifference>();
  const ran = new Set<string>();

  beforeAll(() => {
    built = build();
  }, 150_000);
  afterAll(() => {
    if (built !== undefined) rmSync(built.dir, { recursive: true, force: true });
  });

  async function transcript(kind: 'pcscd' | 'ours', scenario: Scenario): Promise<string[]> {
    const daemon: Daemon = kind === 'pcscd' ? await startPcscd(built!) : await startOurs(built!);
    try {
      return await runScenario(built!, daemon, scenario);
    } catch (e) {
      throw new Error(`${kind}: ${(e as Error).message}\n${kind}'s log (end): ${daemon.log().slice(-1500)}`, {
        cause: e,
      });
    } finally {
      await daemon.stop();
    }
  }

  it.each(SCENARIOS.map((s) => [s.name, s] as const))(
    '%s',
    async (name, scenario) => {
      const pcscd = await transcript('pcscd', scenario);
      const ours = await transcript('ours', scenario);
      const dump = process.env['DIFF_TRANSCRIPTS'];
      if (dump !== undefined && dump !== '') {
        mkdirSync(dump, { recursive: true });
        const file = name.replace(/[^A-Za-z0-9]+/g, '-');
        writeFileSync(join(dump, `${file}.pcscd.txt`), `${pcscd.join('\n')}\n`);
        writeFileSync(join(dump, `${file}.ours.txt`), `${ours.join('\n')}\n`);
      }
      // The client never fails to parse its own scripts.
      expect(pcscd.filter((l) => l.includes('!! bad command'))).toEqual([]);
      const { report, used: u } = compare(name, pcscd, ours, ACCEPTED);
      for (const d of u) used.add(d);
      ran.add(name);
      if (report !== '') {
        throw new Error(`"${name}": transcripts differ (not in test/diff/accepted.ts):\n${report}`);
      }
    },
    60_000,
  );

  it('every accepted difference still occurs (else remove it from accepted.ts)', () => {
    const stale = ACCEPTED.filter((d) => ran.has(d.scenario) && !used.has(d));
    expect(stale.map((d) => `${d.scenario}: ${d.command}`)).toEqual([]);
  });
});

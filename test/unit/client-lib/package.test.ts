import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * What an extension author gets from `npm run build`: dist/client-lib/index.js, one ES module, and its types. The test
 * builds it when it is missing (npm test builds it first anyway).
 */
const root = resolve(import.meta.dirname, '../../..');
const dist = join(root, 'dist/client-lib');

beforeAll(() => {
  if (!existsSync(join(dist, 'index.js')) || !existsSync(join(dist, 'index.d.ts'))) {
    execFileSync('npm', ['run', '--silent', 'build:client-lib'], { cwd: root, stdio: 'pipe' });
  }
}, 120_000);

describe('the built client library', () => {
  it('is one ES module exporting connect, PcscError and the constants with pcsc-lite values', async () => {
    const lib = (await import(join(dist, 'index.js'))) as Record<string, unknown>;
    expect(typeof lib['connect']).toBe('function');
    expect(typeof lib['PcscError']).toBe('function');
    expect(lib['SCARD_E_NO_SMARTCARD']).toBe(0x8010000c);
    expect(lib['SCARD_PROTOCOL_T1']).toBe(2);
    expect(lib['SCARD_CTL_CODE']).toBeTypeOf('function');
  });

  it('carries declarations a TypeScript consumer compiles against (and that catch misuse)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'client-lib-consumer-'));
    const ok = `import { connect, SCARD_SCOPE_SYSTEM, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, type PcscApi } from '${dist}/index.js';
export async function run(id: string): Promise<Uint8Array> {
  const pcsc: PcscApi = await connect(id, { name: 'consumer' });
  const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  const { readers } = await pcsc.SCardListReaders(hContext, null);
  const { hCard, dwActiveProtocol } = await pcsc.SCardConnect(hContext, readers[0]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
  const { recvBuffer } = await pcsc.SCardTransmit(hCard, { dwProtocol: dwActiveProtocol }, Uint8Array.of(0, 0, 0, 0));
  return recvBuffer;
}
`;
    const bad = `import { connect } from '${dist}/index.js';
export async function run(): Promise<void> { const pcsc = await connect('x'); await pcsc.SCardTransmit('not a handle', { dwProtocol: 2 }, new Uint8Array()); }
`;
    writeFileSync(join(dir, 'ok.ts'), ok);
    writeFileSync(join(dir, 'bad.ts'), bad);
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const args = (file: string) => [tsc, '--noEmit', '--strict', '--module', 'esnext', '--moduleResolution', 'bundler', '--target', 'es2022', '--skipLibCheck', '--types', 'chrome,w3c-web-usb', '--typeRoots', join(root, 'node_modules/@types'), join(dir, file)];
    expect(() => execFileSync(process.execPath, args('ok.ts'), { stdio: 'pipe' })).not.toThrow();
    let output = '';
    try {
      execFileSync(process.execPath, args('bad.ts'), { stdio: 'pipe' });
    } catch (e) {
      output = String((e as { stdout?: Buffer }).stdout ?? '');
    }
    expect(output).toMatch(/not assignable to parameter of type 'number'/);
  }, 60_000);
});

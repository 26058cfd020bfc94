/**
 * End to end: the client library as a third-party developer gets it. `npm pack` packs dist/client-lib (the package
 * @smart-card-connector/client) into a folder outside the repository; a fresh example extension there, with its own
 * package.json and key, installs the tarball with npm (offline: the package has no dependencies), is type-checked by
 * tsc against the installed package's declarations (a bundler-style consumer, resolved through the `exports` map), is
 * built by vite (the repository's own, through its JavaScript API, so nothing is downloaded), and is loaded in
 * Chromium beside the connector, where its page imports the package by name and lists the demo reader.
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../client-lib/src/index.js';
import {
  DIST,
  ROOT,
  ensureChromium,
  extensionUrl,
  launchWithExtensions,
  waitForWorker,
} from '../../scripts/chromium.mjs';
import { CONNECTOR_ID, openConnectorPage, preApprove, turnDemoOn, type Rig } from './harness.js';

const PACKAGE_DIR = join(ROOT, 'dist', 'client-lib');
const PACKAGE_NAME = '@smart-card-connector/client';
const DEMO_READER = 'Gemalto PC Twin Reader 00 00';

/** npm without the network or the user's cache: everything here is local (a tarball with no dependencies). */
function npm(args: string[], cwd: string, cache: string): string {
  const flags = ['--offline', '--no-audit', '--no-fund', '--no-update-notifier', '--cache', cache];
  return execFileSync('npm', [...args, ...flags], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs the repository's tsc; returns its exit status and output. */
function tsc(args: string[], cwd: string): { status: number; output: string } {
  try {
    const bin = join(ROOT, 'node_modules/typescript/bin/tsc');
    const output = execFileSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', stdio: 'pipe' });
    return { status: 0, output };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { status: err.status ?? 1, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

/**
 * A fresh RSA key for the example's manifest, and the extension id Chrome derives from it: the first 128 bits of
 * sha256(DER SubjectPublicKeyInfo), each hex digit 0–f written as a letter a–p.
 */
function extensionKey(): { key: string; id: string } {
  const { publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  const hex = createHash('sha256').update(publicKey).digest('hex').slice(0, 32);
  const id = [...hex].map((d) => String.fromCharCode('a'.charCodeAt(0) + parseInt(d, 16))).join('');
  return { key: publicKey.toString('base64'), id };
}

/** The example's page: imports the package by its name, as any client extension would. */
const MAIN_TS = `import {
  connect, describePcscError, PROTOCOL_VERSION, SCARD_SCOPE_SYSTEM, type Connection,
} from '${PACKAGE_NAME}';

const CONNECTOR_ID = '${CONNECTOR_ID}';

export type Outcome = { ok: true; protocol: number; readers: string[] } | { ok: false; error: string };

/** Connects, establishes a context, lists the readers, releases everything. */
async function listReaders(): Promise<Outcome> {
  let pcsc: Connection | undefined;
  try {
    pcsc = await connect(CONNECTOR_ID, { name: 'Client package example' });
    const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await pcsc.SCardListReaders(hContext, null);
    await pcsc.SCardReleaseContext(hContext);
    return { ok: true, protocol: PROTOCOL_VERSION, readers };
  } catch (e) {
    return { ok: false, error: describePcscError(e) };
  } finally {
    pcsc?.close();
  }
}

(globalThis as { listReaders?: () => Promise<Outcome> }).listReaders = listReaders;
document.getElementById('status')!.textContent = 'ready';
`;

/** A misuse the package's declarations must reject (a string where a card handle, a number, is expected). */
const MISUSE_TS = `import { connect } from '${PACKAGE_NAME}';
export async function misuse(): Promise<void> {
  const pcsc = await connect('x');
  await pcsc.SCardTransmit('not a handle', { dwProtocol: 2 }, new Uint8Array(0));
}
`;

const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>Client package example</title></head>
  <body>
    <p id="status">loading</p>
    <script type="module" src="./main.ts"></script>
  </body>
</html>
`;

/** A bundler-style consumer: moduleResolution "bundler", strict, the package's own declarations checked too. */
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'ESNext',
    moduleResolution: 'bundler',
    lib: ['ES2022', 'DOM'],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  },
  include: ['main.ts'],
};

describe('the client library as an npm package, in a fresh extension outside the repository', () => {
  let work: string;
  let example: string;
  let exampleId: string;
  let tarball: string;
  let rig: Rig | undefined;

  beforeAll(async () => {
    if (!existsSync(join(PACKAGE_DIR, 'package.json'))) {
      execFileSync('npm', ['run', '--silent', 'build:client-lib'], { cwd: ROOT, stdio: 'pipe' });
    }
    work = mkdtempSync(join(tmpdir(), 'scc-client-package-'));
    const cache = join(work, 'npm-cache');
    const packs = join(work, 'packs');
    mkdirSync(packs);
    const packOutput = npm(['pack', PACKAGE_DIR, '--pack-destination', packs, '--json'], work, cache);
    const packed = JSON.parse(packOutput) as { filename: string }[];
    tarball = join(packs, packed[0]!.filename);

    example = join(work, 'example');
    mkdirSync(join(example, 'public'), { recursive: true });
    const { key, id } = extensionKey();
    exampleId = id;
    const manifest = {
      manifest_version: 3,
      name: 'Client package example',
      version: '1.0.0',
      description: 'A client extension built from the packed @smart-card-connector/client.',
      minimum_chrome_version: '118',
      key,
    };
    const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
    const consumer = { name: 'client-package-example', version: '1.0.0', private: true, type: 'module' };
    writeFileSync(join(example, 'package.json'), json(consumer));
    writeFileSync(join(example, 'public', 'manifest.json'), json(manifest));
    writeFileSync(join(example, 'index.html'), INDEX_HTML);
    writeFileSync(join(example, 'main.ts'), MAIN_TS);
    writeFileSync(join(example, 'misuse.ts'), MISUSE_TS);
    writeFileSync(join(example, 'tsconfig.json'), json(TSCONFIG));
    writeFileSync(join(example, 'tsconfig.misuse.json'), json({ ...TSCONFIG, include: ['misuse.ts'] }));
    npm(['install', tarball], example, cache);
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs into a folder outside the repository and installs from the tarball with no network', () => {
    expect(relative(ROOT, work).startsWith('..')).toBe(true);
    const installed = join(example, 'node_modules', ...PACKAGE_NAME.split('/'));
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { name: string; version: string };
    expect(pkg.name).toBe(PACKAGE_NAME);
    expect(Number(pkg.version.split('.')[0])).toBe(PROTOCOL_VERSION);
    // Nothing but the package itself was installed: it has no dependencies.
    const modules = readdirSync(join(example, 'node_modules')).filter((n) => !n.startsWith('.'));
    expect(modules).toEqual(['@smart-card-connector']);
    type Manifest = { dependencies?: Record<string, string> };
    const consumer = JSON.parse(readFileSync(join(example, 'package.json'), 'utf8')) as Manifest;
    expect(consumer.dependencies?.[PACKAGE_NAME]).toMatch(/\.tgz$/);
  });

  it("type-checks the example against the installed package's declarations, found through its exports map", () => {
    const ok = tsc(['-p', 'tsconfig.json', '--traceResolution'], example);
    expect(
      ok.status,
      ok.output
        .split('\n')
        .filter((l) => /error TS/.test(l))
        .join('\n'),
    ).toBe(0);
    const declarations = join(example, 'node_modules', PACKAGE_NAME, 'index.d.ts');
    expect(ok.output).toContain(`Module name '${PACKAGE_NAME}' was successfully resolved to '${declarations}'`);
    expect(ok.output).toMatch(/Using 'exports' subpath '\.' with target '\.\/index\.d\.ts'/);
    // The declarations are real types, not `any`: a misuse fails to compile.
    const bad = tsc(['-p', 'tsconfig.misuse.json'], example);
    expect(bad.status).not.toBe(0);
    const misuse = /misuse\.ts.*error TS2345: .*'string' is not assignable to parameter of type 'number'/;
    expect(bad.output).toMatch(misuse);
  }, 120_000);

  it('builds with vite, runs beside the connector in Chromium and lists the demo reader through it', async () => {
    const out = join(example, 'dist');
    await build({
      root: example,
      configFile: false,
      mode: 'production',
      logLevel: 'warn',
      base: './',
      build: { outDir: out, emptyOutDir: true, target: 'chrome118', minify: false, modulePreload: { polyfill: false } },
    });
    const built = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as unknown;
    expect(built).toMatchObject({ name: 'Client package example' });
    const bundled = readdirSync(join(out, 'assets')).filter((f) => f.endsWith('.js'));
    expect(bundled).toHaveLength(1);
    expect(readFileSync(join(out, 'assets', bundled[0]!), 'utf8')).toContain('SCardEstablishContext');

    ensureChromium();
    const browser = await launchWithExtensions({ extensions: [DIST.connector, out] });
    const worker = await waitForWorker(browser.context, CONNECTOR_ID);
    rig = { browser, context: browser.context, worker, close: () => browser.close() };
    // The user's "Allow" for the example, as the other end-to-end suites store it (consent has its own suite).
    await preApprove(worker, [exampleId]);
    const connector = await openConnectorPage(rig);
    await turnDemoOn(connector);

    const page: Page = await rig.context.newPage();
    await page.goto(extensionUrl(exampleId, 'index.html'));
    await page.getByText('ready', { exact: true }).waitFor();
    const outcome = await page.evaluate('globalThis.listReaders()');
    expect(outcome).toEqual({ ok: true, protocol: PROTOCOL_VERSION, readers: [DEMO_READER] });
    await page.close();
    await connector.close();
  }, 120_000);
});

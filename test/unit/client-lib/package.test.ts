import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { Connection, PROTOCOL_VERSION } from '../../../client-lib/src/index.js';
import { pinnedExports, serialiseExports } from './pinned-exports.js';

/**
 * What an extension author gets from `npm run build`: dist/client-lib/, the npm package @smart-card-connector/client
 * (one ES module, its declarations, package.json, README.md), and the version policy of docs/protocol.md that ties the
 * package's version to the protocol's. The test builds the package when it is missing (npm test builds it first
 * anyway). test/e2e/client-package.test.ts packs it, installs it into an extension and runs it in Chromium.
 */
const root = resolve(import.meta.dirname, '../../..');
const dist = join(root, 'dist/client-lib');
const NAME = '@smart-card-connector/client';

interface PackageJson {
  name: string;
  version: string;
  type?: string;
  private?: boolean;
  main?: string;
  types?: string;
  exports?: Record<string, unknown>;
  files?: string[];
  sideEffects?: boolean;
  license?: string;
  [field: string]: unknown;
}

const readJson = (path: string): PackageJson => JSON.parse(readFileSync(path, 'utf8')) as PackageJson;

/** Every file under `dir`, as paths relative to it with '/' separators. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

/** Every path string an `exports` value leads to (conditions nest). */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
}

beforeAll(() => {
  if (!['index.js', 'index.d.ts', 'package.json', 'README.md'].every((f) => existsSync(join(dist, f)))) {
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

  it('exports exactly the pinned API (names, values, group key order) of exports.json', async () => {
    const lib = (await import(join(dist, 'index.js'))) as object;
    expect(serialiseExports(lib)).toBe(pinnedExports());
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
    const args = (file: string) => [
      tsc,
      '--noEmit',
      '--strict',
      '--module',
      'esnext',
      '--moduleResolution',
      'bundler',
      '--target',
      'es2022',
      '--skipLibCheck',
      '--types',
      'chrome,w3c-web-usb',
      '--typeRoots',
      join(root, 'node_modules/@types'),
      join(dir, file),
    ];
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

describe('the package @smart-card-connector/client (dist/client-lib)', () => {
  it('is client-lib/package.json: a scoped ES module package with an exports map and no dependencies', () => {
    const pkg = readJson(join(dist, 'package.json'));
    expect(pkg).toEqual(readJson(join(root, 'client-lib/package.json')));
    expect(pkg.name).toBe(NAME);
    expect(pkg.private).toBeUndefined();
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.license).toBe('Apache-2.0');
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    // Resolvers pick the first condition that matches: `types` must come first, `default` last.
    const main = pkg.exports?.['.'] as Record<string, string>;
    expect(Object.keys(main)).toEqual(['types', 'import', 'default']);
    expect(main).toEqual({ types: './index.d.ts', import: './index.js', default: './index.js' });
    expect(pkg.exports?.['./package.json']).toBe('./package.json');
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies', 'scripts']) {
      expect(pkg[field], field).toBeUndefined();
    }
  });

  it('holds every file its exports, main and types name, and npm pack packs exactly the package', () => {
    const pkg = readJson(join(dist, 'package.json'));
    const named = [...exportTargets(pkg.exports), pkg.main, pkg.types].filter((p): p is string => !!p);
    for (const target of named) expect(existsSync(join(dist, target)), target).toBe(true);
    const args = ['pack', '--dry-run', '--json', '--offline', '--no-update-notifier', dist];
    const out = execFileSync('npm', args, { cwd: tmpdir(), encoding: 'utf8', stdio: 'pipe' });
    const [packed] = JSON.parse(out) as { name: string; version: string; files: { path: string }[] }[];
    expect(packed!.name).toBe(NAME);
    expect(packed!.version).toBe(pkg.version);
    const paths = packed!.files.map((f) => f.path).sort();
    expect(paths).toEqual(filesUnder(dist).sort());
    const core = ['package.json', 'README.md', 'index.js', 'index.js.map', 'index.d.ts'];
    expect(paths).toEqual(expect.arrayContaining(core));
    // Only the bundle, its map, the declarations and the two documents.
    const shipped = /^(index\.(js|js\.map|d\.ts)|package\.json|README\.md|types\/.+\.d\.ts)$/;
    for (const p of paths) expect(p).toMatch(shipped);
  });

  it('is self-contained: the bundle imports nothing, the declarations only each other and no @types package', () => {
    const js = readFileSync(join(dist, 'index.js'), 'utf8');
    // Static and dynamic imports alike: everything the library uses is bundled in.
    expect(ts.preProcessFile(js, true, true).importedFiles.map((f) => f.fileName)).toEqual([]);
    expect(js).not.toMatch(/\brequire\(/);
    const declarations = filesUnder(dist).filter((f) => f.endsWith('.d.ts'));
    expect(declarations.length).toBeGreaterThan(1);
    for (const file of declarations) {
      const text = readFileSync(join(dist, file), 'utf8');
      const { importedFiles, referencedFiles, typeReferenceDirectives } = ts.preProcessFile(text, true, true);
      expect([...referencedFiles, ...typeReferenceDirectives], file).toEqual([]);
      for (const { fileName: spec } of importedFiles) {
        expect(spec.startsWith('./') || spec.startsWith('../'), `${file} imports '${spec}'`).toBe(true);
        const target = join(dist, dirname(file), spec.replace(/\.js$/, '.d.ts'));
        expect(relative(dist, target).startsWith('..'), `${file} leaves the package with '${spec}'`).toBe(false);
        expect(existsSync(target), `${file}: '${spec}' is not in the package`).toBe(true);
      }
    }
  });

  it('ships client-lib/README.md, which documents every export and every Connection method', async () => {
    const readme = readFileSync(join(dist, 'README.md'), 'utf8');
    expect(readme).toBe(readFileSync(join(root, 'client-lib/README.md'), 'utf8'));
    const lib = (await import(join(dist, 'index.js'))) as Record<string, unknown>;
    // Every function and class of the library (the ~250 constants are documented by group and example).
    const callables = Object.keys(lib).filter((k) => typeof lib[k] === 'function');
    expect(callables).toEqual(expect.arrayContaining(['connect', 'Connection', 'PcscError', 'describePcscError']));
    for (const name of [...callables, 'PROTOCOL_VERSION']) expect(readme, name).toContain(`\`${name}`);
    const members = Object.getOwnPropertyNames(Connection.prototype).filter((m) => m !== 'constructor');
    expect(members.filter((m) => m.startsWith('SCard'))).toHaveLength(17);
    for (const m of members) expect(readme, `Connection.${m}`).toMatch(new RegExp(`\`(pcsc\\.|connection\\.)?${m}\\b`));
    expect(readme).toContain(`npm install ${NAME}`);
  });
});

describe('the version policy (docs/protocol.md, "Versions")', () => {
  const pkg = readJson(join(root, 'client-lib/package.json'));
  const doc = readFileSync(join(root, 'docs/protocol.md'), 'utf8');
  const major = Number(pkg.version.split('.')[0]);

  it("ties the package's major version to the protocol version the library speaks", () => {
    expect(Number.isInteger(PROTOCOL_VERSION)).toBe(true);
    expect(major).toBe(PROTOCOL_VERSION);
  });

  it('is written in docs/protocol.md, whose title and versions agree with the code and both package.json', () => {
    expect(doc).toMatch(/^# The connector's client protocol, version (\d+)$/m);
    expect(Number(/^# The connector's client protocol, version (\d+)$/m.exec(doc)![1])).toBe(PROTOCOL_VERSION);
    expect(doc).toContain('## Versions');
    expect(doc).toContain('**MAJOR is the protocol');
    const today = /^Today: protocol version (\d+), package `([^`]+)` (\d+)\.x, connector (\S+)\.$/m.exec(doc);
    expect(today, 'the "Today: …" line of docs/protocol.md').not.toBeNull();
    expect(Number(today![1])).toBe(PROTOCOL_VERSION);
    expect(today![2]).toBe(pkg.name);
    expect(Number(today![3])).toBe(major);
    expect(today![4]).toBe(readJson(join(root, 'package.json')).version);
    // Every example envelope in the document carries the current version.
    const envelopes = [...doc.matchAll(/\{"v":(\d+),/g)].map((m) => Number(m[1]));
    expect(envelopes.length).toBeGreaterThan(5);
    expect(new Set(envelopes)).toEqual(new Set([PROTOCOL_VERSION]));
  });

  it("is stated in the package's README, with the same numbers", () => {
    const readme = readFileSync(join(root, 'client-lib/README.md'), 'utf8');
    expect(readme).toContain('docs/protocol.md');
    expect(readme).toContain(`protocol version ${PROTOCOL_VERSION}`);
    expect(readme).toContain(`${major}.x`);
  });

  it('is enforced by the build: the built bundle speaks the protocol of its package version', async () => {
    const lib = (await import(join(dist, 'index.js'))) as { PROTOCOL_VERSION: number };
    expect(lib.PROTOCOL_VERSION).toBe(PROTOCOL_VERSION);
    expect(Number(readJson(join(dist, 'package.json')).version.split('.')[0])).toBe(lib.PROTOCOL_VERSION);
  });

  it('makes the build fail, naming the fix, when the major version and the protocol version differ', () => {
    // scripts/client-lib-package.mjs in a scratch tree laid out like the repository, with a package of another major.
    const tree = mkdtempSync(join(tmpdir(), 'client-lib-version-'));
    for (const dir of ['scripts', 'client-lib', 'dist/client-lib']) mkdirSync(join(tree, dir), { recursive: true });
    copyFileSync(join(root, 'scripts/client-lib-package.mjs'), join(tree, 'scripts/client-lib-package.mjs'));
    writeFileSync(join(tree, 'client-lib/README.md'), '# readme\n');
    writeFileSync(join(tree, 'dist/client-lib/index.js'), `export const PROTOCOL_VERSION = ${PROTOCOL_VERSION};\n`);
    const run = (version: string): { status: number; stderr: string } => {
      writeFileSync(join(tree, 'client-lib/package.json'), JSON.stringify({ name: NAME, version }));
      try {
        execFileSync(process.execPath, [join(tree, 'scripts/client-lib-package.mjs')], { stdio: 'pipe' });
        return { status: 0, stderr: '' };
      } catch (e) {
        const err = e as { status?: number; stderr?: Buffer };
        return { status: err.status ?? 1, stderr: String(err.stderr ?? '') };
      }
    };
    const wrong = run(`${PROTOCOL_VERSION + 1}.0.0`);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(`version ${PROTOCOL_VERSION + 1}.0.0 has major ${PROTOCOL_VERSION + 1}`);
    expect(wrong.stderr).toContain(`set the major to ${PROTOCOL_VERSION}`);
    expect(run(`${PROTOCOL_VERSION}.4.2`).status).toBe(0);
    expect(readJson(join(tree, 'dist/client-lib/package.json')).version).toBe(`${PROTOCOL_VERSION}.4.2`);
    expect(readFileSync(join(tree, 'dist/client-lib/index.d.ts'), 'utf8')).toContain('./types/client-lib/src/index.js');
    rmSync(tree, { recursive: true, force: true });
  });
});

/**
 * The layer boundaries in eslint.config.js, shown to fire: small in-memory sources linted as if they lived at core
 * and edge paths. Only the boundary rules run (the type-aware rules need files the TypeScript project knows).
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BOUNDARY_RULES = new Set(['no-restricted-imports', 'no-restricted-globals', 'no-restricted-syntax']);

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({
    cwd: ROOT,
    // The samples exist in memory only, so the project service cannot type them: lint them untyped.
    overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }],
    ruleFilter: ({ ruleId }) => BOUNDARY_RULES.has(ruleId),
  });
});

/** The boundary rules each finding came from, for `code` placed at `path` (relative to the repository root). */
async function findings(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` });
  if (result === undefined) throw new Error(`ESLint returned no result for ${path}`);
  const fatal = result.messages.filter((m) => m.fatal === true);
  if (fatal.length > 0) throw new Error(`${path}: ${fatal.map((m) => m.message).join('; ')}`);
  return result.messages.map((m) => m.ruleId ?? '(none)');
}

const CORES = ['ifd', 'ccid', 'pcsc', 'sim', 'protocol', 'util'];

describe('cores never import an edge or a Node module', () => {
  it.each(CORES)('src/%s may not import src/usb, src/connector or src/host', async (core) => {
    const code = [
      "import { UsbDeviceManager } from '../usb/device-manager.js';",
      "import type { ConnectorRouter } from '../connector/router.js';",
      "export { openPcsc } from '../host/index.js';",
      'export const used = [UsbDeviceManager, null as ConnectorRouter | null];',
    ].join('\n');
    expect(await findings(`src/${core}/probe.ts`, code)).toEqual([
      'no-restricted-imports',
      'no-restricted-imports',
      'no-restricted-imports',
    ]);
  });

  it('holds in a subfolder too (src/sim/reader)', async () => {
    const code = "import { UsbDeviceManager } from '../../usb/index.js';\nexport const m = UsbDeviceManager;\n";
    expect(await findings('src/sim/reader/probe.ts', code)).toEqual(['no-restricted-imports']);
  });

  it.each(["'node:fs'", "'fs'", "'node:events'", "'events'", "'usb'"])('a core may not import %s', async (spec) => {
    expect(await findings('src/ccid/probe.ts', `import * as m from ${spec};\nexport const x = m;\n`)).toEqual([
      'no-restricted-imports',
    ]);
  });

  it('nor load an edge or a Node module dynamically', async () => {
    const code = "export const a = import('../connector/service.js');\nexport const b = import('node:fs');\n";
    expect(await findings('src/pcsc/probe.ts', code)).toEqual(['no-restricted-syntax', 'no-restricted-syntax']);
  });

  it('imports between cores and within a core are fine', async () => {
    const code = [
      "import { DriverError } from '../ifd/errors.js';",
      "import { parseAtr } from '../ccid/atr.js';",
      "import { hostile } from './host-like-name.js';",
      'export const x = [DriverError, parseAtr, hostile];',
    ].join('\n');
    expect(await findings('src/sim/probe.ts', code)).toEqual([]);
  });
});

describe('src/pcsc never imports src/ccid', () => {
  it('flags a value import and a type-only import from the CCID driver', async () => {
    const code = [
      "import { buildReaderName } from '../ccid/reader-name.js';",
      "import type { CcidReader } from '../ccid/reader.js';",
      'export const x: [unknown, CcidReader | null] = [buildReaderName, null];',
    ].join('\n');
    expect(await findings('src/pcsc/probe.ts', code)).toEqual(['no-restricted-imports', 'no-restricted-imports']);
  });

  it('still applies the core rules in src/pcsc', async () => {
    expect(await findings('src/pcsc/probe.ts', "import '../usb/index.js';\nimport 'node:net';\n")).toEqual([
      'no-restricted-imports',
      'no-restricted-imports',
    ]);
  });

  it('lets src/pcsc import the driver interface in src/ifd', async () => {
    const code = "import type { IfdReader } from '../ifd/ifd.js';\nexport type R = IfdReader;\n";
    expect(await findings('src/pcsc/probe.ts', code)).toEqual([]);
  });
});

describe('cores name no platform API', () => {
  const uses: [string, string][] = [
    ['chrome', 'export const p = chrome.runtime.id;'],
    ['navigator', 'export const p = navigator.usb;'],
    ['window', 'export const p = window.location;'],
    ['document', 'export const p = document.title;'],
    ['process', 'export const p = process.env;'],
    ['Buffer', 'export const p = Buffer.from([1]);'],
  ];
  it.each(CORES.flatMap((core) => uses.map(([name, code]) => [core, name, code] as const)))(
    'src/%s may not use %s',
    async (core, _name, code) => {
      expect(await findings(`src/${core}/probe.ts`, code)).toEqual(['no-restricted-globals']);
    },
  );

  it('not even through globalThis', async () => {
    const code = 'export const a = globalThis.chrome;\nexport const b = globalThis.navigator;\n';
    expect(await findings('src/util/probe.ts', code)).toEqual(['no-restricted-syntax', 'no-restricted-syntax']);
  });

  it('a local binding with a platform name is not the platform', async () => {
    const code =
      'export function f(process: number, navigator: string): string {\n  return `${process}${navigator}`;\n}\n';
    expect(await findings('src/sim/probe.ts', code)).toEqual([]);
  });
});

describe('edges are free to use the platform', () => {
  it.each(['src/usb/probe.ts', 'src/connector/probe.ts', 'src/host/probe.ts', 'test/unit/probe.test.ts'])(
    '%s may use chrome, navigator, process and Node modules',
    async (path) => {
      const code = [
        "import { readFileSync } from 'node:fs';",
        "import { UsbDeviceManager } from '../usb/index.js';",
        "import { CcidReader } from '../ccid/reader.js';",
        'export const x = [readFileSync, UsbDeviceManager, CcidReader, navigator.usb, process.env, chrome.runtime];',
      ].join('\n');
      expect(await findings(path, code)).toEqual([]);
    },
  );
});

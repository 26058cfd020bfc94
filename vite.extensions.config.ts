import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/**
 * Builds the two Chrome extensions, each into a folder Chrome loads unpacked. One config, switched by `--mode`:
 *
 *   vite build -c vite.extensions.config.ts --mode connector        → dist/connector
 *   vite build -c vite.extensions.config.ts --mode hello-world-app  → dist/hello-world-app
 *   vite build -c vite.extensions.config.ts --mode connector-test   → dist/connector-test (the connector plus the
 *       test hooks of test/e2e/hooks, for the end-to-end tests only; same key, hence the same extension id)
 *   vite build -c vite.extensions.config.ts --mode test-client      → dist/test-client (the e2e tests' third extension)
 *
 * MV3 constraints: the service worker is an ES module (`"type": "module"`) because the page and the worker share
 * chunks; file names are stable (`[name].js`) so manifest.json can name them; no module-preload polyfill (it touches
 * `document`, which a worker lacks).
 */

const here = import.meta.dirname;
const pkg = JSON.parse(readFileSync(resolve(here, 'package.json'), 'utf8')) as { version: string };

interface Target {
  root: string;
  outDir: string;
  manifest: string;
  input: Record<string, string>;
  nameSuffix?: string;
}

const TARGETS: Record<string, Target> = {
  connector: {
    root: 'src/connector',
    outDir: 'dist/connector',
    manifest: 'manifest.json',
    input: { background: 'src/connector/background.ts', page: 'src/connector/pages/index.html' },
  },
  'connector-test': {
    root: 'src/connector',
    outDir: 'dist/connector-test',
    manifest: 'manifest.json',
    input: { background: 'test/e2e/hooks/connector-test-background.ts', page: 'src/connector/pages/index.html' },
    nameSuffix: ' (test build)',
  },
  'hello-world-app': {
    root: 'hello-world-app',
    outDir: 'dist/hello-world-app',
    manifest: 'hello-world-app/manifest.json',
    input: { background: 'hello-world-app/background.ts', app: 'hello-world-app/index.html' },
  },
  'test-client': {
    root: 'test/e2e/client-extension',
    outDir: 'dist/test-client',
    manifest: 'test/e2e/client-extension/manifest.json',
    input: { page: 'test/e2e/client-extension/index.html' },
  },
};

/** Emits the extension's manifest.json with the package version (and the test build's name). */
function manifestPlugin(target: Target): Plugin {
  return {
    name: 'extension-manifest',
    generateBundle() {
      const manifest = JSON.parse(readFileSync(resolve(here, target.manifest), 'utf8')) as Record<string, unknown>;
      manifest['version'] = pkg.version;
      if (target.nameSuffix) manifest['name'] = `${String(manifest['name'])}${target.nameSuffix}`;
      this.emitFile({ type: 'asset', fileName: 'manifest.json', source: `${JSON.stringify(manifest, null, 2)}\n` });
    },
  };
}

export default defineConfig(({ mode }) => {
  const target = TARGETS[mode];
  if (!target) throw new Error(`vite.extensions.config.ts: unknown --mode ${mode} (one of ${Object.keys(TARGETS).join(', ')})`);
  const input = Object.fromEntries(Object.entries(target.input).map(([k, v]) => [k, resolve(here, v)]));
  return {
    root: resolve(here, target.root),
    base: '/',
    publicDir: false,
    logLevel: 'warn',
    plugins: [manifestPlugin(target)],
    build: {
      outDir: resolve(here, target.outDir),
      emptyOutDir: true,
      target: 'chrome118',
      minify: false,
      sourcemap: true,
      modulePreload: false,
      rollupOptions: {
        input,
        output: {
          format: 'es',
          entryFileNames: '[name].js',
          chunkFileNames: 'chunks/[name]-[hash].js',
          assetFileNames: 'assets/[name]-[hash][extname]',
        },
      },
    },
  };
});

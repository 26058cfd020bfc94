import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { build, defineConfig, type Plugin } from 'vite';
import { privateMembersPlugin } from './scripts/private-members.mjs';

/**
 * Builds the two Chrome extensions, each into a folder Chrome loads unpacked. One config, switched by `--mode`:
 *
 *   vite build -c vite.extensions.config.ts --mode connector        → dist/connector
 *   vite build -c vite.extensions.config.ts --mode hello-world-app  → dist/hello-world-app
 *   vite build -c vite.extensions.config.ts --mode connector-test   → dist/connector-test (the connector plus the
 *       test hooks of test/e2e/hooks, for the end-to-end tests only; same key, hence the same extension id)
 *   vite build -c vite.extensions.config.ts --mode test-client      → dist/test-client (the e2e tests' third extension)
 *   vite build -c vite.extensions.config.ts --mode test-client-b    → dist/test-client-b (the same page with another key,
 *       hence another extension id: the isolation tests' second client)
 *
 * MV3 constraints: file names are stable (`[name].js`) so manifest.json can name them; no module-preload polyfill (it
 * touches `document`, which a worker lacks).
 *
 * The connector's service worker is a classic script, one file (an IIFE), built by a second pass after the pages (see
 * classicWorkerPlugin): Chrome keeps a V8 code cache for an installed classic service-worker script and none for a
 * module one (issue 14, bench/README.md "Worker cold start"). The hello-world app's worker stays an ES module.
 */

const here = import.meta.dirname;
const pkg = JSON.parse(readFileSync(resolve(here, 'package.json'), 'utf8')) as { version: string };

interface Target {
  root: string;
  outDir: string;
  manifest: string;
  input: Record<string, string>;
  nameSuffix?: string;
  /** Files copied into the extension: source path → name in the extension. */
  copy?: Record<string, string>;
  /** Permissions added to the manifest (the test build's "management", to disable a client extension). */
  extraPermissions?: string[];
  /** The service worker's entry, built on its own as a classic script into background.js (classicWorkerPlugin). */
  classicWorker?: string;
}

const CONNECTOR_PAGES = { page: 'src/connector/pages/index.html', prompt: 'src/connector/pages/prompt.html' };
/** The managed-storage schema manifest.json names (administrator policy). */
const CONNECTOR_COPY = { 'src/connector/schema.json': 'schema.json' };

const TARGETS: Record<string, Target> = {
  connector: {
    root: 'src/connector',
    outDir: 'dist/connector',
    manifest: 'manifest.json',
    input: CONNECTOR_PAGES,
    classicWorker: 'src/connector/background.ts',
    copy: CONNECTOR_COPY,
  },
  'connector-test': {
    root: 'src/connector',
    outDir: 'dist/connector-test',
    manifest: 'manifest.json',
    input: CONNECTOR_PAGES,
    classicWorker: 'test/e2e/hooks/connector-test-background.ts',
    nameSuffix: ' (test build)',
    copy: CONNECTOR_COPY,
    extraPermissions: ['management'],
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
  'test-client-b': {
    root: 'test/e2e/client-extension',
    outDir: 'dist/test-client-b',
    manifest: 'test/e2e/client-extension/manifest-b.json',
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
      if (target.extraPermissions)
        manifest['permissions'] = [
          ...((manifest['permissions'] as string[] | undefined) ?? []),
          ...target.extraPermissions,
        ];
      this.emitFile({ type: 'asset', fileName: 'manifest.json', source: `${JSON.stringify(manifest, null, 2)}\n` });
      for (const [from, to] of Object.entries(target.copy ?? {})) {
        this.emitFile({ type: 'asset', fileName: to, source: readFileSync(resolve(here, from), 'utf8') });
      }
    },
  };
}

/**
 * Builds the service worker as a classic script, background.js, once the pages are written: one IIFE with everything
 * it imports inlined (a classic worker has no `import`; the chunks the pages share stay theirs). Why classic: Chrome
 * stores a V8 code cache beside an installed service worker's classic script (produced after its first run, handed
 * back with the script at every start: a restart compiles in a few ms instead of parsing the whole bundle) but none
 * for a module worker's scripts (`meta_data_size: 0` in the browser's trace at every start). `strict`: the module
 * build ran in strict mode, so does this one.
 */
function classicWorkerPlugin(target: Target, entry: string): Plugin {
  return {
    name: 'classic-service-worker',
    apply: 'build',
    async closeBundle() {
      await build({
        configFile: false,
        root: resolve(here, target.root),
        base: '/',
        publicDir: false,
        logLevel: 'warn',
        // The same renaming of private members as the pages' chunks (a configFile-less build has no plugins of its own).
        plugins: [privateMembersPlugin()],
        build: {
          outDir: resolve(here, target.outDir),
          emptyOutDir: false,
          target: 'chrome118',
          minify: true,
          sourcemap: true,
          modulePreload: false,
          rollupOptions: {
            input: { background: resolve(here, entry) },
            output: { format: 'iife', entryFileNames: '[name].js', strict: true },
          },
        },
      });
    },
  };
}

export default defineConfig(({ mode }) => {
  const target = TARGETS[mode];
  if (!target)
    throw new Error(`vite.extensions.config.ts: unknown --mode ${mode} (one of ${Object.keys(TARGETS).join(', ')})`);
  const input = Object.fromEntries(Object.entries(target.input).map(([k, v]) => [k, resolve(here, v)]));
  return {
    root: resolve(here, target.root),
    base: '/',
    publicDir: false,
    logLevel: 'warn',
    // TypeScript `private` members renamed in every chunk (issue 14; scripts/private-members.mjs says which are safe).
    plugins: [
      manifestPlugin(target),
      privateMembersPlugin(),
      ...(target.classicWorker ? [classicWorkerPlugin(target, target.classicWorker)] : []),
    ],
    build: {
      outDir: resolve(here, target.outDir),
      emptyOutDir: true,
      target: 'chrome118',
      // Release bundles are minified, their source maps kept beside them (issue 14: background.js ≤ 200 KB).
      minify: true,
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

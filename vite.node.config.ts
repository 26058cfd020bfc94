import { defineConfig } from 'vite';

/**
 * Builds the Node-side programs (the command-line hello-world run and the benchmarks) into plain ES modules under
 * dist/node, so they run on Node 20 without a TypeScript loader: `node dist/node/<name>.js`.
 */
export default defineConfig({
  build: {
    ssr: true,
    outDir: 'dist/node',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    sourcemap: true,
    rollupOptions: {
      input: {
        'hello-world': 'scripts/hello-world.ts',
        bench: 'bench/run.ts',
        'host-serve': 'bench/host-serve.ts',
        'profile-t1': 'bench/profile-t1.ts',
        'profile-chromium': 'bench/profile-chromium.ts',
        'profile-cold': 'bench/profile-cold.ts',
        'host-pipe': 'bench/host-pipe.ts',
        'host-worker': 'bench/host-worker.ts',
      },
      // scripts/chromium.mjs finds the project from its own location: it must stay where it is, not be inlined.
      external: (id: string) => /(^|\/)scripts\/chromium\.mjs$/.test(id) || id === 'playwright-core',
      output: {
        entryFileNames: '[name].js',
        format: 'es',
        paths: (id: string) => (/(^|\/)scripts\/chromium\.mjs$/.test(id) ? '../../scripts/chromium.mjs' : id),
      },
    },
  },
  logLevel: 'warn',
});

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
      },
      output: { entryFileNames: '[name].js', format: 'es' },
    },
  },
  logLevel: 'warn',
});

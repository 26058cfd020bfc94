import { defineConfig } from 'vite';

/**
 * Builds the Node host into plain ES modules under dist/host, so it runs on Node 20 from a fresh checkout after
 * `npm ci` with no TypeScript loader: `node dist/host/cli.js` (the `smart-card-host` bin) and `dist/host/index.js`
 * (the library entry, `openPcsc`). node-usb and koffi stay external: their native binaries load from node_modules.
 */
export default defineConfig({
  build: {
    ssr: true,
    outDir: 'dist/host',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    sourcemap: true,
    rollupOptions: {
      input: {
        cli: 'src/host/cli.ts',
        index: 'src/host/index.ts',
      },
      external: (id: string) => id === 'usb' || id === 'koffi' || id.startsWith('node:'),
      output: {
        entryFileNames: '[name].js',
        chunkFileNames: 'chunks/[name]-[hash].js',
        format: 'es',
        // The bin is executed directly once npm links it.
        banner: (chunk: { name: string; isEntry: boolean }) =>
          chunk.isEntry && chunk.name === 'cli' ? '#!/usr/bin/env node' : '',
      },
    },
  },
  logLevel: 'warn',
});

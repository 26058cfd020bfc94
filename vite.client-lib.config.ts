import { resolve } from 'node:path';
import { defineConfig } from 'vite';

/**
 * The client library as one ES module, dist/client-lib/index.js, for any extension to import or bundle. Its types are
 * emitted beside it by `tsc -p client-lib/tsconfig.build.json` (dist/client-lib/index.d.ts).
 */
const here = import.meta.dirname;

export default defineConfig({
  logLevel: 'warn',
  build: {
    outDir: resolve(here, 'dist/client-lib'),
    emptyOutDir: true,
    target: 'chrome118',
    minify: false,
    sourcemap: true,
    lib: {
      entry: resolve(here, 'client-lib/src/index.ts'),
      formats: ['es'],
      fileName: () => 'index.js',
    },
  },
});

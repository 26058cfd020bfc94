import { resolve } from 'node:path';
import { defineConfig } from 'vite';

/**
 * The client library as one ES module, dist/client-lib/index.js, for any extension to import or bundle: the first step
 * of `npm run build:client-lib`. Then `tsc -p client-lib/tsconfig.build.json` emits its declarations under
 * dist/client-lib/types/ and scripts/client-lib-package.mjs adds index.d.ts, package.json and README.md, which makes
 * dist/client-lib/ the npm package @smart-card-connector/client (`npm pack dist/client-lib`). Everything the library
 * imports is bundled in, so the package has no dependencies.
 */
const here = import.meta.dirname;

export default defineConfig({
  logLevel: 'warn',
  build: {
    outDir: resolve(here, 'dist/client-lib'),
    emptyOutDir: true,
    target: 'chrome118',
    // Minified, with the source map beside it (issue 14: the client library ≤ 25 KB).
    minify: true,
    sourcemap: true,
    // Vite leaves whitespace in an ES library (its minifier's codegen off, to keep the /* @__PURE__ */ annotations a
    // bundler downstream tree-shakes by); rolldown's codegen keeps those annotations anyway, so whitespace goes too.
    rolldownOptions: { output: { minify: { codegen: true } } },
    lib: {
      entry: resolve(here, 'client-lib/src/index.ts'),
      formats: ['es'],
      fileName: () => 'index.js',
    },
  },
});

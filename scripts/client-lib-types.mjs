// Writes dist/client-lib/index.d.ts, the entry of the declarations tsc emitted under dist/client-lib/types/.
import { writeFileSync } from 'node:fs';
writeFileSync(
  new URL('../dist/client-lib/index.d.ts', import.meta.url),
  "export * from './types/client-lib/src/index.js';\n",
);

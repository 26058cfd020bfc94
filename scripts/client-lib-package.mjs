// Completes dist/client-lib/ into the npm package `npm pack` packs (client-lib/package.json says what it holds):
// index.js (vite), the declarations tsc emitted under types/, and from here the entry index.d.ts, package.json and
// README.md.
// The build fails when the package's major version is not the protocol version the built library speaks (the version
// policy of docs/protocol.md), so a package that would mislead its users is never produced.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';

const src = new URL('../client-lib/', import.meta.url);
const dist = new URL('../dist/client-lib/', import.meta.url);

writeFileSync(new URL('index.d.ts', dist), "export * from './types/client-lib/src/index.js';\n");
copyFileSync(new URL('package.json', src), new URL('package.json', dist));
copyFileSync(new URL('README.md', src), new URL('README.md', dist));

const pkg = JSON.parse(readFileSync(new URL('package.json', dist), 'utf8'));
const { PROTOCOL_VERSION } = await import(new URL('index.js', dist).href);
const major = Number(/^(\d+)\./.exec(String(pkg.version))?.[1]);
if (major !== PROTOCOL_VERSION) {
  console.error(
    `client-lib/package.json: version ${pkg.version} has major ${major}, but the library speaks protocol version ` +
      `${PROTOCOL_VERSION}; docs/protocol.md ("Versions") ties the two: set the major to ${PROTOCOL_VERSION}.`,
  );
  process.exit(1);
}

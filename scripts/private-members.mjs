#!/usr/bin/env node
/**
 * The class members the release bundles may rename (issue 14: the connector's worker is compiled afresh at every
 * start, and TypeScript `private` members keep their full names in minified code, where `#private` ones are already
 * renamed). Writes scripts/private-members.json, which vite.extensions.config.ts reads:
 *
 *   node scripts/private-members.mjs           # rewrite the list
 *   node scripts/private-members.mjs --check   # exit 1 if the list is not what the sources give (the unit test)
 *
 * A name is listed only if the TypeScript program of tsconfig.json (src, client-lib, hello-world-app, test, bench,
 * scripts, with the DOM, chrome, WebUSB and Node types) proves it is internal:
 * - it is declared somewhere as a `private` or `protected` class member (property, method, accessor, parameter
 *   property) of our own sources, and never declared as anything else, by us or by any library type (a public member,
 *   an interface or type member, an object literal key, a destructured name, an enum member): a property that crosses
 *   a boundary (message fields, chrome.* and DOM APIs, storage keys, the client library's API) is declared as such;
 * - every property access `x.name` in our sources resolves to such a private or protected declaration (so not an
 *   access through `any`, as a test's `(obj as any).name`);
 * - it is no word of any string or template literal in our sources (no `obj['name']`, `'name' in obj`, or a field
 *   named by a string);
 * - it is longer than two characters (shorter ones gain nothing).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PRIVATE_MEMBERS_JSON = join(root, 'scripts/private-members.json');

/** The internal member names of the program of `tsconfig` (see the header), sorted. */
export async function findPrivateMembers(tsconfig = join(root, 'tsconfig.json')) {
  // Loaded here only: the build reads the list, and never needs the compiler.
  const { default: ts } = await import('typescript');
  const INTERNAL = ts.ModifierFlags.Private | ts.ModifierFlags.Protected;
  const parsed = ts.getParsedCommandLineOfConfigFile(
    tsconfig,
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic() {} },
  );
  if (!parsed) throw new Error(`cannot read ${tsconfig}`);
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  const checker = program.getTypeChecker();
  const internal = new Set();
  const excluded = new Set();
  const isOurs = (sf) => !sf.fileName.includes('/node_modules/') && !sf.isDeclarationFile;
  const nameText = (name) =>
    name &&
    (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isPrivateIdentifier(name))
      ? name.text
      : undefined;
  const isMember = (n) =>
    ts.isPropertyDeclaration(n) ||
    ts.isMethodDeclaration(n) ||
    ts.isGetAccessorDeclaration(n) ||
    ts.isSetAccessorDeclaration(n) ||
    (ts.isParameter(n) && ts.isConstructorDeclaration(n.parent) && ts.isParameterPropertyDeclaration(n, n.parent));
  const isInternalDeclaration = (d) => isMember(d) && (ts.getCombinedModifierFlags(d) & INTERNAL) !== 0;
  const words = (text) => {
    for (const w of text.split(/[^A-Za-z0-9_$]+/)) if (w) excluded.add(w);
  };

  for (const sf of program.getSourceFiles()) {
    const ours = isOurs(sf);
    const visit = (n) => {
      if (ours && (ts.isStringLiteralLike(n) || ts.isTemplateLiteralToken(n))) words(n.text);
      const name = nameText(n.name);
      if (name !== undefined && !ts.isPrivateIdentifier(n.name)) {
        if (ours && isInternalDeclaration(n)) internal.add(name);
        else if (
          isMember(n) ||
          ts.isPropertySignature(n) ||
          ts.isMethodSignature(n) ||
          ts.isPropertyAssignment(n) ||
          ts.isShorthandPropertyAssignment(n) ||
          ts.isEnumMember(n) ||
          (ts.isBindingElement(n) && ts.isObjectBindingPattern(n.parent))
        )
          excluded.add(name);
      }
      if (ts.isBindingElement(n) && n.propertyName) {
        const property = nameText(n.propertyName);
        if (property !== undefined) excluded.add(property);
      }
      if (ours && ts.isPropertyAccessExpression(n) && !ts.isPrivateIdentifier(n.name)) {
        const symbol = checker.getSymbolAtLocation(n.name);
        const declarations = symbol?.declarations ?? [];
        if (declarations.length === 0 || !declarations.every(isInternalDeclaration)) excluded.add(n.name.text);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return [...internal].filter((name) => !excluded.has(name) && name.length > 2).sort();
}

/** The list as scripts/private-members.json holds it. */
export function readPrivateMembers() {
  return JSON.parse(readFileSync(PRIVATE_MEMBERS_JSON, 'utf8'));
}

/**
 * The fixed new name of each listed member: `$` and one or two characters, the same in every chunk (a protected member
 * is read in a subclass's module, which may be bundled into another chunk). No property of our sources starts with
 * `$` (the listed names are words of no string, and `$` starts none of them), so a new name meets no old one.
 */
export function privateMemberNames(names = readPrivateMembers()) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$';
  const short = (i) =>
    i < alphabet.length
      ? `$${alphabet[i]}`
      : `$${alphabet[Math.floor(i / alphabet.length) - 1]}${alphabet[i % alphabet.length]}`;
  return Object.fromEntries(names.map((name, i) => [name, short(i)]));
}

/**
 * A Vite/Rolldown plugin renaming the listed members in every chunk, before the minifier's own pass, with oxc's
 * property mangler (rolldown's `minify.mangleProps` works on single-chunk builds only; the connector's pages and worker
 * share chunks). Only the listed names are touched, each to its fixed name of `privateMemberNames`; the source map of
 * the pass is chained to the chunk's.
 */
export function privateMembersPlugin() {
  const cache = privateMemberNames();
  const names = Object.keys(cache);
  const include = new RegExp(`^(?:${names.join('|')})$`);
  return {
    name: 'private-members',
    async renderChunk(code, chunk) {
      const { minifySync } = await import('rolldown/utils');
      const result = minifySync(chunk.fileName, code, {
        module: true,
        compress: false,
        mangle: false,
        codegen: { removeWhitespace: false },
        sourcemap: true,
        mangleProps: { include, cache },
      });
      if (result.errors.length > 0) {
        throw new Error(`private-members: ${chunk.fileName}: ${result.errors.map((e) => e.message).join('; ')}`);
      }
      return { code: result.code, map: result.map };
    },
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = await findPrivateMembers();
  const text = `${JSON.stringify(names, null, 2)}\n`;
  if (process.argv.includes('--check')) {
    if (readFileSync(PRIVATE_MEMBERS_JSON, 'utf8') !== text) {
      console.error('scripts/private-members.json is stale: run node scripts/private-members.mjs');
      process.exit(1);
    }
  } else {
    writeFileSync(PRIVATE_MEMBERS_JSON, text);
    console.log(`${names.length} names written to scripts/private-members.json`);
  }
}

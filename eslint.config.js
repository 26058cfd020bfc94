// ESLint flat config: type-aware promise rules everywhere, and the layer boundaries of the stack.
// The cores (ifd, ccid, pcsc, sim, protocol, util) run unchanged in a Chrome extension, a web page and Node, so they
// name no platform API and import no edge; tsconfig.core.json enforces the same from the compiler's side.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const CORES = ['ifd', 'ccid', 'pcsc', 'sim', 'protocol', 'util'];
const EDGES = ['usb', 'connector', 'host'];

// Relative imports are matched by directory segment: no core has a subfolder named like an edge, and the same regex
// catches the npm package `usb` (node-usb), which a core must not load either.
const edgeImports = {
  regex: `(^|/)(${EDGES.join('|')})(/|$)`,
  message: 'A core (ifd, ccid, pcsc, sim, protocol, util) never imports an edge (usb, connector, host): inject it.',
};
const nodeImports = {
  regex: '^node:',
  message: 'A core never imports a Node module: it must run unchanged in the browser.',
};
const nodeBuiltins = builtinModules
  .filter((name) => !name.startsWith('_'))
  .map((name) => ({ name, message: 'A core never imports a Node module: it must run unchanged in the browser.' }));
// pcscd talks to drivers only through ifdhandler.h; here that is src/ifd, never the CCID driver itself.
const ccidImports = {
  regex: '(^|/)ccid(/|$)',
  message: 'src/pcsc depends on the driver interface in src/ifd, never on src/ccid (as pcscd on ifdhandler.h).',
};

const PLATFORM_GLOBALS = [
  'chrome',
  'browser',
  'navigator',
  'window',
  'self',
  'document',
  'location',
  'localStorage',
  'sessionStorage',
  'indexedDB',
  'fetch',
  'XMLHttpRequest',
  'WebSocket',
  'process',
  'Buffer',
  'global',
  'require',
  'module',
  '__dirname',
  '__filename',
  'setImmediate',
];
const restrictedGlobals = PLATFORM_GLOBALS.map((name) => ({
  name,
  message: `A core names no platform API (\`${name}\`): take what it needs as a parameter or an injected interface.`,
}));
const platformAlternation = PLATFORM_GLOBALS.join('|');
const restrictedSyntax = [
  {
    // `globalThis.chrome` and friends would slip past no-restricted-globals.
    selector: `MemberExpression[object.name='globalThis'][property.name=/^(${platformAlternation})$/]`,
    message: 'A core names no platform API, not even through globalThis.',
  },
  {
    // no-restricted-imports sees static imports only.
    selector: `ImportExpression[source.value=/^node:|(^|\\/)(${EDGES.join('|')})(\\/|$)/]`,
    message: 'A core never loads an edge or a Node module, not even dynamically.',
  },
];

const coreFiles = (dir) => [`src/${dir}/**/*.ts`];

export default defineConfig(
  {
    ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'test/e2e/screenshots/**', '.eslintcache'],
  },
  js.configs.recommended,
  // Type-aware: the must-haves are no-floating-promises and no-misused-promises (an unawaited transfer or an async
  // listener whose rejection nobody sees is how a reader silently wedges).
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Off: a method is `async` to honour an async interface (USBDevice, IfdReader, the client API) and so that a
      // throw becomes a rejection; dropping `async` where nothing is awaited would change that behaviour.
      '@typescript-eslint/require-await': 'off',
      // `_name` marks a parameter an interface imposes, or a property left out of a rest copy.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // A value a type guard rejected is `never` to TypeScript, yet an untyped caller can pass anything: the error
      // message still names what came (`got ${input.index}`).
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNever: true }],
      // Rethrowing what a catch caught (an `unknown`) through Promise.reject is not inventing a non-Error reason.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // Off: it counts `this.#timer ??= setTimeout(...)` as a write only, and that latch idiom is used on purpose.
      'no-unused-private-class-members': 'off',
      // Off: compile-time proofs (a union of `Exclude<...>` terms that must all be `never`) are redundant by design.
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      '@typescript-eslint/no-duplicate-type-constituents': 'off',
    },
  },
  {
    // Tests and benchmarks feed ill-typed and hostile values on purpose (`as any`, untyped page.evaluate results) and
    // assert types for the reader's sake; the type-safety rules would only force casts that say nothing.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Fakes throw whatever value a test scripted, to show that non-Error throws are handled.
      '@typescript-eslint/only-throw-error': 'off',
    },
  },
  {
    // Plain JavaScript (this file, scripts/*.mjs) is outside tsconfig.json: lint it without type information.
    files: ['**/*.{js,mjs,cjs}'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  {
    files: ['**/*.d.ts', '**/*.d.mts'],
    ...tseslint.configs.disableTypeChecked,
  },
  // Layer boundaries. In a flat config a later entry replaces a rule's options, so src/pcsc restates the core lists.
  {
    files: CORES.flatMap(coreFiles),
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins, patterns: [edgeImports, nodeImports] }],
      'no-restricted-globals': ['error', ...restrictedGlobals],
      'no-restricted-syntax': ['error', ...restrictedSyntax],
    },
  },
  {
    files: coreFiles('pcsc'),
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins, patterns: [edgeImports, nodeImports, ccidImports] }],
    },
  },
  // Last: turn off every stylistic rule Prettier owns.
  prettier,
);

// ESLint flat config: type-aware typescript-eslint rules for the TypeScript project (every
// folder in tsconfig.json's `include`, and console/ under its own tsconfig.json), plain
// recommended rules for the few CommonJS scripts.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// The Node globals the JavaScript files use (the `globals` package is not a dependency).
const nodeGlobals = Object.fromEntries(
  [
    'require',
    'module',
    'exports',
    '__dirname',
    '__filename',
    'process',
    'console',
    'Buffer',
    'URL',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
  ].map((name) => [name, 'readonly']),
);

// No unused code; a leading underscore marks a binding kept on purpose (a positional argument).
const unusedVars = [
  'error',
  {
    vars: 'all',
    args: 'after-used',
    caughtErrors: 'all',
    ignoreRestSiblings: true,
    argsIgnorePattern: '^_',
    varsIgnorePattern: '^_',
    caughtErrorsIgnorePattern: '^_',
  },
];

export default defineConfig(
  {
    ignores: ['node_modules/', 'cdk.out/', '.lwmqn/', '.bench-cache/', 'coverage/', 'dist/'],
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': unusedVars,
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `import x = require('x')` is the typed import of an `export =` module (lwm2m-id).
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
      // Passing on a caught error (`catch (err) { reject(err) }`) is fine, as only-throw-error allows.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // In-memory implementations of Promise-returning ports are `async` without awaiting, so a throw becomes a rejection.
      '@typescript-eslint/require-await': 'off',
      // Client ids and topic levels are checked for control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read untyped JSON (HTTP bodies, MQTT payloads, synthesized templates) and the
      // untyped mqtt-node client, and poke at them as `any`.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // `expect(obj.method).toHaveBeenCalled()` and jest.fn() fakes name methods unbound.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', globals: nodeGlobals },
    rules: { 'no-unused-vars': unusedVars },
  },
  {
    files: ['**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
    rules: { 'no-unused-vars': unusedVars },
  },
);

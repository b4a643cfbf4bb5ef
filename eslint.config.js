// Flat ESLint config: JavaScript + TypeScript (typescript-eslint) + Svelte 5.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

/** The isomorphic core domains (src/lib/<domain>). */
const CORE = ['pki', 'cms', 'sesam', 'trust', 'time', 'card', 'billing', 'access', 'mss'];
/** Packages that do I/O: only adapters use them. */
const NODE_OR_BROWSER_IO = ['@xmldom/xmldom', 'idb', 'ws', 'pg', 'better-sqlite3', 'pcsclite', 'ldapts', 'imapflow', 'sockopt', 'workbox-window'];

export default defineConfig(
  globalIgnores([
    'build/',
    '.svelte-kit/',
    'node_modules/',
    'static/',
    'dist/',
    'coverage/',
    '.cache/',
    'test-results/',
    'playwright-report/'
  ]),
  js.configs.recommended,
  ts.configs.recommended,
  svelte.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.browser, ...globals.node }
    },
    rules: {
      // TypeScript checks undefined names itself (svelte-check / tsc).
      'no-undef': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }]
    }
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts', '**/*.svelte.js'],
    languageOptions: {
      parserOptions: {
        extraFileExtensions: ['.svelte'],
        parser: ts.parser,
        svelteConfig
      }
    }
  },
  // Boundaries (docs/ARCHITECTURE.md): imports go down, never up. The core domains import only other
  // core domains and pure libraries; browser adapters, server code and the bridge import the
  // core, never each other.
  {
    files: CORE.map((domain) => `src/lib/${domain}/**`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/client/**', '$lib/client/**', '**/server/**', '$lib/server/**', '**/cli/**', '**/bridge/**', '**/routes/**'], message: 'The core imports no adapter (docs/ARCHITECTURE.md, principle 2).' },
            { group: ['$app/**', 'svelte', 'svelte/**', 'node:*', ...NODE_OR_BROWSER_IO], message: 'The core is isomorphic: I/O belongs to an adapter.' }
          ]
        }
      ]
    }
  },
  {
    files: ['src/lib/server/**', 'src/routes/api/**', 'src/hooks.server.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/bridge/**', '**/client/**', '$lib/client/**'], message: 'Server code imports the core, never the bridge or the browser adapters.' }] }
      ]
    }
  },
  {
    files: ['src/lib/client/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/server/**', '$lib/server/**', '**/bridge/**', '**/cli/**'], message: 'Browser adapters import the core, never server code or the bridge.' }] }
      ]
    }
  },
  {
    files: ['bridge/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/src/lib/client/**', '**/src/lib/server/**', '**/src/lib/cli/**', '**/src/routes/**'], message: 'The bridge imports only the shared core (src/lib/<domain>).' }] }
      ]
    }
  },
  {
    files: ['src/service-worker.ts'],
    languageOptions: { globals: { ...globals.serviceworker } }
  }
);

/** The pages the service worker precaches are the app's routes, no more, no less. */
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { expect, it } from 'vitest';
import { PAGES } from '../../src/lib/client/pages.js';

const ROUTES = join(import.meta.dirname, '../../src/routes');

function pages(dir: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) found.push(...pages(join(dir, e.name)));
    else if (e.name === '+page.svelte') found.push('/' + relative(ROUTES, dir).split(sep).filter(Boolean).join('/'));
  }
  return found;
}

it('lists every page route of src/routes (no parameter, no group), sorted', () => {
  const routes = pages(ROUTES).sort();
  expect(routes.every((r) => !/[[\]()]/.test(r))).toBe(true);
  expect([...PAGES]).toEqual(routes);
});

#!/usr/bin/env node
// Entry point of the `teletrans` command. The CLI is written in TypeScript (src/lib/cli/), shared
// with the browser core (src/lib/pki/); tsx compiles it on the fly, so `npx teletrans` works right
// after `npm install`, without a build step.
import { register } from 'tsx/esm/api';

// tsconfig: false — the CLI and the core use relative imports only, and the project's tsconfig
// extends a file SvelteKit generates (.svelte-kit/), which may not exist yet.
register({ tsconfig: false });
const { main } = await import(new URL('../src/lib/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));

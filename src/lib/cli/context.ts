/**
 * What a subcommand gets from the outside world: output channels, stdin, cwd and the PKI core.
 * Injected so that tests can run commands in-process with fakes; `defaultContext()` is the real one.
 * Node-only (never imported by the browser bundle).
 */
import type { DecodedItem, VerifyInput, VerifyResult } from '../pki/types.js';

/** The part of `src/lib/pki/index.ts` the CLI uses. */
export interface PkiCore {
  Verifier: new () => { verify(input: VerifyInput): Promise<VerifyResult> };
  decodeInput(data: Uint8Array | string): DecodedItem[];
  PkiError: new (...args: never[]) => Error & { code: string };
}

export interface Context {
  /** Writes one line (a newline is appended) to stdout, honouring back-pressure. */
  out(line: string): Promise<void>;
  /** Writes text to stderr as is. */
  err(text: string): void;
  stdin: NodeJS.ReadableStream;
  cwd: string;
  /** Loads the PKI core lazily, so that `--help` and usage errors never pay for it. */
  core(): Promise<PkiCore>;
}

/** A failure that ends a command (or one batch line) with exit code 2. */
export class CliError extends Error {
  /** "usage", "input_unreadable", or a PkiError code. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
  }
}

export function defaultContext(): Context {
  let stdoutClosed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    // `teletrans verify --batch … | head`: stop writing quietly once the reader is gone.
    if (e.code === 'EPIPE') stdoutClosed = true;
    else throw e;
  });
  return {
    out: (line) =>
      new Promise<void>((resolve) => {
        if (stdoutClosed || process.stdout.write(line + '\n')) resolve();
        else process.stdout.once('drain', resolve);
      }),
    err: (text) => void process.stderr.write(text),
    stdin: process.stdin,
    cwd: process.cwd(),
    core: async () => (await import('../pki/index.js')) as unknown as PkiCore,
  };
}

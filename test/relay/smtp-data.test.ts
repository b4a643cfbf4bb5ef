/**
 * The DATA check and escaping (src/lib/server/relay/smtp-data.ts): the native check
 * (native/smtp_data.c, built by the test command's scripts/build-native.sh) must agree with the
 * JavaScript one on every input, and the escaped body must equal what a byte-by-byte reading of
 * RFC 5321 §4.5.2 gives, whichever check chose the path. Random inputs from a seeded generator,
 * drawn from the bytes that matter (CR, LF, dot) plus one ordinary letter.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { dataBody, nativeWireClean, wireClean, wireCleanJs } from '../../src/lib/server/relay/smtp-data.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

/** RFC 5321 §4.5.2 read literally, one byte at a time: line ends to CRLF, leading dot doubled. */
function reference(raw: Uint8Array): string {
  const s = Buffer.from(raw).toString('latin1').replace(/\r\n|\r|\n/g, '\n');
  const lines = s.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => `${l.startsWith('.') ? '.' : ''}${l}\r\n`).join('') + '.\r\n';
}

const ALPHABET = [0x0d, 0x0a, 0x2e, 0x61];
const rand = prng(0x5e7d);
const inputs: Uint8Array[] = [new Uint8Array(0), Buffer.from('a\r\n'), Buffer.from('.'), Buffer.from('\r'), Buffer.from('\n'), Buffer.from('a\r\n.b')];
for (let i = 0; i < 4000; i++) {
  const n = Math.floor(rand() * 24);
  inputs.push(Uint8Array.from({ length: n }, () => ALPHABET[Math.floor(rand() * 4)]!));
}
// Long clean bodies with one fault placed at the start, the middle, and the end.
const clean = Buffer.from('abc\r\n'.repeat(20_000));
for (const at of [0, 1, 50_000, clean.length - 2, clean.length - 1]) {
  for (const fault of [0x0d, 0x0a, 0x2e]) {
    const b = Buffer.from(clean);
    b[at] = fault;
    inputs.push(b);
  }
}
inputs.push(clean);

describe('SMTP DATA check and escaping', () => {
  it('has the native check built (the test command builds it)', () => {
    expect(nativeWireClean).not.toBeNull();
    expect(wireClean).toBe(nativeWireClean);
  });

  it('native and JavaScript checks agree on every input', () => {
    const disagree = inputs.filter((b) => nativeWireClean!(b) !== wireCleanJs(b)).map((b) => Buffer.from(b).toString('latin1').slice(0, 30));
    expect(disagree).toEqual([]);
    // Both answers occur: the inputs exercise each branch.
    expect(inputs.filter((b) => wireCleanJs(b)).length).toBeGreaterThan(10);
    expect(inputs.filter((b) => !wireCleanJs(b)).length).toBeGreaterThan(1000);
  });

  it('escapes every input as RFC 5321 says', () => {
    const wrong = inputs.filter((b) => Buffer.concat(dataBody(b)).toString('latin1') !== reference(b)).map((b) => Buffer.from(b).toString('latin1').slice(0, 30));
    expect(wrong).toEqual([]);
  });

  it('sends a clean body without copying it', () => {
    const parts = dataBody(clean);
    expect(parts[0]!.buffer).toBe(clean.buffer);
    expect(parts).toHaveLength(2);
  });

  it('rejects a non-byte argument with a typed error', () => {
    expect(() => (nativeWireClean as unknown as (x: unknown) => boolean)('text')).toThrow(TypeError);
  });

  it('takes the JavaScript path with TELETRANS_NATIVE=off, with the same results', () => {
    const script = `import('./src/lib/server/relay/smtp-data.ts').then((m) => {
      const b = Buffer.from('a\\r\\n.b\\nc');
      console.log(JSON.stringify({ native: m.nativeWireClean !== null, body: Buffer.concat(m.dataBody(b)).toString('latin1') }));
    })`;
    const out = execFileSync('npx', ['tsx', '-e', script], { env: { ...process.env, TELETRANS_NATIVE: 'off' }, encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ native: false, body: 'a\r\n..b\r\nc\r\n.\r\n' });
  });
});

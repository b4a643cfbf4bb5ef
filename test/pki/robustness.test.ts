/**
 * Robustness of the PKI core against hostile or broken input: every call must end with a thrown
 * PkiError (decodeInput) or a `valid: false` result (verify) — never another exception type,
 * never a hang — within a generous time bound. Random cases use a seeded PRNG
 * (ROBUST_SEED=<n> to change it); each case's time is printed at the end.
 *
 * A watchdog thread kills the process if a case overruns its bound by 60 s, since a synchronous
 * infinite loop would otherwise block the test runner forever.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeInput, PkiError, Verifier, verify } from '../../src/lib/pki/index';
import type { VerifyInput, VerifyResult } from '../../src/lib/pki/types';
import { fastCert, genKey, issueCert, pem, sesamChain, type ForgeKey, type SesamChain, SESAM_EMAIL } from './fixtures/forge';
import { mulberry32 } from '../support/prng.js';

const SEED = Number(process.env.ROBUST_SEED ?? 0x5eed_2026);
const BOUND_MS = 20_000;
/** Past its bound a case fails; past bound + GRACE_MS the watchdog kills the process. */
const GRACE_MS = 60_000;

const prng = mulberry32;

function randomBytes(n: number, rnd: () => number): Uint8Array {
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  let i = 0;
  for (; i + 4 <= n; i += 4) view.setUint32(i, (rnd() * 2 ** 32) >>> 0);
  for (; i < n; i++) out[i] = (rnd() * 256) | 0;
  return out;
}

// ---- watchdog and timing ------------------------------------------------------------------------

const shared = new SharedArrayBuffer(4 + 4 + 256);
const deadline = new Int32Array(shared, 0, 2); // [deadline ms since base (0 = idle), label length]
const labelBytes = new Uint8Array(shared, 8, 256);
const BASE = Date.now();
const watchdog = new Worker(
  `const { workerData: { shared, base } } = require('node:worker_threads');
   const { writeSync } = require('node:fs');
   const d = new Int32Array(shared, 0, 2), l = new Uint8Array(shared, 8, 256);
   setInterval(() => {
     const t = Atomics.load(d, 0);
     if (t && Date.now() - base > t) {
       const label = Buffer.from(l.slice(0, Atomics.load(d, 1))).toString();
       // writeSync: the main thread is presumably stuck, so async stderr would never flush.
       writeSync(2, '\\nrobustness watchdog: case "' + label + '" overran its bound by ${GRACE_MS / 1000} s: killing the process\\n');
       process.kill(process.pid, 'SIGKILL');
     }
   }, 250);`,
  { eval: true, workerData: { shared, base: BASE } },
);
watchdog.unref();

const timings: Array<{ label: string; ms: number; n: number; note?: string }> = [];

/** Runs `fn` under the watchdog, records its time, asserts the bound. */
async function timed<T>(label: string, fn: () => Promise<T> | T, opts: { n?: number; boundMs?: number } = {}): Promise<T> {
  const bound = opts.boundMs ?? BOUND_MS;
  const enc = new TextEncoder().encode(label).subarray(0, 256);
  labelBytes.set(enc);
  Atomics.store(deadline, 1, enc.length);
  Atomics.store(deadline, 0, Date.now() - BASE + bound + GRACE_MS);
  const entry: (typeof timings)[number] = { label, ms: NaN, n: opts.n ?? 1 };
  timings.push(entry); // first, so that note() inside fn annotates this case
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    const ms = (entry.ms = performance.now() - t0);
    Atomics.store(deadline, 0, 0);
    expect(ms, `${label}: ${ms.toFixed(0)} ms, bound ${bound} ms`).toBeLessThan(bound);
  }
}

function note(text: string): void {
  const last = timings[timings.length - 1];
  if (last) last.note = last.note ? `${last.note}; ${text}` : text;
}

// ---- outcome checks ------------------------------------------------------------------------------

type DecodeOutcome = { ok: true; n: number } | { ok: false; code: string };

/** decodeInput either returns items or throws a PkiError; anything else fails the test. */
function decodeOutcome(data: Uint8Array | string, what: string): DecodeOutcome {
  try {
    const items = decodeInput(data);
    expect(Array.isArray(items), what).toBe(true);
    return { ok: true, n: items.length };
  } catch (e) {
    if (e instanceof PkiError) {
      expect(typeof e.code, what).toBe('string');
      return { ok: false, code: e.code };
    }
    throw new Error(`${what}: decodeInput threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`, { cause: e });
  }
}

function expectPkiError(data: Uint8Array | string, what: string): string {
  const o = decodeOutcome(data, what);
  expect(o.ok, `${what}: decodeInput should have thrown a PkiError, returned ${JSON.stringify(o)}`).toBe(false);
  return (o as { code: string }).code;
}

function expectResultShape(r: VerifyResult, what: string): void {
  expect(typeof r?.valid, what).toBe('boolean');
  expect(Array.isArray(r.errors) && Array.isArray(r.warnings) && Array.isArray(r.path), what).toBe(true);
  for (const i of [...r.errors, ...r.warnings]) expect(typeof i.code, what).toBe('string');
}

/** verify must resolve (never reject) with a well-formed result. */
async function verifyOutcome(v: Verifier | null, input: VerifyInput, what: string): Promise<VerifyResult> {
  let r: VerifyResult;
  try {
    r = await (v ? v.verify(input) : verify(input));
  } catch (e) {
    throw new Error(`${what}: verify threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`, { cause: e });
  }
  expectResultShape(r, what);
  return r;
}

async function expectInvalid(v: Verifier | null, input: VerifyInput, what: string): Promise<VerifyResult> {
  const r = await verifyOutcome(v, input, what);
  expect(r.valid, `${what}: expected valid:false, got ${JSON.stringify(r.errors)}`).toBe(false);
  expect(r.errors.length, what).toBeGreaterThan(0);
  return r;
}

const codes = (r: VerifyResult): string => r.errors.map((e) => e.code).join(',');

// ---- fixtures ------------------------------------------------------------------------------------

let c: SesamChain;
let base: VerifyInput;

beforeAll(async () => {
  c = await sesamChain();
  base = {
    leaf: c.leaf,
    anchors: [c.root],
    intermediates: [c.inter],
    crls: [c.rootCrl, c.interCrl],
    profile: 'sesam-vitale-attachment',
    email: SESAM_EMAIL,
  };
});

afterAll(async () => {
  await watchdog.terminate();
  const rows = timings.map((t) => {
    const per = t.n > 1 ? ` (${((t.ms / t.n) * 1000).toFixed(0)} µs each × ${t.n})` : '';
    return `  ${t.ms.toFixed(0).padStart(7)} ms  ${t.label}${per}${t.note ? `  — ${t.note}` : ''}`;
  });
  console.info(`robustness timings (seed ${SEED}):\n${rows.join('\n')}`);
});

// ---- tests ---------------------------------------------------------------------------------------

describe('sanity', () => {
  it('the base SESAM chain validates (otherwise every "invalid" below proves nothing)', async () => {
    const r = await verifyOutcome(new Verifier(), base, 'base');
    expect(r.valid, codes(r)).toBe(true);
  });
});

describe('truncated DER', () => {
  it('every prefix of a certificate is refused by decodeInput and by verify', async () => {
    const v = new Verifier();
    await timed('truncated certificate: every prefix, decodeInput + verify', async () => {
      for (let n = 0; n < c.leaf.length; n++) {
        const prefix = c.leaf.slice(0, n);
        expectPkiError(prefix, `prefix ${n}/${c.leaf.length}`);
        await expectInvalid(v, { ...base, leaf: prefix }, `verify prefix ${n}`);
      }
    }, { n: c.leaf.length });
  });

  it('every prefix of a CRL is refused by decodeInput; a truncated CRL in verify is not a CRL', async () => {
    const v = new Verifier();
    const crl = c.interCrl;
    await timed('truncated CRL: every prefix, decodeInput + verify', async () => {
      for (let n = 0; n < crl.length; n++) {
        const prefix = crl.slice(0, n);
        expectPkiError(prefix, `CRL prefix ${n}/${crl.length}`);
        // The intermediate's CRL is unusable: the sesam profile requires one, so invalid.
        await expectInvalid(v, { ...base, crls: [c.rootCrl, prefix] }, `verify CRL prefix ${n}`);
      }
    }, { n: crl.length });
  });

  it('every prefix of the PEM text is refused (or, past the END line, accepted whole)', async () => {
    const text = pem(c.leaf);
    const end = text.indexOf('-----END');
    await timed('truncated PEM: every prefix', () => {
      for (let n = 0; n < text.length; n++) {
        const o = decodeOutcome(text.slice(0, n), `PEM prefix ${n}`);
        if (n < end + '-----END CERTIFICATE-----'.length) expect(o.ok, `PEM prefix ${n}`).toBe(false);
        else expect(o).toEqual({ ok: true, n: 1 });
      }
    }, { n: text.length });
  });
});

describe('garbled DER', () => {
  it('2 000 seeded random bit flips in the leaf, the intermediate or a CRL never validate', async () => {
    const rnd = prng(SEED);
    const v = new Verifier(); // shared: also checks that garbage does not poison the warm caches
    const targets = ['leaf', 'inter', 'interCrl', 'rootCrl'] as const;
    // Explicit 'require': every certificate of the path must be covered by a good CRL, so a
    // garbled CRL (of either CA) can never count. (The sesam profile's own default for CA
    // certificates is a policy question, tested elsewhere.)
    const strict: VerifyInput = { ...base, revocation: 'require' };
    const seen: Record<string, number> = {};
    const failures: string[] = [];
    await timed('garbled: 2 000 bit-flip cases, decodeInput + verify (shared Verifier)', async () => {
      const ok0 = await verifyOutcome(v, strict, 'base (revocation: require)');
      expect(ok0.valid, codes(ok0)).toBe(true);
      for (let i = 0; i < 2000; i++) {
        const target = targets[(rnd() * targets.length) | 0]!;
        const bad = c[target].slice();
        const flips = 1 + ((rnd() * 8) | 0);
        const bits: number[] = [];
        for (let f = 0; f < flips; f++) {
          const bit = (rnd() * bad.length * 8) | 0;
          bits.push(bit);
          bad[bit >> 3]! ^= 0x80 >> (bit & 7);
        }
        const what = `case ${i} (seed ${SEED}): flip bit(s) ${bits.join(',')} of ${target} (${bad.length} bytes)`;
        const where = (e: unknown): string => {
          const cause = (e as Error).cause as Error | undefined;
          return `${(e as Error).message}${cause?.stack ? ` @ ${cause.stack.split('\n').slice(1, 4).map((l) => l.trim()).join(' < ')}` : ''}`;
        };
        try {
          const d = decodeOutcome(bad, what);
          const key = `${target}:${d.ok ? 'decoded' : d.code}`;
          seen[key] = (seen[key] ?? 0) + 1;
        } catch (e) {
          failures.push(where(e));
        }
        const input: VerifyInput =
          target === 'leaf' ? { ...strict, leaf: bad }
            : target === 'inter' ? { ...strict, intermediates: [bad] }
              : target === 'interCrl' ? { ...strict, crls: [c.rootCrl, bad] }
                : { ...strict, crls: [bad, c.interCrl] };
        let r: VerifyResult;
        try {
          r = await verifyOutcome(v, input, what);
        } catch (e) {
          failures.push(where(e));
          continue;
        }
        if (r.valid || r.errors.length === 0) {
          failures.push(`${what}: valid=${r.valid} warnings=[${r.warnings.map((w) => w.code)}]`);
        }
        if (i % 250 === 0) {
          const ok = await verifyOutcome(v, strict, `base after ${what}`);
          if (!ok.valid) failures.push(`warm cache poisoned after ${what}: ${codes(ok)}`);
        }
      }
    }, { n: 2000 });
    note(`decodeInput outcomes ${JSON.stringify(seen)}; ${failures.length} failures`);
    expect(failures.slice(0, 20), `${failures.length} garbled inputs accepted or thrown`).toEqual([]);
  });
});

describe('broken PEM armour', () => {
  const cases = (): Array<[string, string]> => {
    const b64 = Buffer.from(c.leaf).toString('base64').replace(/.{64}/g, '$&\n');
    return [
      ['missing END line', `-----BEGIN CERTIFICATE-----\n${b64}\n`],
      ['missing END line, then another block', `-----BEGIN CERTIFICATE-----\n${b64}\n-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`],
      ['bad base64 (characters)', `-----BEGIN CERTIFICATE-----\n${b64.slice(0, 40)}*!?${b64.slice(43)}\n-----END CERTIFICATE-----\n`],
      ['bad base64 (length)', `-----BEGIN CERTIFICATE-----\n${b64.slice(0, -3)}\n-----END CERTIFICATE-----\n`],
      ['bad base64 (padding in the middle)', `-----BEGIN CERTIFICATE-----\n${b64.slice(0, 64)}==${b64.slice(64)}\n-----END CERTIFICATE-----\n`],
      ['mismatched labels', `-----BEGIN CERTIFICATE-----\n${b64}\n-----END X509 CRL-----\n`],
      ['empty body', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'],
      ['whitespace body', '-----BEGIN CERTIFICATE-----\n   \n\t\n-----END CERTIFICATE-----\n'],
      ['valid base64 of garbage', `-----BEGIN CERTIFICATE-----\n${Buffer.from('hello world, not DER').toString('base64')}\n-----END CERTIFICATE-----\n`],
      ['certificate body under a CRL label', `-----BEGIN X509 CRL-----\n${b64}\n-----END X509 CRL-----\n`],
      ['unexpected label', `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`],
      ['RFC 1421 headers', `-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n${b64}\n-----END CERTIFICATE-----\n`],
      ['valid block followed by a broken one', `${pem(c.leaf)}-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n`],
      ['BEGIN only', '-----BEGIN CERTIFICATE-----'],
      ['lower-case label', `-----BEGIN certificate-----\n${b64}\n-----END certificate-----\n`],
      ['truncated dashes', `----BEGIN CERTIFICATE----\n${b64}\n----END CERTIFICATE----\n`],
      ['NUL bytes in body', `-----BEGIN CERTIFICATE-----\n${b64.slice(0, 100)}\0\0\0\0${b64.slice(100)}\n-----END CERTIFICATE-----\n`],
      ['text only', 'Ceci n’est pas un certificat.\n'],
      ['huge single line of base64 garbage', `-----BEGIN CERTIFICATE-----\n${'A'.repeat(4_000_000)}\n-----END CERTIFICATE-----\n`],
    ];
  };

  it('each broken armour throws a PkiError (as bytes and as a string)', async () => {
    const found: string[] = [];
    await timed('broken PEM armour cases', () => {
      for (const [name, text] of cases()) {
        const a = expectPkiError(new TextEncoder().encode(text), `${name} (bytes)`);
        const b = expectPkiError(text, `${name} (string)`);
        found.push(`${name}: ${a}${a === b ? '' : `/${b}`}`);
      }
    }, { n: cases().length * 2 });
    note(found.join(' | '));
  });

  it('a broken PEM leaf in verify is valid:false', async () => {
    const v = new Verifier();
    await timed('broken PEM armour as verify leaf bytes', async () => {
      for (const [name, text] of cases()) await expectInvalid(v, { ...base, leaf: new TextEncoder().encode(text) }, name);
    });
  });

  it('well-formed variants are accepted: text around blocks, CRLF, no final newline, several blocks', () => {
    const p = pem(c.leaf);
    expect(decodeOutcome(`Subject: blah\n${p}trailing text\n`, 'text around')).toEqual({ ok: true, n: 1 });
    expect(decodeOutcome(p.replace(/\n/g, '\r\n'), 'CRLF')).toEqual({ ok: true, n: 1 });
    expect(decodeOutcome(p.trimEnd(), 'no final newline')).toEqual({ ok: true, n: 1 });
    expect(decodeOutcome(p + pem(c.inter) + pem(c.interCrl, 'X509 CRL'), 'three blocks')).toEqual({ ok: true, n: 3 });
  });
});

describe('absurd lengths', () => {
  const cases: Array<[string, number[]]> = [
    ['30 84 ff ff ff ff', [0x30, 0x84, 0xff, 0xff, 0xff, 0xff]],
    ['30 84 ff ff ff ff + content', [0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00]],
    ['30 84 7f ff ff ff', [0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00]],
    ['30 88 ff×8', [0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    ['30 8f', [0x30, 0x8f, 0x01]],
    ['30 80 (indefinite) 00 00', [0x30, 0x80, 0x00, 0x00]],
    ['30 ff', [0x30, 0xff]],
    ['30 81 05 (non-minimal, short)', [0x30, 0x81, 0x05, 0, 0, 0, 0, 0]],
    ['inner 02 84 ff ff ff ff', [0x30, 0x06, 0x02, 0x84, 0xff, 0xff, 0xff, 0xff]],
    ['high tag number 1f ff ff ff ff', [0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00]],
    ['30 00 (empty sequence)', [0x30, 0x00]],
    ['single byte 30', [0x30]],
  ];
  it('each is a PkiError for decodeInput and valid:false for verify', async () => {
    const v = new Verifier();
    const found: string[] = [];
    await timed('absurd lengths', async () => {
      for (const [name, bytes] of cases) {
        const b = Uint8Array.from(bytes);
        found.push(`${name}: ${expectPkiError(b, name)}`);
        await expectInvalid(v, { ...base, leaf: b }, name);
        // As intermediate, anchor and CRL they must not break validation of the good chain
        // (the core ignores unreadable pool items with a warning).
        const r = await verifyOutcome(v, { ...base, intermediates: [b, c.inter], crls: [b, ...base.crls!] }, `${name} in pools`);
        expect(r.valid, `${name} in pools: ${codes(r)}`).toBe(true);
      }
    }, { n: cases.length });
    note(found.join(' | '));
  });
});

describe('deep nesting', () => {
  const LEVELS = 100_000;

  function indefinite(levels: number): Uint8Array {
    const out = new Uint8Array(levels * 4);
    for (let i = 0; i < levels; i++) {
      out[2 * i] = 0x30;
      out[2 * i + 1] = 0x80;
    }
    return out; // followed by levels × "00 00" end-of-contents
  }

  /** `levels` nested definite-length SEQUENCEs, built iteratively from the innermost. */
  function definite(levels: number): Uint8Array {
    const hdr = (len: number): number => (len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : 5);
    const content = new Array<number>(levels);
    content[levels - 1] = 0;
    for (let i = levels - 2; i >= 0; i--) content[i] = content[i + 1]! + hdr(content[i + 1]!);
    const total = content[0]! + hdr(content[0]!);
    const out = new Uint8Array(total);
    let p = 0;
    for (let i = 0; i < levels; i++) {
      const len = content[i]!;
      out[p++] = 0x30;
      if (len < 0x80) out[p++] = len;
      else if (len < 0x100) { out[p++] = 0x81; out[p++] = len; }
      else if (len < 0x10000) { out[p++] = 0x82; out[p++] = len >> 8; out[p++] = len & 0xff; }
      else { out[p++] = 0x83; out[p++] = len >> 16; out[p++] = (len >> 8) & 0xff; out[p++] = len & 0xff; }
    }
    return out;
  }

  it(`${LEVELS} levels of 30 80 (indefinite) and of 30 8x (definite): PkiError / valid:false`, async () => {
    const v = new Verifier();
    const ind = indefinite(LEVELS);
    const def = definite(LEVELS);
    expect(def.length).toBeGreaterThan(LEVELS * 4);
    await timed(`deep nesting: ${LEVELS} × 30 80`, async () => {
      note(expectPkiError(ind, 'indefinite nesting'));
      await expectInvalid(v, { ...base, leaf: ind }, 'indefinite nesting as leaf');
    });
    await timed(`deep nesting: ${LEVELS} × 30 8x (${(def.length / 1024).toFixed(0)} KiB)`, async () => {
      note(expectPkiError(def, 'definite nesting'));
      await expectInvalid(v, { ...base, leaf: def }, 'definite nesting as leaf');
      const r = await verifyOutcome(v, { ...base, intermediates: [def, c.inter], crls: [def, ...base.crls!] }, 'definite nesting in pools');
      expect(r.valid, codes(r)).toBe(true);
    });
    await timed('deep nesting: wrapped in PEM', async () => {
      note(expectPkiError(pem(def), 'definite nesting in PEM'));
    });
  });

  it('a signed certificate whose subject is 20 000 nested SEQUENCEs, and one with such an extension value', async () => {
    const k = await genKey('p256');
    const deep = definite(20_000);
    const bySubject = await fastCert({ subject: deep, issuer: 'CN=Deep CA', key: k, signer: k, serial: 1 });
    const root = await issueCert({ subject: 'CN=Deep CA', key: k, ca: true, serial: 2 });
    const byExt = await issueCert({
      subject: 'CN=Deep extension', key: k, issuerCert: root, signer: k,
      extensions: [{ oid: '1.3.6.1.4.1.99999.1', critical: false, value: deep }],
    });
    const byCritExt = await issueCert({
      subject: 'CN=Deep critical extension', key: k, issuerCert: root, signer: k,
      extensions: [{ oid: '1.3.6.1.4.1.99999.1', critical: true, value: deep }],
    });
    const v = new Verifier();
    await timed('deep nesting inside signed certificates', async () => {
      note(`subject: ${JSON.stringify(decodeOutcome(bySubject, 'deep subject'))}`);
      await expectInvalid(v, { leaf: bySubject, anchors: [root], revocation: 'off' }, 'deep subject');
      note(`non-critical ext: ${JSON.stringify(decodeOutcome(byExt, 'deep ext'))}`);
      const r = await verifyOutcome(v, { leaf: byExt, anchors: [root], revocation: 'off' }, 'deep non-critical extension');
      note(`non-critical ext verify: valid=${r.valid} ${codes(r)}`);
      note(`critical ext: ${JSON.stringify(decodeOutcome(byCritExt, 'deep crit ext'))}`);
      await expectInvalid(v, { leaf: byCritExt, anchors: [root], revocation: 'off' }, 'deep critical extension');
    });
  });
});

describe('large random input', () => {
  const SIZE = 50 * 1024 * 1024;
  let buf: Uint8Array; // 50 MB random, first byte not a SEQUENCE
  let framed: Uint8Array; // same bytes under a SEQUENCE header whose length covers them all

  beforeAll(() => {
    buf = randomBytes(SIZE, prng(SEED ^ 0x50));
    buf[0] = 0x31;
    framed = buf.slice();
    const len = SIZE - 6;
    framed.set([0x30, 0x84, len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff], 0);
  });

  it('50 MB random: decodeInput throws a PkiError', async () => {
    await timed('50 MB random: decodeInput', () => void note(expectPkiError(buf, '50 MB random')));
    await timed('50 MB random with exact outer length: decodeInput', () => void note(expectPkiError(framed, '50 MB framed')));
  });

  it('50 MB random as the leaf: valid:false', async () => {
    await timed('50 MB random: verify as leaf (cold)', async () => void (await expectInvalid(null, { ...base, leaf: buf }, '50 MB random leaf')));
  });

  it('50 MB random with an exact outer length as the leaf: valid:false', async () => {
    await timed('50 MB framed: verify as leaf (cold)', async () => void (await expectInvalid(null, { ...base, leaf: framed }, '50 MB framed leaf')));
  });

  it('50 MB random with an exact outer length in the pools does not break a good chain', async () => {
    await timed('50 MB framed: as intermediate and CRL next to the good chain', async () => {
      const r = await verifyOutcome(null, { ...base, intermediates: [framed, c.inter], crls: [framed, ...base.crls!] }, '50 MB framed in pools');
      note(`valid=${r.valid} ${codes(r)}`);
      expect(r.valid, codes(r)).toBe(true);
    });
  });

  it('~49 MB of PEM around 36 MB of random: decodeInput throws a PkiError', async () => {
    const text = `-----BEGIN CERTIFICATE-----\n${Buffer.from(framed.subarray(0, 36 * 1024 * 1024)).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    await timed(`${(text.length / 1048576).toFixed(0)} MB PEM of random: decodeInput`, () => void note(expectPkiError(text, 'big PEM')));
  });

  it('past the size limit (65 MB): PkiError from decodeInput, valid:false from verify', async () => {
    const big = new Uint8Array(65 * 1024 * 1024);
    big[0] = 0x30;
    await timed('65 MB zeros: decodeInput', () => void note(expectPkiError(big, '65 MB')));
    await timed('65 MB zeros: verify as leaf', async () => void (await expectInvalid(null, { ...base, leaf: big }, '65 MB leaf')));
  });
});

describe('a pool of 10 000 certificates', () => {
  const N = 10_000;
  let kRoot: ForgeKey, kPool: ForgeKey, kGood: ForgeKey, kLeaf: ForgeKey;
  let root: Uint8Array;
  let pool: Uint8Array[];
  let goodInter: Uint8Array; // "CN=Pool CA", its own key, issued by the root
  let sameKeyInter: Uint8Array; // "CN=Pool CA", the flood's key, issued by the root, oldest
  let leafGood: Uint8Array; // signed by kGood, AKI = kGood
  let leafFlood: Uint8Array; // signed by kPool: every flood certificate could be its issuer
  let leafOrphan: Uint8Array; // "CN=Pool CA" issuer, signed by a key nobody has

  beforeAll(async () => {
    const t0 = performance.now();
    [kRoot, kPool, kGood, kLeaf] = await Promise.all([genKey('p256'), genKey('p256'), genKey('p256'), genKey('p256')]);
    const orphanKey = await genKey('p256');
    const rnd = prng(SEED ^ 0x1000);
    const now = Date.now();
    const DAY = 86_400_000;
    root = await fastCert({ subject: 'CN=Pool Root,O=Robustness', issuer: 'CN=Pool Root,O=Robustness', key: kRoot, signer: kRoot, serial: 1, ca: true });
    goodInter = await fastCert({ subject: 'CN=Pool CA', issuer: 'CN=Pool Root,O=Robustness', key: kGood, signer: kRoot, serial: 2, ca: true });
    sameKeyInter = await fastCert({
      subject: 'CN=Pool CA', issuer: 'CN=Pool Root,O=Robustness', key: kPool, signer: kRoot, serial: 3, ca: true,
      notBefore: new Date(now - 300 * DAY),
    });
    // 9 000 "CN=Pool CA" (flood key) issued by 100 unknown "CN=Nowhere i", 900 "CN=Nowhere i"
    // issued by "CN=Deeper j" (a few dead-end chains), 100 with random names.
    const specs: Array<Parameters<typeof fastCert>[0]> = [];
    for (let i = 0; i < 9000; i++) {
      specs.push({
        subject: 'CN=Pool CA', issuer: `CN=Nowhere ${(rnd() * 100) | 0}`, key: kPool, signer: kPool, serial: 10_000 + i, ca: true,
        notBefore: new Date(now - ((rnd() * 200) | 0) * DAY),
      });
    }
    for (let i = 0; i < 900; i++) {
      specs.push({ subject: `CN=Nowhere ${i % 100}`, issuer: `CN=Deeper ${i % 7}`, key: kPool, signer: kPool, serial: 20_000 + i, ca: true });
    }
    for (let i = 0; i < 100; i++) {
      specs.push({ subject: `CN=Random ${(rnd() * 1e9) | 0}`, issuer: `CN=Random ${(rnd() * 1e9) | 0}`, key: kPool, signer: kPool, serial: 30_000 + i });
    }
    pool = await Promise.all(specs.map(fastCert));
    leafGood = await fastCert({ subject: 'CN=Leaf good', issuer: 'CN=Pool CA', key: kLeaf, signer: kGood, serial: 40_000 });
    leafFlood = await fastCert({ subject: 'CN=Leaf flood', issuer: 'CN=Pool CA', key: kLeaf, signer: kPool, serial: 40_001 });
    leafOrphan = await fastCert({ subject: 'CN=Leaf orphan', issuer: 'CN=Pool CA', key: kLeaf, signer: orphanKey, serial: 40_002 });
    timings.push({ label: `pool: forging ${N + 6} P-256 certificates (setup)`, ms: performance.now() - t0, n: 1 });
  });

  const input = (leaf: Uint8Array, extra: Uint8Array[]): VerifyInput => ({
    leaf, anchors: [root], intermediates: [...pool.slice(0, N - extra.length - 1), ...extra], revocation: 'off',
  });

  it('decodeInput on one PEM file holding all 10 000', async () => {
    const text = pool.map((d) => pem(d)).join('');
    await timed(`pool: decodeInput of a ${(text.length / 1048576).toFixed(1)} MB PEM with ${N} certificates`, () => {
      const o = decodeOutcome(text, 'pool PEM');
      expect(o).toEqual({ ok: true, n: N });
    });
  });

  it('the right issuer among 9 000 same-name impostors is found via its key identifier', async () => {
    const v = new Verifier();
    const r = await timed('pool: same-name flood, right issuer distinct by AKI (cold)', () =>
      verifyOutcome(v, input(leafGood, [goodInter]), 'flood, AKI-distinct'));
    note(`valid=${r.valid} ${codes(r)}`);
    const r2 = await timed('pool: same again, warm Verifier', () => verifyOutcome(v, input(leafGood, [goodInter]), 'flood, AKI-distinct, warm'));
    note(`valid=${r2.valid}`);
    expect(r.valid, codes(r)).toBe(true);
    expect(r2.valid, codes(r2)).toBe(true);
  });

  it('worst case: every impostor has the same name and key; the one good issuer is the oldest', async () => {
    const r = await timed('pool: same-name same-key flood (one good, oldest)', () =>
      verifyOutcome(new Verifier(), input(leafFlood, [sameKeyInter]), 'flood, same key'));
    note(`valid=${r.valid} ${codes(r)} (either outcome accepted: bounded search)`);
  });

  it('no path at all: the leaf’s key is nobody’s', async () => {
    const r = await timed('pool: orphan leaf among 10 000', () => expectInvalid(new Verifier(), input(leafOrphan, []), 'orphan'));
    note(codes(r));
  });

  it('the pool as anchors (10 000 trust anchors, none right)', async () => {
    const r = await timed('pool: 10 000 anchors, orphan leaf', () =>
      expectInvalid(new Verifier(), { leaf: leafOrphan, anchors: pool, revocation: 'off' }, '10k anchors'));
    note(codes(r));
  });
});

describe('path-building loops', () => {
  let R: Uint8Array;
  let kR: ForgeKey;
  const ca = (subject: string, issuer: string, key: ForgeKey, signer: ForgeKey, serial: number) =>
    fastCert({ subject, issuer, key, signer, serial, ca: true });

  beforeAll(async () => {
    kR = await genKey('p256');
    R = await ca('CN=Loop Root', 'CN=Loop Root', kR, kR, 1);
  });

  async function leafOf(issuer: string, signer: ForgeKey): Promise<Uint8Array> {
    return fastCert({ subject: 'CN=Loop leaf', issuer, key: await genKey('p256'), signer, serial: 99 });
  }

  it('A issued by B, B issued by A (anchor unreachable)', async () => {
    const [ka, kb] = await Promise.all([genKey('p256'), genKey('p256')]);
    const A = await ca('CN=A', 'CN=B', ka, kb, 2);
    const B = await ca('CN=B', 'CN=A', kb, ka, 3);
    const leaf = await leafOf('CN=A', ka);
    const r = await timed('loop: A↔B', () =>
      expectInvalid(new Verifier(), { leaf, anchors: [R], intermediates: [A, B], revocation: 'off' }, 'A<->B'));
    note(codes(r));
  });

  it('cross-certified pair with self-signed certificates (unreachable, then reachable via R)', async () => {
    const [kx, ky] = await Promise.all([genKey('p256'), genKey('p256')]);
    const certs = [
      await ca('CN=X', 'CN=X', kx, kx, 10),
      await ca('CN=Y', 'CN=Y', ky, ky, 11),
      await ca('CN=X', 'CN=Y', kx, ky, 12),
      await ca('CN=Y', 'CN=X', ky, kx, 13),
    ];
    const leaf = await leafOf('CN=X', kx);
    const r = await timed('loop: cross-certified X↔Y, no anchor', () =>
      expectInvalid(new Verifier(), { leaf, anchors: [R], intermediates: certs, revocation: 'off' }, 'X<->Y'));
    note(codes(r));
    const yByR = await ca('CN=Y', 'CN=Loop Root', ky, kR, 14);
    const ok = await timed('loop: cross-certified X↔Y, Y certified by the anchor', () =>
      verifyOutcome(new Verifier(), { leaf, anchors: [R], intermediates: [...certs, yByR], revocation: 'off' }, 'X<->Y via R'));
    expect(ok.valid, codes(ok)).toBe(true);
    expect(ok.path).toHaveLength(4); // leaf, X (by Y), Y (by R), R
  });

  it('self-issued key-rollover loop (same name, two keys, each signing the other)', async () => {
    const [k1, k2] = await Promise.all([genKey('p256'), genKey('p256')]);
    const A1 = await ca('CN=Self', 'CN=Self', k1, k2, 20);
    const A2 = await ca('CN=Self', 'CN=Self', k2, k1, 21);
    const leaf = await leafOf('CN=Self', k1);
    const r = await timed('loop: self-issued rollover pair', () =>
      expectInvalid(new Verifier(), { leaf, anchors: [R], intermediates: [A1, A2], revocation: 'off' }, 'self loop'));
    note(codes(r));
  });

  it('mesh: 20 CAs of one name, every pair cross-signed (380 certificates), anchor unreachable then reachable', async () => {
    const keys = await Promise.all(Array.from({ length: 20 }, () => genKey('p256')));
    const mesh: Uint8Array[] = [];
    let s = 100;
    for (const a of keys) for (const b of keys) if (a !== b) mesh.push(await ca('CN=Mesh', 'CN=Mesh', a, b, s++));
    const leaf = await leafOf('CN=Mesh', keys[0]!);
    const r = await timed('loop: 20-CA same-name mesh, no anchor', () =>
      expectInvalid(new Verifier(), { leaf, anchors: [R], intermediates: mesh, revocation: 'off' }, 'mesh'));
    note(codes(r));
    const bridge = await ca('CN=Mesh', 'CN=Loop Root', keys[19]!, kR, s++);
    const r2 = await timed('loop: mesh, one member (not the leaf’s) certified by the anchor', () =>
      verifyOutcome(new Verifier(), { leaf, anchors: [R], intermediates: [...mesh, bridge], revocation: 'off' }, 'mesh via R'));
    note(`valid=${r2.valid} ${codes(r2)} (either outcome accepted: bounded search)`);
  });

  it('a linear chain of 40 intermediates', async () => {
    const keys = await Promise.all(Array.from({ length: 40 }, () => genKey('p256')));
    const chain: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      chain.push(await ca(`CN=Link ${i}`, i === 0 ? 'CN=Loop Root' : `CN=Link ${i - 1}`, keys[i]!, i === 0 ? kR : keys[i - 1]!, 200 + i));
    }
    const leaf = await leafOf('CN=Link 39', keys[39]!);
    const r = await timed('loop: 40-long linear chain', () =>
      verifyOutcome(new Verifier(), { leaf, anchors: [R], intermediates: chain.reverse(), revocation: 'off' }, 'long chain'));
    note(`valid=${r.valid} ${codes(r)}`);
  });
});

/**
 * What a seal encrypts (src/lib/client/store/at-rest.ts): byte arrays raw after the JSON
 * (version 1), values sealed before it (JSON with base64url) still read, a malformed container
 * refused with a typed error, never a crash.
 */
import { describe, expect, it } from 'vitest';
import { AtRestError, decodeValue, encodeValue, seal, unseal } from '../../src/lib/client/store/at-rest.js';
import { b64u } from '../../src/lib/card/protocol.js';

const value = { id: 'F-1', documents: [{ kind: 'FSE', bytes: Uint8Array.of(1, 2, 3, 255), signature: new Uint8Array(256).fill(7) }], empty: new Uint8Array(0), n: 3, nested: [null, 'x'] };

describe('sealed values’ encoding', () => {
  it('round-trips byte arrays raw, a third smaller than base64 inside JSON', () => {
    const bytes = encodeValue(value);
    expect(bytes[0]).toBe(1);
    expect(decodeValue(bytes)).toEqual(value);
    const legacy = new TextEncoder().encode(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? { $bytes: b64u(v) } : v)));
    expect(bytes.length).toBeLessThan(legacy.length);
  });

  it('a byte array referenced twice (a signed document and its submission) is kept once', () => {
    const doc = new Uint8Array(1000).fill(9);
    const shared = { submission: { bytes: doc }, signed: { bytes: doc, signature: Uint8Array.of(1) } };
    const once = encodeValue(shared);
    const twice = encodeValue({ submission: { bytes: doc }, signed: { bytes: new Uint8Array(doc), signature: Uint8Array.of(1) } });
    expect(once.length).toBeLessThan(twice.length - 900);
    expect(decodeValue(once)).toEqual(shared);
  });

  it('reads what was sealed before it (JSON with {"$bytes": base64url})', () => {
    const legacy = new TextEncoder().encode(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? { $bytes: b64u(v) } : v)));
    expect(decodeValue(legacy)).toEqual(value);
  });

  it('refuses a truncated or inconsistent container with sealed_invalid, at every length', () => {
    const bytes = encodeValue(value);
    for (let n = 1; n < bytes.length; n++) {
      let outcome: unknown;
      try {
        outcome = decodeValue(bytes.subarray(0, n));
      } catch (e) {
        outcome = e;
      }
      expect(outcome instanceof AtRestError && outcome.code === 'sealed_invalid', `prefix ${n}`).toBe(true);
    }
    const badIndex = encodeValue({ a: Uint8Array.of(1) });
    const json = new TextDecoder().decode(badIndex.subarray(5, 5 + new DataView(badIndex.buffer).getUint32(1))).replace('"$b":0', '"$b":9');
    const j = new TextEncoder().encode(json);
    const out = new Uint8Array(5 + j.length);
    out[0] = 1;
    new DataView(out.buffer).setUint32(1, j.length);
    out.set(j, 5);
    expect(() => decodeValue(out)).toThrow(AtRestError);
  });

  it('seal then unseal under an AES-GCM key gives the value back; another associated data: refused', async () => {
    const key = { keyId: 'k', key: await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) };
    const aad = new TextEncoder().encode('teletrans-invoice-v1');
    const sealed = await seal(key, value, aad);
    expect(await unseal(key, sealed, aad)).toEqual(value);
    await expect(unseal(key, sealed, new TextEncoder().encode('other'))).rejects.toMatchObject({ code: 'sealed_invalid' });
  });
});

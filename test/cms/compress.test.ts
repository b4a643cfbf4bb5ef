/**
 * The Compressor interface and its gzip default (CompressionStream): interoperable with zlib,
 * bounded on decompression, typed errors on bad input.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CmsError, type Compressor, gzip } from '../../src/lib/cms/index.js';
import { prng } from './helpers.js';

describe('gzip compressor', () => {
  it('round-trips, and zlib reads what it writes (and the other way round)', async () => {
    const rand = prng(11);
    for (const n of [0, 1, 1000, 300_000]) {
      // Half random, half repetitive: compressible but not trivially.
      const data = new Uint8Array(n);
      data.set(rand.bytes(n >> 1));
      const z = await gzip.compress(data);
      expect(z[0]).toBe(0x1f);
      expect(z[1]).toBe(0x8b);
      expect(Buffer.compare(gunzipSync(z), data)).toBe(0);
      expect(Buffer.compare(await gzip.decompress(gzipSync(data)), data)).toBe(0);
      expect(Buffer.compare(await gzip.decompress(z), data)).toBe(0);
    }
  });

  it('refuses invalid or truncated input and decompression bombs with cms_decompress_failed', async () => {
    const bomb = gzipSync(new Uint8Array(10 * 1024 * 1024));
    for (const [input, max] of [
      [new Uint8Array([1, 2, 3, 4]), undefined],
      [bomb.subarray(0, bomb.length - 10), undefined],
      [bomb, 1024 * 1024],
    ] as const) {
      const e = await gzip.decompress(input, max).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(CmsError);
      expect((e as CmsError).code).toBe('cms_decompress_failed');
    }
  });

  it('is swappable: any object with the interface will do', async () => {
    const identity: Compressor = { name: 'identity', compress: async (d) => new Uint8Array(d), decompress: async (d) => new Uint8Array(d) };
    expect((await identity.compress(new Uint8Array([1]))).length).toBe(1);
  });
});

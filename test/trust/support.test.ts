/**
 * The small pieces under the trust store: the synchronous SHA-256 of schema migrations
 * against WebCrypto, the directory fetcher over the relay endpoint (its one wire format, and
 * the failures), and audit records written before the MAC key existed.
 */
import { describe, expect, it } from 'vitest';
import { generateAuditKey, recordHash, sealRecords, verifyChain } from '../../src/lib/trust/audit.js';
import { encodeDirectoryError, encodeDirectoryResponse } from '../../src/lib/trust/directory-wire.js';
import { FetchError, directoryFetcher } from '../../src/lib/trust/fetcher.js';
import { sha256HexSync } from '../../src/lib/trust/sha256.js';

const hex = (b: ArrayBuffer): string => Buffer.from(b).toString('hex');

describe('synchronous SHA-256', () => {
  it('matches WebCrypto on every length around the block boundaries and on a large input', async () => {
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000]) {
      const data = crypto.getRandomValues(new Uint8Array(n));
      expect(sha256HexSync(data), `length ${n}`).toBe(hex(await crypto.subtle.digest('SHA-256', data)));
    }
    const big = new Uint8Array(3_000_001).map((_, i) => (i * 31) & 0xff);
    expect(sha256HexSync(big)).toBe(hex(await crypto.subtle.digest('SHA-256', big)));
    expect(sha256HexSync(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('directory fetcher', () => {
  const url = 'ldap://annuaire.sesam-vitale.fr/cn=AC-FACTURATION,ou=AC-FACTURATION,ou=AC-SESAM-VITALE-2034,o=sesam-vitale,c=fr/certificateRevocationList';

  function fakeFetch(respond: (input: string) => Response | Promise<Response>): { fetch: typeof fetch; seen: string[] } {
    const seen: string[] = [];
    return {
      seen,
      fetch: (async (input: string | URL | Request) => {
        seen.push(String(input));
        return respond(String(input));
      }) as typeof fetch,
    };
  }

  // The bodies are what the endpoint writes (the shared encoder); test/directory/endpoint.test.ts
  // runs the fetcher against the real endpoint and slapd.
  it('asks the relay endpoint with the URL, and reads {"items":[{kind,der}]}', async () => {
    const f = fakeFetch(() => Response.json(encodeDirectoryResponse([{ kind: 'crl', der: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]) }])));
    const items = await directoryFetcher({ fetch: f.fetch })(url);
    expect(f.seen).toEqual([`/api/directory/fetch?url=${encodeURIComponent(url)}`]);
    expect(items.map((b) => [...b])).toEqual([[0x30, 0x03, 0x02, 0x01, 0x05]]);
    const two = fakeFetch(() =>
      Response.json(encodeDirectoryResponse([5, 6].map((n) => ({ kind: 'certificate' as const, der: new Uint8Array([0x30, 0x03, 0x02, 0x01, n]) })))),
    );
    expect((await directoryFetcher({ fetch: two.fetch, endpoint: 'https://relay.example/api/directory/fetch' })(url)).map((b) => b[4])).toEqual([5, 6]);
  });

  it('refuses any other shape: raw bytes, a bare list, items without kind, empty, bad base64', async () => {
    for (const respond of [
      () => new Response(new Uint8Array([0x30, 0x00]), { headers: { 'content-type': 'application/octet-stream' } }),
      () => Response.json(['MAMCAQU=']),
      () => Response.json({ items: ['MAMCAQc='] }),
      () => Response.json({ items: [{ der: 'MAMCAQc=' }] }),
      () => Response.json({ items: [] }),
      () => Response.json({ items: [{ kind: 'crl', der: 'MAMC*Qc=' }] }),
    ]) {
      await expect(directoryFetcher({ fetch: fakeFetch(respond).fetch })(url)).rejects.toMatchObject({ name: 'FetchError', code: 'bad_response' });
    }
  });

  it('keeps the relay’s reason and French message on an error answer', async () => {
    const f = fakeFetch(() => Response.json(encodeDirectoryError('not_found', 'Aucune entrée à cette adresse.'), { status: 404 }));
    await expect(directoryFetcher({ fetch: f.fetch })(url)).rejects.toMatchObject({
      code: 'http_status',
      directoryCode: 'not_found',
      message: 'Aucune entrée à cette adresse.',
    });
  });

  it('turns failures into FetchError codes', async () => {
    const notFound = directoryFetcher({ fetch: fakeFetch(() => new Response('no', { status: 404 })).fetch });
    await expect(notFound(url)).rejects.toMatchObject({ name: 'FetchError', code: 'http_status' });
    const down = directoryFetcher({ fetch: (async () => Promise.reject(new TypeError('fetch failed'))) as typeof fetch });
    await expect(down(url)).rejects.toMatchObject({ code: 'network' });
    const junk = directoryFetcher({ fetch: fakeFetch(() => Response.json({ nope: 1 })).fetch });
    await expect(junk(url)).rejects.toBeInstanceOf(FetchError);
    const slow = directoryFetcher({
      timeoutMs: 20,
      fetch: ((_: string, init?: RequestInit) =>
        new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))))) as typeof fetch,
    });
    await expect(slow(url)).rejects.toMatchObject({ code: 'timeout' });
  });
});

describe('records older than the MAC key', () => {
  it('are not exempted: an unsealed record fails verification wherever it is (no macFrom boundary)', async () => {
    const key = await generateAuditKey();
    const T0 = Date.parse('2025-01-01T00:00:00Z');
    const old = await sealRecords([{ event: 'ca.load', outcome: 'success' }, { event: 'crl.load', outcome: 'success' }], undefined, T0);
    const fresh = await sealRecords([{ event: 'session.open', outcome: 'success' }], old.head, T0, key);
    const all = [...old.records, ...fresh.records];
    // The option that exempted them is gone: passing it changes nothing.
    expect(await verifyChain(all, { key, head: fresh.head, ...({ macFrom: 2 } as object) })).toMatchObject({ ok: false, index: 0, problem: 'unsealed' });
    // A sealed record stripped of its MAC (and rehashed) is flagged.
    const stripped = structuredClone(fresh.records);
    delete stripped[0]!.mac;
    stripped[0]!.hash = await recordHash(stripped[0]!);
    expect(await verifyChain([...old.records, ...stripped], { key, head: fresh.head })).toMatchObject({ ok: false, index: 0, problem: 'unsealed' });
  });
});

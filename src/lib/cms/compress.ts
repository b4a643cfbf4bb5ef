/**
 * Compression before encryption (flag `Z` of the message profile, docs/domain/transmission.md §2 and §7:
 * "compressed, then encrypted"). One small interface, so the format can be swapped if the
 * insurers ever require another one; gzip (RFC 1952) is the default.
 *
 * Why CompressionStream / DecompressionStream: they are native zlib in every runtime we
 * target (Chromium, Firefox, Safari, and Node ≥ 18 as globals), so the same isomorphic code
 * runs in the PWA and the CLI, with no dependency, no bundle weight, and compression running
 * off the JavaScript thread in browsers. A pure-JS deflate would be slower and larger.
 */
import { CmsError } from './errors.js';

export interface Compressor {
  /** Format name, e.g. "gzip". */
  readonly name: string;
  compress(data: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
  /**
   * Inverse of `compress`. Stops with CmsError('cms_decompress_failed') past `maxBytes` of
   * output (decompression bombs) or on invalid input.
   */
  decompress(data: Uint8Array, maxBytes?: number): Promise<Uint8Array<ArrayBuffer>>;
}

/** Default ceiling for decompressed output: far above a lot file (a few MiB), far below memory. */
export const DEFAULT_MAX_DECOMPRESSED = 512 * 1024 * 1024;

function join(chunks: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Pushes `data` through a transform stream and collects the output. The input is written as
 * one chunk (no Blob copy); reading runs concurrently, so back-pressure cannot deadlock.
 */
async function pipe(stream: TransformStream<Uint8Array, Uint8Array>, data: Uint8Array, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const writer = stream.writable.getWriter();
  const written = writer.write(data).then(() => writer.close());
  // Without this, a rejected write (bad input) would be reported as unhandled before we await it.
  written.catch(() => undefined);
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new CmsError('cms_decompress_failed', `Données décompressées trop volumineuses (plus de ${maxBytes} octets).`);
    }
    chunks.push(value);
  }
  await written;
  return join(chunks, total);
}

function streamsAvailable(): void {
  if (typeof CompressionStream === 'undefined' || typeof DecompressionStream === 'undefined') {
    throw new CmsError('cms_unsupported_algorithm', 'Compression indisponible : CompressionStream absent de cet environnement.');
  }
}

/** gzip (RFC 1952) through the platform's CompressionStream. */
export const gzip: Compressor = {
  name: 'gzip',
  async compress(data) {
    streamsAvailable();
    return pipe(new CompressionStream('gzip') as TransformStream<Uint8Array, Uint8Array>, data, Number.MAX_SAFE_INTEGER);
  },
  async decompress(data, maxBytes = DEFAULT_MAX_DECOMPRESSED) {
    streamsAvailable();
    try {
      return await pipe(new DecompressionStream('gzip') as TransformStream<Uint8Array, Uint8Array>, data, maxBytes);
    } catch (e) {
      if (e instanceof CmsError) throw e;
      throw new CmsError('cms_decompress_failed', 'Données compressées (gzip) invalides ou tronquées.', { cause: e });
    }
  },
};

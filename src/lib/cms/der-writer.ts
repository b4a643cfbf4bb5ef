/**
 * Minimal DER writer for the structures we produce. Builds small byte arrays only: the
 * (possibly huge) encrypted content is never passed through here, only its length.
 */

/** Length octets (definite form, minimal). */
export function lengthOctets(n: number): number[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`longueur DER invalide : ${n}`);
  if (n < 0x80) return [n];
  const b: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
  return [0x80 | b.length, ...b];
}

/** Identifier and length octets of an element whose contents are `length` bytes long. */
export function header(tag: number, length: number): Uint8Array {
  return Uint8Array.from([tag, ...lengthOctets(length)]);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A complete element from its contents. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const c of content) len += c.length;
  return concat([header(tag, len), ...content]);
}

export const seq = (...content: Uint8Array[]): Uint8Array => tlv(0x30, ...content);
export const set = (...content: Uint8Array[]): Uint8Array => tlv(0x31, ...content);
export const octetString = (b: Uint8Array): Uint8Array => tlv(0x04, b);
export const NULL = Uint8Array.of(0x05, 0x00);

/** A small non-negative INTEGER (CMS versions). */
export function smallInt(v: number): Uint8Array {
  if (!Number.isInteger(v) || v < 0 || v > 127) throw new RangeError(`entier hors bornes : ${v}`);
  return Uint8Array.of(0x02, 0x01, v);
}

/** OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2) throw new RangeError(`OID invalide : ${dotted}`);
  const bytes: number[] = [];
  const push = (v: bigint): void => {
    const tmp: number[] = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) tmp.unshift(Number(v & 0x7fn) | 0x80);
    bytes.push(...tmp);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(0x06, Uint8Array.from(bytes));
}

/** AlgorithmIdentifier; `params` is a complete element (e.g. NULL) or absent. */
export function algorithm(dotted: string, params?: Uint8Array): Uint8Array {
  return params ? seq(oid(dotted), params) : seq(oid(dotted));
}

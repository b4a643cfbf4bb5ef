/**
 * Distinguished names and general names.
 * Comparison follows RFC 5280 §7.1 in the simplified form most validators use: string
 * attribute values are compared after Unicode NFKC, case folding and whitespace folding;
 * other values byte for byte.
 */
import { PkiError } from './errors.js';
import {
  TAG,
  type Tlv,
  children,
  isStringTag,
  readOid,
  readString,
  readTlv,
  toHex,
  value,
  whole,
} from './der.js';

export interface Ava {
  type: string;
  /** Decoded text for string types, undefined otherwise. */
  text?: string;
  /** Canonical comparison form of the value. */
  canon: string;
}

export interface Name {
  der: Uint8Array;
  rdns: Ava[][];
  /** Canonical key: equal keys ⇔ equal names per §7.1. */
  key: string;
}

const SHORT: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '2.5.4.4': 'SN',
  '2.5.4.42': 'GN',
  '2.5.4.12': 'title',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

export const OID_EMAIL_ADDRESS = '1.2.840.113549.1.9.1';

export function canonicalText(s: string): string {
  return s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

function nameError(detail: string): PkiError {
  return new PkiError('name_malformed', `Nom distinctif invalide : ${detail}.`);
}

/** Parses a Name (SEQUENCE OF RDN) given as the element `t` of `buf`. */
export function parseName(buf: Uint8Array, t: Tlv): Name {
  if (t.tag !== TAG.SEQUENCE) throw nameError('SEQUENCE attendue');
  const rdns: Ava[][] = [];
  for (const rdnTlv of children(buf, t)) {
    if (rdnTlv.tag !== TAG.SET) throw nameError('SET attendu');
    const avas: Ava[] = [];
    for (const avaTlv of children(buf, rdnTlv)) {
      const parts = children(buf, avaTlv);
      if (avaTlv.tag !== TAG.SEQUENCE || parts.length !== 2) throw nameError('attribut mal formé');
      const type = readOid(buf, parts[0]!);
      const v = parts[1]!;
      if (isStringTag(v.tag)) {
        const text = readString(buf, v);
        avas.push({ type, text, canon: 's:' + canonicalText(text) });
      } else {
        avas.push({ type, canon: 'b:' + toHex(whole(buf, v)) });
      }
    }
    if (avas.length === 0) throw nameError('RDN vide');
    rdns.push(avas);
  }
  const key = rdns
    .map((r) =>
      r
        .map((a) => a.type + '=' + a.canon)
        .sort()
        .join('\u0002'),
    )
    .join('\u0001');
  return { der: whole(buf, t), rdns, key };
}

export function parseNameDer(der: Uint8Array): Name {
  const t = readTlv(der, 0, der.length);
  if (t.end !== der.length) throw nameError('données en trop');
  return parseName(der, t);
}

function escapeRfc4514(s: string): string {
  return s
    .replace(/([,+"\\<>;=])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/ $/, '\\ ');
}

/** RFC 4514 string, most significant RDN last (as OpenSSL's -nameopt RFC2253). */
export function nameToString(n: Name): string {
  return [...n.rdns]
    .reverse()
    .map((r) =>
      r.map((a) => `${SHORT[a.type] ?? a.type}=${a.text !== undefined ? escapeRfc4514(a.text) : '#' + a.canon.slice(2)}`).join('+'),
    )
    .join(',');
}

export function namesEqual(a: Name, b: Name): boolean {
  return a.key === b.key;
}

/** True when `n` lies within the subtree rooted at `base` (RFC 5280 §7.1: RDN prefix). */
export function nameWithin(n: Name, base: Name): boolean {
  if (base.rdns.length > n.rdns.length) return false;
  for (let i = 0; i < base.rdns.length; i++) {
    const a = n.rdns[i]!.map((x) => x.type + '=' + x.canon).sort().join('\u0002');
    const b = base.rdns[i]!.map((x) => x.type + '=' + x.canon).sort().join('\u0002');
    if (a !== b) return false;
  }
  return true;
}

/** emailAddress attribute values in a subject name (for rfc822 name constraints). */
export function emailAddresses(n: Name): string[] {
  const out: string[] = [];
  for (const r of n.rdns) for (const a of r) if (a.type === OID_EMAIL_ADDRESS && a.text !== undefined) out.push(a.text);
  return out;
}

export type GeneralName =
  | { kind: 'rfc822'; value: string }
  | { kind: 'dns'; value: string }
  | { kind: 'uri'; value: string }
  | { kind: 'directory'; name: Name }
  | { kind: 'ip'; bytes: Uint8Array }
  | { kind: 'registeredID'; value: string }
  | { kind: 'other'; tag: number; der: Uint8Array };

function ia5(buf: Uint8Array, t: Tlv): string {
  const b = value(buf, t);
  let s = '';
  for (let i = 0; i < b.length; i++) {
    if (b[i]! > 0x7f) throw nameError('caractère non ASCII dans un IA5String');
    s += String.fromCharCode(b[i]!);
  }
  return s;
}

/** One GeneralName (RFC 5280 §4.2.1.6), implicitly tagged [0]..[8]. */
export function parseGeneralName(buf: Uint8Array, t: Tlv): GeneralName {
  switch (t.tag) {
    case 0x81:
      return { kind: 'rfc822', value: ia5(buf, t) };
    case 0x82:
      return { kind: 'dns', value: ia5(buf, t) };
    case 0x86:
      return { kind: 'uri', value: ia5(buf, t) };
    case 0xa4: {
      const inner = children(buf, t);
      if (inner.length !== 1) throw nameError('directoryName mal formé');
      return { kind: 'directory', name: parseName(buf, inner[0]!) };
    }
    case 0x87:
      return { kind: 'ip', bytes: value(buf, t) };
    case 0x88: {
      const fake: Tlv = { tag: TAG.OID, start: t.start, valueStart: t.valueStart, end: t.end };
      return { kind: 'registeredID', value: readOid(buf, fake) };
    }
    default:
      if ((t.tag & 0xc0) !== 0x80) throw nameError('GeneralName attendu');
      return { kind: 'other', tag: t.tag & 0x1f, der: whole(buf, t) };
  }
}

/** GeneralNames ::= SEQUENCE OF GeneralName. */
export function parseGeneralNames(buf: Uint8Array, t: Tlv): GeneralName[] {
  if (t.tag !== TAG.SEQUENCE) throw nameError('GeneralNames attendu');
  return children(buf, t).map((c) => parseGeneralName(buf, c));
}

export function generalNameToString(g: GeneralName): string {
  switch (g.kind) {
    case 'rfc822':
      return `email:${g.value}`;
    case 'dns':
      return `DNS:${g.value}`;
    case 'uri':
      return `URI:${g.value}`;
    case 'directory':
      return `DirName:${nameToString(g.name)}`;
    case 'ip':
      return `IP:${Array.from(g.bytes).join('.')}`;
    case 'registeredID':
      return `RID:${g.value}`;
    default:
      return `other[${g.tag}]`;
  }
}

export function generalNamesEqual(a: GeneralName, b: GeneralName): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'directory':
      return namesEqual(a.name, (b as typeof a).name);
    case 'rfc822':
    case 'dns':
      return a.value.toLowerCase() === (b as typeof a).value.toLowerCase();
    case 'uri':
    case 'registeredID':
      return a.value === (b as typeof a).value;
    case 'ip':
      return toHex(a.bytes) === toHex((b as typeof a).bytes);
    default:
      return toHex(a.der) === toHex((b as { der: Uint8Array }).der);
  }
}

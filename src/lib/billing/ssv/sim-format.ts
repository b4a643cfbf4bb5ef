/**
 * OUR SIMULATOR'S BYTE FORMAT, "TELETRANS-SSV-SIM 1" — NOT the B2 / DR norms (those are produced
 * by the GIE's SSV library and are not public). Documented in docs/billing/simulator-format.md;
 * nothing outside the simulator and the insurer's reader may depend on its layout.
 *
 * Text lines ending in CRLF: `GROUP|field=value|…`, fields numbered from 1 in order, every field
 * present (empty when absent). Values escape `%`, `|`, CR and LF as %25, %7C, %0D, %0A, nothing
 * else. Nested content (a document in a lot, a lot in a file) is length-prefixed, so the format
 * is binary-safe. It is canonical: the decoder re-encodes what it read and refuses any input
 * that is not byte for byte what the encoder writes (order, padding, spelling, extra fields).
 * A document's bytes are exactly what is hashed and signed; its signature sits beside it in the
 * lot, never inside the signed bytes.
 *
 * Decoding errors are `BillingError('format_invalid', where, message)`; a model constructor's
 * refusal keeps its own code with the location prefixed to its field.
 */
import { createBeneficiary, type BeneficiaryInput } from '../beneficiary.js';
import { BillingError, fail } from '../errors.js';
import { createInvoice, type ActInput, type Invoice } from '../invoice.js';
import { createPractitioner, type PractitionerInput } from '../practitioner.js';
import { PART_KEYS, type Parts } from '../pricing.js';
import { simulatorOctFramer } from '../../sesam/oct.js';
import type { Destination, DocumentKind, FormatInput, Securing, SignedDocument } from './types.js';

export const SIM_FORMAT_ID = 'TELETRANS-SSV-SIM 1';
export const MAX_FILE_BYTES = 16 * 1024 * 1024;
export const MAX_DOCUMENT_BYTES = 256 * 1024;
export const MAX_LINE_BYTES = 64 * 1024;
export const MAX_LOTS = 1000;
export const MAX_DOCUMENTS = 1000;
export const MAX_ACTS = 100;

/** The order of `Parts` fields in groups 150 and 190: pricing's own order. */
export const PART_FIELDS = PART_KEYS;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const CRLF = '\r\n';

const bad = (where: string, message: string): never => fail('format_invalid', where, `Fichier illisible : ${message}`);

// ---------------------------------------------------------------------------------------------
// Lines

const escape = (v: string): string => v.replace(/%/g, '%25').replace(/\|/g, '%7C').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const unescape = (v: string): string => v.replace(/%(25|7C|0D|0A)/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

function line(group: string, fields: readonly (string | number | boolean | undefined)[]): string {
  const parts = fields.map((f, i) => `${i + 1}=${escape(f === undefined ? '' : typeof f === 'boolean' ? (f ? '1' : '0') : String(f))}`);
  return [group, ...parts].join('|') + CRLF;
}

interface Line {
  readonly group: string;
  readonly fields: readonly string[];
  readonly where: string;
}

function parseLine(text: string, where: string): Line {
  const [group, ...rest] = text.split('|');
  if (!group || !/^\d{2,4}$/.test(group)) bad(where, 'groupe attendu en tête de ligne.');
  const fields = rest.map((r, i) => {
    const eq = r.indexOf('=');
    if (eq < 0 || r.slice(0, eq) !== String(i + 1)) bad(`${where}, groupe ${group}`, `champ ${i + 1} attendu.`);
    return unescape(r.slice(eq + 1));
  });
  return { group: group!, fields, where: `${where}, groupe ${group}` };
}

/** Reads CRLF lines and length-prefixed blobs from bytes, with bounds. */
class Cursor {
  private pos = 0;
  private lineNo = 0;
  constructor(
    private readonly b: Uint8Array,
    private readonly name: string,
  ) {}
  get where(): string {
    return `${this.name}, ligne ${this.lineNo + 1}`;
  }
  done(): boolean {
    return this.pos === this.b.length;
  }
  text(): string {
    const start = this.pos;
    const limit = Math.min(this.b.length, start + MAX_LINE_BYTES);
    for (let i = start; i + 1 < limit; i++) {
      if (this.b[i] === 0x0d && this.b[i + 1] === 0x0a) {
        this.pos = i + 2;
        this.lineNo++;
        try {
          return dec.decode(this.b.subarray(start, i));
        } catch {
          return bad(this.where, 'texte UTF-8 invalide.');
        }
      }
    }
    return bad(this.where, 'fin de ligne (CRLF) attendue.');
  }
  line(): Line {
    const where = this.where;
    return parseLine(this.text(), where);
  }
  expect(group: string, count: number): readonly string[] {
    const l = this.line();
    if (l.group !== group) bad(l.where, `groupe ${group} attendu.`);
    if (l.fields.length !== count) bad(l.where, `${count} champs attendus, ${l.fields.length} lus.`);
    return l.fields;
  }
  blob(length: number, max: number): Uint8Array {
    if (length > max || this.pos + length + 2 > this.b.length) bad(this.where, 'longueur annoncée hors du fichier.');
    const out = this.b.subarray(this.pos, this.pos + length);
    this.pos += length;
    if (this.b[this.pos] !== 0x0d || this.b[this.pos + 1] !== 0x0a) bad(this.where, 'fin de bloc (CRLF) attendue.');
    this.pos += 2;
    this.lineNo++;
    return out;
  }
  peekGroup(): string {
    let i = this.pos;
    let g = '';
    while (i < this.b.length && i - this.pos < 5 && this.b[i] !== 0x7c && this.b[i] !== 0x0d) g += String.fromCharCode(this.b[i++]!);
    return g;
  }
}

function count(v: string, where: string, max: number): number {
  if (!/^(0|[1-9]\d{0,8})$/.test(v) || Number(v) > max) bad(where, `nombre invalide « ${v.slice(0, 12)} ».`);
  return Number(v);
}

function cents(v: string, where: string): number {
  if (!/^(0|[1-9]\d{0,14})$/.test(v) || !Number.isSafeInteger(Number(v))) bad(where, 'montant invalide (centimes entiers positifs).');
  return Number(v);
}

function flag(v: string, where: string): boolean {
  if (v !== '0' && v !== '1') bad(where, 'indicateur 0 ou 1 attendu.');
  return v === '1';
}

const opt = (v: string): string | undefined => (v === '' ? undefined : v);

// ---------------------------------------------------------------------------------------------
// Documents

/** The plain content of one FSE or DRE record, as the format carries it. */
interface DocumentRecord {
  kind: DocumentKind;
  number: string;
  securing: Securing;
  createdOn: string;
  catalogueVersion: string;
  version: string;
  invoiceId: string;
  practitioner: PractitionerInput;
  beneficiary: BeneficiaryInput;
  /** Group 1321 fields 4 and 5 (contract type 99 only): AMC third-party payment and its part. */
  enriched?: { thirdParty: boolean; amcCents: number };
  context: string;
  nature: string;
  carePathway?: string;
  dre: boolean;
  prescriber?: { identifier: string; lastName: string; prescriptionDate: string };
  destination: Destination;
  acts: ActInput[];
  declaredActs: Parts[];
  totals: Parts;
}

const partsFields = (p: Parts): number[] => PART_FIELDS.map((f) => p[f]);

function birth(b: { year: number; month: number; day: number }): string {
  return `${String(b.year).padStart(4, '0')}-${String(b.month).padStart(2, '0')}-${String(b.day).padStart(2, '0')}`;
}

function recordOf(kind: DocumentKind, input: FormatInput, destination: Destination, version: string): DocumentRecord {
  const { invoice: inv, priced } = input;
  const ps = inv.practitioner;
  const b = inv.beneficiary;
  if (!/^\d{9}$/.test(input.number)) fail('format_invalid', 'number', 'Numéro de facture invalide (9 chiffres).');
  if (!/^\d{6}$/.test(version)) fail('format_invalid', 'version', 'Version de spécification invalide (6 chiffres).');
  if (priced.acts.length !== inv.acts.length) fail('format_invalid', 'priced', 'La tarification ne correspond pas aux actes.');
  const amc = b.amc;
  return {
    kind,
    number: input.number,
    securing: input.securing ?? 'vitale',
    createdOn: input.createdOn,
    catalogueVersion: priced.catalogueVersion,
    version,
    invoiceId: inv.id,
    practitioner: {
      rpps: ps.rpps,
      lastName: ps.lastName,
      firstName: ps.firstName,
      professionCode: ps.professionCode,
      specialty: ps.specialty,
      situations: ps.situations.map((s) => ({ billingNumber: s.billingNumber, sector: s.sector, tariffZone: s.tariffZone })),
      chosenBillingNumber: ps.situation.billingNumber,
    },
    beneficiary: {
      holderNir: b.holderNir.number + b.holderNir.key,
      lastName: b.lastName,
      firstName: b.firstName,
      birthDate: birth(b.birthDate),
      rank: b.rank,
      quality: b.quality,
      scheme: b.scheme,
      fund: b.fund,
      centre: b.centre,
      amoRights: b.amoRights.map((r) => ({ from: r.from, ...(r.to ? { to: r.to } : {}), thirdParty: r.thirdParty })),
      exemptions: b.exemptions.map((e) => ({ kind: e.kind, from: e.from, ...(e.to ? { to: e.to } : {}) })),
      ...(amc
        ? { amc: { identifier: amc.identifier, contractType: amc.contractType, from: amc.rights.from, ...(amc.rights.to ? { to: amc.rights.to } : {}), coverPercent: amc.coverPercent, thirdParty: amc.thirdParty } }
        : {}),
    },
    ...(amc?.contractType === '99' ? { enriched: { thirdParty: amc.thirdParty && inv.context === 'amo_amc', amcCents: priced.totals.amcCents } } : {}),
    context: inv.context,
    nature: inv.nature,
    ...(inv.carePathway ? { carePathway: inv.carePathway } : {}),
    dre: inv.dre,
    ...(inv.prescriber ? { prescriber: { ...inv.prescriber } } : {}),
    destination,
    acts: inv.acts.map((a) => ({
      code: a.code,
      date: a.date,
      ...(a.time !== undefined ? { time: a.time } : {}),
      coefficient: a.coefficient,
      ...(a.distanceKm !== undefined ? { distanceKm: a.distanceKm } : {}),
      overrunCents: a.overrunCents,
      ald: a.ald,
    })),
    declaredActs: priced.acts.map((a) => a),
    totals: priced.totals,
  };
}

function encodeRecord(r: DocumentRecord): Uint8Array {
  const p = r.practitioner;
  const b = r.beneficiary;
  const d = r.destination;
  let s = `#${SIM_FORMAT_ID} DOC${CRLF}`;
  s += line('100', [r.kind, r.number, r.securing, r.createdOn, r.catalogueVersion, r.version, r.invoiceId]);
  s += line('110', [p.rpps, p.lastName, p.firstName, p.professionCode, p.specialty, p.chosenBillingNumber, p.situations.length]);
  for (const x of p.situations) s += line('111', [x.billingNumber, x.sector, x.tariffZone]);
  s += line('120', [b.holderNir, b.lastName, b.firstName, b.birthDate, b.rank, b.quality, b.scheme, b.fund, b.centre, b.amoRights.length, b.exemptions?.length ?? 0]);
  for (const x of b.amoRights) s += line('121', [x.from, x.to, x.thirdParty === true]);
  for (const x of b.exemptions ?? []) s += line('122', [x.kind, x.from, x.to]);
  if (b.amc) {
    const a = b.amc;
    s += line('1321', [a.contractType, a.identifier, a.coverPercent, r.enriched ? r.enriched.thirdParty : undefined, r.enriched ? r.enriched.amcCents : undefined, a.from, a.to, a.thirdParty === true]);
  }
  // docs/domain/workflow.md: in an enriched FSE (contract 99) group 1410 says only "none" or "AMO"; the
  // third-party payment on the AMC part is carried by group 1321 fields 4 and 5 alone.
  const frame = r.enriched && r.context === 'amo_amc' ? 'amo' : r.context;
  s += line('1410', [frame, r.nature, r.carePathway, r.dre]);
  if (r.prescriber) s += line('130', [r.prescriber.identifier, r.prescriber.lastName, r.prescriber.prescriptionDate]);
  s += line('170', d.kind === 'AMO' ? ['AMO', d.scheme, d.fund, undefined, d.organism] : ['AMC', undefined, undefined, d.identifier, d.organism]);
  s += line('140', [r.acts.length]);
  r.acts.forEach((a, i) => {
    s += line('141', [i + 1, a.code, a.date, a.time, Math.round((a.coefficient ?? 1) * 100), a.distanceKm, a.overrunCents ?? 0, a.ald === true]);
    s += line('150', [i + 1, ...partsFields(r.declaredActs[i]!)]);
  });
  s += line('190', partsFields(r.totals));
  return enc.encode(s);
}

/** One FSE or DRE, canonical bytes (what is hashed and signed). */
export function encodeDocument(kind: DocumentKind, input: FormatInput, destination: Destination, version: string): Uint8Array {
  return encodeRecord(recordOf(kind, input, destination, version));
}

export interface DecodedDocument {
  readonly kind: DocumentKind;
  readonly number: string;
  readonly securing: Securing;
  readonly createdOn: string;
  readonly catalogueVersion: string;
  readonly version: string;
  readonly destination: Destination;
  /** Group 1321 fields 4 and 5, for contract type 99. */
  readonly enriched?: { readonly thirdParty: boolean; readonly amcCents: number };
  /** Rebuilt with the model's constructors, state `signed`. */
  readonly invoice: Invoice;
  readonly declared: { readonly acts: readonly Parts[]; readonly totals: Parts };
}

function parts(fields: readonly string[], where: string): Parts {
  const out: Record<string, number> = {};
  PART_FIELDS.forEach((f, i) => (out[f] = cents(fields[i]!, `${where}, champ ${i + 1}`)));
  return Object.freeze(out) as unknown as Parts;
}

function readRecord(bytes: Uint8Array): DocumentRecord {
  const c = new Cursor(bytes, 'document');
  if (c.text() !== `#${SIM_FORMAT_ID} DOC`) bad('document, ligne 1', `en-tête « #${SIM_FORMAT_ID} DOC » attendu.`);
  const h = c.expect('100', 7);
  if (h[0] !== 'FSE' && h[0] !== 'DRE') bad('document, groupe 100, champ 1', 'nature FSE ou DRE attendue.');
  if (h[2] !== 'vitale' && h[2] !== 'degraded') bad('document, groupe 100, champ 3', 'mode de sécurisation inconnu.');
  const p = c.expect('110', 7);
  const nSituations = count(p[6]!, 'document, groupe 110, champ 7', 16);
  const situations = Array.from({ length: nSituations }, () => {
    const s = c.expect('111', 3);
    return { billingNumber: s[0]!, sector: s[1]!, tariffZone: s[2]! };
  });
  const b = c.expect('120', 11);
  const nRights = count(b[9]!, 'document, groupe 120, champ 10', 32);
  const nExemptions = count(b[10]!, 'document, groupe 120, champ 11', 32);
  const amoRights = Array.from({ length: nRights }, () => {
    const r = c.expect('121', 3);
    return { from: r[0]!, ...(opt(r[1]!) ? { to: r[1]! } : {}), thirdParty: flag(r[2]!, 'document, groupe 121, champ 3') };
  });
  const exemptions = Array.from({ length: nExemptions }, () => {
    const r = c.expect('122', 3);
    return { kind: r[0]!, from: r[1]!, ...(opt(r[2]!) ? { to: r[2]! } : {}) };
  });
  let amc: BeneficiaryInput['amc'];
  let enriched: DocumentRecord['enriched'];
  if (c.peekGroup() === '1321') {
    const a = c.expect('1321', 8);
    amc = { contractType: a[0]!, identifier: a[1]!, coverPercent: count(a[2]!, 'document, groupe 1321, champ 3', 1000), from: a[5]!, ...(opt(a[6]!) ? { to: a[6]! } : {}), thirdParty: flag(a[7]!, 'document, groupe 1321, champ 8') };
    if (a[0] === '99') enriched = { thirdParty: flag(a[3]!, 'document, groupe 1321, champ 4'), amcCents: cents(a[4]!, 'document, groupe 1321, champ 5') };
  }
  const f = c.expect('1410', 4);
  if (enriched && f[0] === 'amo_amc') bad('document, groupe 1410, champ 1', 'FSE enrichie (contrat 99) : le cadre de remboursement (groupe 1410) ne peut dire que « sans tiers payant » ou « tiers payant AMO ».');
  // The enriched FSE's AMC third-party payment (1321 field 4) restores the invoice's context.
  const context = enriched?.thirdParty && f[0] === 'amo' ? 'amo_amc' : f[0]!;
  let prescriber: DocumentRecord['prescriber'];
  if (c.peekGroup() === '130') {
    const x = c.expect('130', 3);
    prescriber = { identifier: x[0]!, lastName: x[1]!, prescriptionDate: x[2]! };
  }
  const d = c.expect('170', 5);
  let destination: Destination;
  if (d[0] === 'AMO') destination = { kind: 'AMO', scheme: d[1]!, fund: d[2]!, organism: d[4]! };
  else if (d[0] === 'AMC') destination = { kind: 'AMC', identifier: d[3]!, organism: d[4]! };
  else return bad('document, groupe 170, champ 1', 'destinataire AMO ou AMC attendu.');
  const nActs = count(c.expect('140', 1)[0]!, 'document, groupe 140, champ 1', MAX_ACTS);
  const acts: ActInput[] = [];
  const declaredActs: Parts[] = [];
  for (let i = 0; i < nActs; i++) {
    const a = c.expect('141', 8);
    const w = `document, groupe 141 (acte ${i + 1})`;
    if (a[0] !== String(i + 1)) bad(w, 'numéro d’acte hors séquence.');
    const distance = opt(a[5]!);
    acts.push({
      code: a[1]!,
      date: a[2]!,
      ...(opt(a[3]!) ? { time: a[3]! } : {}),
      coefficient: count(a[4]!, `${w}, champ 5`, 100_000) / 100,
      ...(distance !== undefined ? { distanceKm: count(distance, `${w}, champ 6`, 2000) } : {}),
      overrunCents: cents(a[6]!, `${w}, champ 7`),
      ald: flag(a[7]!, `${w}, champ 8`),
    });
    const q = c.expect('150', 13);
    if (q[0] !== String(i + 1)) bad(`document, groupe 150 (acte ${i + 1})`, 'numéro d’acte hors séquence.');
    declaredActs.push(parts(q.slice(1), `document, groupe 150 (acte ${i + 1})`));
  }
  const totals = parts(c.expect('190', 12), 'document, groupe 190');
  if (!c.done()) bad(c.where, 'octets après la fin du document.');
  return {
    kind: h[0] as DocumentKind,
    number: h[1]!,
    securing: h[2] as Securing,
    createdOn: h[3]!,
    catalogueVersion: h[4]!,
    version: h[5]!,
    invoiceId: h[6]!,
    practitioner: { rpps: p[0]!, lastName: p[1]!, firstName: p[2]!, professionCode: p[3]!, specialty: p[4]!, situations, chosenBillingNumber: p[5]! },
    beneficiary: {
      holderNir: b[0]!,
      lastName: b[1]!,
      firstName: b[2]!,
      birthDate: b[3]!,
      rank: count(b[4]!, 'document, groupe 120, champ 5', 9),
      quality: b[5]!,
      scheme: b[6]!,
      fund: b[7]!,
      centre: b[8]!,
      amoRights,
      exemptions,
      ...(amc ? { amc } : {}),
    },
    ...(enriched ? { enriched } : {}),
    context,
    nature: f[1]!,
    ...(opt(f[2]!) ? { carePathway: f[2]! } : {}),
    dre: flag(f[3]!, 'document, groupe 1410, champ 4'),
    ...(prescriber ? { prescriber } : {}),
    destination,
    acts,
    declaredActs,
    totals,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reads one document back. Throws `format_invalid` (or the model's code, located) on any flaw. */
export function decodeDocument(bytes: Uint8Array): DecodedDocument {
  if (bytes.length > MAX_DOCUMENT_BYTES) bad('document', 'document trop long.');
  const r = readRecord(bytes);
  // Canonical: anything the encoder would not have written exactly so is refused.
  if (!sameBytes(encodeRecord(r), bytes)) bad('document', 'forme non canonique (ordre, zéros, champs ou échappements inattendus).');
  if (!/^\d{9}$/.test(r.number)) bad('document, groupe 100, champ 2', 'numéro de facture sur 9 chiffres attendu.');
  if (!/^\d{6}$/.test(r.version)) bad('document, groupe 100, champ 6', 'version sur 6 chiffres attendue.');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(r.createdOn)) bad('document, groupe 100, champ 4', 'date AAAA-MM-JJ attendue.');
  let invoice: Invoice;
  try {
    const practitioner = createPractitioner(r.practitioner);
    const beneficiary = createBeneficiary(r.beneficiary);
    invoice = createInvoice({
      id: r.invoiceId,
      practitioner,
      beneficiary,
      acts: r.acts,
      ...(r.prescriber ? { prescriber: r.prescriber } : {}),
      ...(r.carePathway ? { carePathway: r.carePathway } : {}),
      context: r.context,
      nature: r.nature,
      dre: r.dre,
      state: 'signed',
    });
  } catch (e) {
    if (e instanceof BillingError) throw new BillingError(e.code, `document ${r.number}: ${e.field}`, e.message);
    throw e;
  }
  return Object.freeze({
    kind: r.kind,
    number: r.number,
    securing: r.securing,
    createdOn: r.createdOn,
    catalogueVersion: r.catalogueVersion,
    version: r.version,
    destination: Object.freeze(r.destination),
    ...(r.enriched ? { enriched: Object.freeze(r.enriched) } : {}),
    invoice,
    declared: Object.freeze({ acts: Object.freeze(r.declaredActs), totals: r.totals }),
  });
}

// ---------------------------------------------------------------------------------------------
// Lots

export interface LotHeader {
  readonly kind: DocumentKind;
  readonly number: string;
  readonly destination: Destination;
  readonly senderType: string;
  readonly sender: string;
  readonly version: string;
}

const b64 = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
};

function unb64(s: string, where: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0 || s.length > 64 * 1024) bad(where, 'base64 invalide.');
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function destinationLine(d: Destination): string {
  return line('170', d.kind === 'AMO' ? ['AMO', d.scheme, d.fund, undefined, d.organism] : ['AMC', undefined, undefined, d.identifier, d.organism]);
}

function concat(parts: readonly (string | Uint8Array)[]): Uint8Array {
  const bs = parts.map((p) => (typeof p === 'string' ? enc.encode(p) : p));
  const out = new Uint8Array(bs.reduce((n, b) => n + b.length, 0));
  let i = 0;
  for (const b of bs) {
    out.set(b, i);
    i += b.length;
  }
  return out;
}

export function encodeLot(h: LotHeader, documents: readonly SignedDocument[]): Uint8Array {
  if (documents.length === 0 || documents.length > MAX_DOCUMENTS) fail('format_invalid', 'documents', 'Un lot contient de 1 à 1000 documents.');
  const fee = documents.reduce((n, d) => n + d.feeCents, 0);
  const asked = documents.reduce((n, d) => n + d.askedCents, 0);
  const parts: (string | Uint8Array)[] = [`#${SIM_FORMAT_ID} LOT${CRLF}`, line('200', [h.kind, h.number, h.senderType, h.sender, h.version, documents.length, fee, asked]), destinationLine(h.destination)];
  // A lot's documents are signed with one card: its certificate is encoded once.
  let certificate: { bytes: Uint8Array; text: string } | undefined;
  documents.forEach((d, i) => {
    if (d.kind !== h.kind) fail('format_invalid', `documents[${i}]`, 'Document d’une autre nature que le lot.');
    if (!certificate || !sameBytes(certificate.bytes, d.certificate)) certificate = { bytes: d.certificate, text: b64(d.certificate) };
    parts.push(line('210', [i + 1, d.bytes.length]), d.bytes, CRLF, line('211', [i + 1, b64(d.signature), certificate.text]));
  });
  parts.push(line('299', [documents.length]));
  return concat(parts);
}

export interface DecodedLotDocument {
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
  readonly certificate: Uint8Array;
  readonly document: DecodedDocument;
}

export interface DecodedLot {
  readonly header: LotHeader;
  readonly documents: readonly DecodedLotDocument[];
  /** Group 200 fields 7 and 8 (checked against the documents' sums). */
  readonly feeCents: number;
  readonly askedCents: number;
}

export function decodeLot(bytes: Uint8Array): DecodedLot {
  if (bytes.length > MAX_FILE_BYTES) bad('lot', 'lot trop long.');
  const c = new Cursor(bytes, 'lot');
  if (c.text() !== `#${SIM_FORMAT_ID} LOT`) bad('lot, ligne 1', `en-tête « #${SIM_FORMAT_ID} LOT » attendu.`);
  const h = c.expect('200', 8);
  if (h[0] !== 'FSE' && h[0] !== 'DRE') bad('lot, groupe 200, champ 1', 'nature FSE ou DRE attendue.');
  const n = count(h[5]!, 'lot, groupe 200, champ 6', MAX_DOCUMENTS);
  if (n === 0) bad('lot, groupe 200, champ 6', 'lot vide.');
  const d = c.expect('170', 5);
  const destination: Destination =
    d[0] === 'AMO' ? { kind: 'AMO', scheme: d[1]!, fund: d[2]!, organism: d[4]! } : d[0] === 'AMC' ? { kind: 'AMC', identifier: d[3]!, organism: d[4]! } : bad('lot, groupe 170', 'destinataire AMO ou AMC attendu.');
  const header: LotHeader = { kind: h[0] as DocumentKind, number: h[1]!, senderType: h[2]!, sender: h[3]!, version: h[4]!, destination };
  const documents: DecodedLotDocument[] = [];
  for (let i = 0; i < n; i++) {
    const l = c.expect('210', 2);
    if (l[0] !== String(i + 1)) bad(`lot, groupe 210 (document ${i + 1})`, 'numéro hors séquence.');
    const doc = c.blob(count(l[1]!, 'lot, groupe 210, champ 2', MAX_DOCUMENT_BYTES), MAX_DOCUMENT_BYTES);
    const s = c.expect('211', 3);
    if (s[0] !== String(i + 1)) bad(`lot, groupe 211 (document ${i + 1})`, 'numéro hors séquence.');
    const signature = unb64(s[1]!, `lot, groupe 211 (document ${i + 1}), champ 2`);
    const certificate = unb64(s[2]!, `lot, groupe 211 (document ${i + 1}), champ 3`);
    documents.push(Object.freeze({ bytes: doc, signature, certificate, document: decodeDocument(doc) }));
  }
  if (count(c.expect('299', 1)[0]!, 'lot, groupe 299', MAX_DOCUMENTS) !== n) bad('lot, groupe 299', 'nombre de documents différent de l’en-tête.');
  if (!c.done()) bad(c.where, 'octets après la fin du lot.');
  const lot: DecodedLot = { header: Object.freeze(header), documents: Object.freeze(documents), feeCents: cents(h[6]!, 'lot, groupe 200, champ 7'), askedCents: cents(h[7]!, 'lot, groupe 200, champ 8') };
  // Canonical: the totals and every separator as the encoder writes them.
  const again = encodeLot(
    header,
    documents.map((x) => ({ ...decodedAsFormatted(x), signature: x.signature, certificate: x.certificate })),
  );
  if (!sameBytes(again, bytes)) bad('lot', 'forme non canonique ou totaux du lot différents de la somme des documents.');
  return Object.freeze(lot);
}

function decodedAsFormatted(x: DecodedLotDocument): Omit<SignedDocument, 'signature' | 'certificate'> {
  const t = x.document.declared.totals;
  return {
    kind: x.document.kind,
    number: x.document.number,
    billingNumber: x.document.invoice.practitioner.situation.billingNumber,
    destination: x.document.destination,
    feeCents: t.feeCents,
    askedCents: x.document.kind === 'FSE' ? t.amoNetCents : t.amcCents,
    bytes: x.bytes,
  };
}

// ---------------------------------------------------------------------------------------------
// Files

export interface FileHeader {
  readonly kind: DocumentKind;
  readonly number: string;
  readonly name: string;
  readonly fileDate: string;
  readonly senderType: string;
  readonly sender: string;
  readonly version: string;
  /** The file formatter's grouping criterion ("CRF"). */
  readonly criterion: string;
}

/** Group 13 heads FSE files, group 93 DRE files; field 7 is the specification version. */
const FILE_GROUP: Record<DocumentKind, string> = { FSE: '13', DRE: '93' };

function lotSizes(lots: readonly Uint8Array[]): string {
  return lots.map((l) => decodeLotCount(l)).join(',');
}

/** The document count of an encoded lot (group 200 field 6), for the file header's lot sizes. */
function decodeLotCount(lot: Uint8Array): number {
  const c = new Cursor(lot, 'lot');
  c.text();
  return count(c.expect('200', 8)[5]!, 'lot, groupe 200, champ 6', MAX_DOCUMENTS);
}

export function encodeFile(h: FileHeader, lots: readonly Uint8Array[]): Uint8Array {
  if (lots.length === 0 || lots.length > MAX_LOTS) fail('format_invalid', 'lots', 'Un fichier contient de 1 à 1000 lots.');
  const sizes = lotSizes(lots);
  const total = sizes.split(',').reduce((n, x) => n + Number(x), 0);
  const parts: (string | Uint8Array)[] = [`#${SIM_FORMAT_ID} ${h.kind}${CRLF}`, line(FILE_GROUP[h.kind], [h.number, h.name, h.fileDate, h.senderType, h.sender, h.criterion, h.version, lots.length, sizes])];
  lots.forEach((l, i) => parts.push(line('300', [i + 1, l.length]), l, CRLF));
  parts.push(line('399', [lots.length, total]));
  return concat(parts);
}

export interface DecodedFile {
  readonly header: FileHeader;
  readonly lots: readonly DecodedLot[];
  readonly lotBytes: readonly Uint8Array[];
}

export function decodeFile(bytes: Uint8Array): DecodedFile {
  if (bytes.length > MAX_FILE_BYTES) bad('fichier', 'fichier trop long (16 Mio au plus).');
  const c = new Cursor(bytes, 'fichier');
  const first = c.text();
  const kind = first === `#${SIM_FORMAT_ID} FSE` ? 'FSE' : first === `#${SIM_FORMAT_ID} DRE` ? 'DRE' : bad('fichier, ligne 1', `en-tête « #${SIM_FORMAT_ID} FSE » ou « DRE » attendu.`);
  const h = c.expect(FILE_GROUP[kind], 9);
  const n = count(h[7]!, `fichier, groupe ${FILE_GROUP[kind]}, champ 8`, MAX_LOTS);
  if (n === 0) bad(`fichier, groupe ${FILE_GROUP[kind]}, champ 8`, 'fichier sans lot.');
  const header: FileHeader = { kind, number: h[0]!, name: h[1]!, fileDate: h[2]!, senderType: h[3]!, sender: h[4]!, criterion: h[5]!, version: h[6]! };
  const lotBytes: Uint8Array[] = [];
  const lots: DecodedLot[] = [];
  for (let i = 0; i < n; i++) {
    const l = c.expect('300', 2);
    if (l[0] !== String(i + 1)) bad(`fichier, groupe 300 (lot ${i + 1})`, 'numéro hors séquence.');
    const b = c.blob(count(l[1]!, 'fichier, groupe 300, champ 2', MAX_FILE_BYTES), MAX_FILE_BYTES);
    const lot = decodeLot(b);
    if (lot.header.kind !== kind) bad(`fichier, lot ${i + 1}`, `lot ${lot.header.kind} dans un fichier ${kind}.`);
    if (lot.header.version !== header.version || lot.header.sender !== header.sender || lot.header.senderType !== header.senderType) {
      bad(`fichier, lot ${i + 1}`, 'version ou émetteur du lot différents de ceux du fichier.');
    }
    lotBytes.push(b);
    lots.push(lot);
  }
  c.expect('399', 2);
  if (!c.done()) bad(c.where, 'octets après la fin du fichier.');
  if (!sameBytes(encodeFile(header, lotBytes), bytes)) bad('fichier', 'forme non canonique ou comptes (lots, tailles de lots, documents) faux.');
  return Object.freeze({ header: Object.freeze(header), lots: Object.freeze(lots), lotBytes: Object.freeze(lotBytes) });
}

export type AnyFile =
  | { readonly kind: DocumentKind; readonly header: FileHeader; readonly lots: readonly DecodedLot[] }
  | { readonly kind: 'FACTURE'; readonly header: { readonly fileName: string; readonly recipientNumber: string; readonly messageZone: string }; readonly lots: readonly DecodedLot[] };

/** An FSE or DRE file, or an OCT FACTURE single file (framed by src/lib/sesam/oct.ts). */
export function decodeAnyFile(bytes: Uint8Array): AnyFile {
  if (bytes.length > MAX_FILE_BYTES) bad('fichier', 'fichier trop long (16 Mio au plus).');
  const oct = enc.encode('#TELETRANS-OCT-SIM');
  if (!oct.every((x, i) => bytes[i] === x)) {
    const f = decodeFile(bytes);
    return { kind: f.header.kind, header: f.header, lots: f.lots };
  }
  let framed;
  try {
    framed = simulatorOctFramer.unframe(bytes);
  } catch (e) {
    return bad('fichier OCT', (e as Error).message);
  }
  const lots = framed.lots.map((l, i) => {
    const lot = decodeLot(l.data);
    if (lot.header.kind !== l.kind) bad(`fichier OCT, lot ${i + 1}`, 'nature du lot différente de son cadre.');
    return lot;
  });
  return { kind: 'FACTURE', header: { fileName: framed.header.fileName, recipientNumber: framed.header.recipientNumber, messageZone: framed.messageZone }, lots };
}

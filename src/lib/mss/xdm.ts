/**
 * IHE XDM (ITI TF-1 §16, ITI TF-3 §4.2.4.2 / §4.2.3 for the metadata) as MSSanté uses it
 * (mssante.md § Messages): one zip per message, its structured documents all about one
 * patient, laid out as
 *
 *   INDEX.HTM                       what the zip holds, for a person
 *   README.TXT                      who wrote it (the sending software)
 *   IHE_XDM/SUBSET01/METADATA.XML   XDS.b metadata (ebRIM 3.0 SubmitObjectsRequest)
 *   IHE_XDM/SUBSET01/DOC0001.XML    the documents (CDA R2), DOC0002.XML…
 *
 * The metadata written here carries what a reader needs (documents with their type, format,
 * hash, size, URI, the patient; the submission set and its members); it is XDS.b-shaped but
 * has not been through IHE's validators. Reading goes through the bounded zip reader, then
 * checks each document against its metadata (present, same size, same hash) and that every
 * document and submission set names the same patient.
 */
import { MssError } from './errors.js';
import { parseXml } from './xmldsig.js';
import { readZip, writeZip, ZIP_LIMITS, type ZipEntry, type ZipLimits } from './zip.js';

const RIM = 'urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0';
const LCM = 'urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0';
const UUID = {
  documentEntry: 'urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1',
  submissionSet: 'urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd',
  docPatientId: 'urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427',
  docUniqueId: 'urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab',
  ssPatientId: 'urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446',
  ssUniqueId: 'urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8',
  ssSourceId: 'urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832',
  classCode: 'urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a',
  typeCode: 'urn:uuid:f0306f51-975f-434e-a61c-c59651d33983',
  formatCode: 'urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d',
  ssContentType: 'urn:uuid:aa543740-bdda-424e-8c96-df4873be8500',
} as const;

/** The national health identifier's assigning authorities (INS-NIR, and its test and demo OIDs). */
export const INS_OID = { nir: '1.2.250.1.213.1.4.8', nirTest: '1.2.250.1.213.1.4.10', nirDemo: '1.2.250.1.213.1.4.11' } as const;

export interface XdmPatient {
  /** INS: the 13-character NIR and its 2-digit key (15 characters). */
  ins: string;
  /** Its assigning authority (INS_OID). */
  oid: string;
  /** The INS is qualified (identity checked against the national service): X-MSS-INS "O". */
  qualified: boolean;
}

export interface XdmCode {
  code: string;
  scheme: string;
  display: string;
}

export interface XdmDocumentInput {
  title: string;
  /** The document's type (LOINC), e.g. 11488-4 « Compte rendu de consultation ». */
  type: XdmCode;
  /** Its format (e.g. urn:ihe:iti:xds-sd:pdf:2008 for a CDA with a PDF body). */
  format: XdmCode;
  /** The CDA R2 document itself. */
  data: Uint8Array;
  mimeType?: string;
  creationTime: Date;
}

export interface XdmInput {
  patient: XdmPatient;
  documents: readonly XdmDocumentInput[];
  /** OID roots of the sending software's unique ids, and the submission set's source. */
  sourceOid: string;
  /** Unique suffix (a counter or timestamp) making the ids unique for this sender. */
  uniqueSuffix: string;
  submissionTime: Date;
  /** The sending software, as X-MSS-NIL names it. */
  software: string;
}

export const LOINC = '2.16.840.1.113883.6.1';
const INS_RE = /^[12378]\d{12}\d{2}$/;
const OID_RE = /^[0-2](\.(0|[1-9]\d*))+$/;

export function patientId(p: XdmPatient): string {
  return `${p.ins}^^^&${p.oid}&ISO`;
}

function checkPatient(p: XdmPatient): void {
  if (!INS_RE.test(p.ins)) throw new MssError('attachment_invalid', 'INS du patient invalide (15 chiffres : NIR et clé).');
  if (!(Object.values(INS_OID) as string[]).includes(p.oid)) throw new MssError('attachment_invalid', 'Autorité d’affectation de l’INS inconnue.');
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const dtm = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);

async function sha1Hex(u: Uint8Array): Promise<string> {
  // XDS.b's hash slot is SHA-1 by definition: an integrity field of the metadata, not a signature.
  const h = new Uint8Array(await crypto.subtle.digest('SHA-1', u as BufferSource));
  return Array.from(h, (b) => b.toString(16).padStart(2, '0')).join('');
}

const slot = (name: string, ...values: string[]): string =>
  `<rim:Slot name="${esc(name)}"><rim:ValueList>${values.map((v) => `<rim:Value>${esc(v)}</rim:Value>`).join('')}</rim:ValueList></rim:Slot>`;
const name = (v: string): string => `<rim:Name><rim:LocalizedString value="${esc(v)}"/></rim:Name>`;
const classification = (id: string, scheme: string, object: string, c: XdmCode): string =>
  `<rim:Classification id="${id}" classificationScheme="${scheme}" classifiedObject="${object}" nodeRepresentation="${esc(c.code)}">${slot('codingScheme', c.scheme)}${name(c.display)}</rim:Classification>`;
const externalId = (id: string, scheme: string, object: string, value: string, label: string): string =>
  `<rim:ExternalIdentifier id="${id}" identificationScheme="${scheme}" registryObject="${object}" value="${esc(value)}">${name(label)}</rim:ExternalIdentifier>`;

export const docFileName = (i: number): string => `DOC${String(i + 1).padStart(4, '0')}.XML`;

/** Builds the XDM zip for one patient's documents. */
export async function buildXdm(input: XdmInput): Promise<Uint8Array> {
  checkPatient(input.patient);
  if (input.documents.length === 0) throw new MssError('attachment_invalid', 'Aucun document à joindre.');
  if (!OID_RE.test(input.sourceOid)) throw new MssError('attachment_invalid', 'OID de la source invalide.');
  if (!/^[0-9]{1,30}$/.test(input.uniqueSuffix)) throw new MssError('attachment_invalid', 'Suffixe d’identifiant invalide (chiffres).');
  const pid = patientId(input.patient);
  const objects: string[] = [];
  const files: ZipEntry[] = [];
  for (const [i, d] of input.documents.entries()) {
    const id = `Document${String(i + 1).padStart(2, '0')}`;
    const file = docFileName(i);
    files.push({ name: `IHE_XDM/SUBSET01/${file}`, data: d.data });
    objects.push(
      `<rim:ExtrinsicObject id="${id}" mimeType="${esc(d.mimeType ?? 'text/xml')}" objectType="${UUID.documentEntry}">` +
        slot('creationTime', dtm(d.creationTime)) + slot('hash', await sha1Hex(d.data)) + slot('size', String(d.data.length)) +
        slot('URI', file) + slot('languageCode', 'fr-FR') + slot('sourcePatientId', pid) + name(d.title) +
        classification(`${id}-class`, UUID.classCode, id, d.type) + classification(`${id}-type`, UUID.typeCode, id, d.type) +
        classification(`${id}-format`, UUID.formatCode, id, d.format) +
        externalId(`${id}-pid`, UUID.docPatientId, id, pid, 'XDSDocumentEntry.patientId') +
        externalId(`${id}-uid`, UUID.docUniqueId, id, `${input.sourceOid}.${input.uniqueSuffix}.${i + 1}`, 'XDSDocumentEntry.uniqueId') +
        `</rim:ExtrinsicObject>`,
      `<rim:Association id="Assoc${i + 1}" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="SubmissionSet01" targetObject="${id}">${slot('SubmissionSetStatus', 'Original')}</rim:Association>`,
    );
  }
  const first = input.documents[0]!;
  const metadata = `<?xml version="1.0" encoding="UTF-8"?>\n<lcm:SubmitObjectsRequest xmlns:lcm="${LCM}" xmlns:rim="${RIM}"><rim:RegistryObjectList>` +
    `<rim:RegistryPackage id="SubmissionSet01">${slot('submissionTime', dtm(input.submissionTime))}${name(first.title)}` +
    classification('SubmissionSet01-ct', UUID.ssContentType, 'SubmissionSet01', first.type) +
    externalId('SubmissionSet01-pid', UUID.ssPatientId, 'SubmissionSet01', pid, 'XDSSubmissionSet.patientId') +
    externalId('SubmissionSet01-uid', UUID.ssUniqueId, 'SubmissionSet01', `${input.sourceOid}.${input.uniqueSuffix}`, 'XDSSubmissionSet.uniqueId') +
    externalId('SubmissionSet01-src', UUID.ssSourceId, 'SubmissionSet01', input.sourceOid, 'XDSSubmissionSet.sourceId') +
    `</rim:RegistryPackage><rim:Classification id="SubmissionSet01-cl" classifiedObject="SubmissionSet01" classificationNode="${UUID.submissionSet}"/>` +
    objects.join('') + `</rim:RegistryObjectList></lcm:SubmitObjectsRequest>\n`;
  const rows = input.documents.map((d, i) => `<li><a href="IHE_XDM/SUBSET01/${docFileName(i)}">${esc(d.title)}</a> (${esc(d.type.display)})</li>`).join('');
  const index = `<!DOCTYPE html>\n<html lang="fr"><head><meta charset="utf-8"><title>Documents de santé</title></head><body>` +
    `<h1>Documents de santé</h1><p>Envoyés le ${esc(input.submissionTime.toISOString())} par ${esc(input.software)}.</p><ul>${rows}</ul></body></html>\n`;
  const readme = `Archive IHE XDM (profil IHE ITI XDM) transmise par messagerie MSSante.\r\nLogiciel emetteur : ${input.software}\r\n` +
    `Contenu : ${input.documents.length} document(s) dans IHE_XDM/SUBSET01, metadonnees dans METADATA.XML.\r\n`;
  const enc = new TextEncoder();
  return writeZip([
    { name: 'INDEX.HTM', data: enc.encode(index) },
    { name: 'README.TXT', data: enc.encode(readme) },
    { name: 'IHE_XDM/SUBSET01/METADATA.XML', data: enc.encode(metadata) },
    ...files,
  ]);
}

export interface XdmDocument {
  /** Path inside the zip. */
  path: string;
  title: string;
  typeCode: string;
  mimeType: string;
  size: number;
  data: Uint8Array;
}

export interface XdmContents {
  /** The one patient, as the metadata names it ("INS^^^&OID&ISO"). */
  patientId: string;
  documents: XdmDocument[];
  /** Files of the zip no metadata refers to (listed, never opened). */
  others: string[];
}

function rimChildren(parent: Element, local: string): Element[] {
  return Array.from(parent.childNodes).filter((n) => n.nodeType === 1 && (n as Element).namespaceURI === RIM && (n as Element).localName === local) as Element[];
}

function slotValue(obj: Element, slotName: string): string | undefined {
  const s = rimChildren(obj, 'Slot').find((e) => e.getAttribute('name') === slotName);
  const list = s ? rimChildren(s, 'ValueList')[0] : undefined;
  return list ? rimChildren(list, 'Value')[0]?.textContent?.trim() : undefined;
}

function externalValue(obj: Element, scheme: string): string | undefined {
  return rimChildren(obj, 'ExternalIdentifier').find((e) => e.getAttribute('identificationScheme') === scheme)?.getAttribute('value') ?? undefined;
}

const malformed = (why: string): never => {
  throw new MssError('xdm_malformed', `Archive XDM non conforme : ${why}.`);
};

/** Opens a received XDM zip: bounded, each document checked against its metadata, one patient. */
export async function readXdm(zip: Uint8Array, limits: ZipLimits = ZIP_LIMITS): Promise<XdmContents> {
  const entries = readZip(zip, limits);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const metadataFiles = entries.filter((e) => /^IHE_XDM\/[^/]+\/METADATA\.XML$/i.test(e.name));
  if (metadataFiles.length === 0) malformed('aucun IHE_XDM/<sous-dossier>/METADATA.XML');
  const patients = new Set<string>();
  const documents: XdmDocument[] = [];
  const used = new Set<string>();
  for (const m of metadataFiles) {
    used.add(m.name);
    const folder = m.name.slice(0, m.name.lastIndexOf('/') + 1);
    let doc: Document;
    try {
      doc = parseXml(new TextDecoder('utf-8', { fatal: true }).decode(m.data));
    } catch (e) {
      if (e instanceof MssError && e.code === 'xml_unavailable') throw e;
      return malformed(`${m.name} illisible`);
    }
    const list = doc.getElementsByTagNameNS(RIM, 'RegistryObjectList')[0];
    if (!list) malformed(`${m.name} sans RegistryObjectList`);
    for (const pkg of rimChildren(list!, 'RegistryPackage')) {
      const pid = externalValue(pkg, UUID.ssPatientId);
      if (pid) patients.add(pid);
    }
    const objects = rimChildren(list!, 'ExtrinsicObject');
    if (objects.length === 0) malformed(`${m.name} ne décrit aucun document`);
    for (const o of objects) {
      const pid = externalValue(o, UUID.docPatientId);
      if (!pid) malformed('un document sans patient (patientId)');
      patients.add(pid!);
      const uri = slotValue(o, 'URI');
      if (!uri || uri.includes('/') || uri.includes('\\') || uri === '.' || uri === '..') malformed('un document sans URI dans son sous-dossier');
      const path = folder + uri!;
      const entry = byName.get(path);
      if (!entry) malformed(`document ${uri} absent de l’archive`);
      used.add(path);
      const size = slotValue(o, 'size');
      if (size !== undefined && Number(size) !== entry!.data.length) malformed(`taille de ${uri} différente de ses métadonnées`);
      const hash = slotValue(o, 'hash');
      if (hash !== undefined && hash.toLowerCase() !== (await sha1Hex(entry!.data))) malformed(`empreinte de ${uri} différente de ses métadonnées`);
      const title = rimChildren(rimChildren(o, 'Name')[0] ?? o, 'LocalizedString')[0]?.getAttribute('value') ?? uri!;
      const typeCode = rimChildren(o, 'Classification').find((c) => c.getAttribute('classificationScheme') === UUID.typeCode)?.getAttribute('nodeRepresentation') ?? '';
      documents.push({ path, title, typeCode, mimeType: o.getAttribute('mimeType') ?? 'application/octet-stream', size: entry!.data.length, data: entry!.data });
    }
  }
  if (patients.size !== 1) {
    throw new MssError('documents_not_one_patient', 'Les documents de l’archive XDM ne concernent pas tous le même patient : refusée.');
  }
  return { patientId: [...patients][0]!, documents, others: entries.map((e) => e.name).filter((n) => !used.has(n)) };
}

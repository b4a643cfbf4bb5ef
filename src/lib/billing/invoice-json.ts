/**
 * The JSON form of an invoice ("teletrans-invoice-1", docs/billing/invoice-json.md): what the
 * command line reads (`teletrans invoice price|build`), and what an import or a migration
 * writes. Strict: an unknown key, a wrong type or a missing field is a `json_invalid` error
 * naming its path (`invoices[2].acts[0].coefficient`), so a typo never prices a different
 * invoice than the one meant; values are then checked by the model's own constructors, whose
 * codes (`nir_key`, `rpps_key`…) come out with the same path prefix.
 *
 * Messages name paths and expected types, never the values (a NIR or a name ends up in logs).
 */
import { createBeneficiary, type BeneficiaryInput } from './beneficiary.js';
import { BillingError, fail } from './errors.js';
import { createInvoice, type ActInput, type Invoice } from './invoice.js';
import { createPractitioner, type PractitionerInput } from './practitioner.js';
import type { Securing } from './ssv/types.js';

export const INVOICE_JSON_FORMAT = 'teletrans-invoice-1';

/** One invoice as JSON. */
export interface InvoiceJson {
  format?: typeof INVOICE_JSON_FORMAT;
  id: string;
  practitioner: PractitionerInput;
  beneficiary: BeneficiaryInput;
  acts: ActInput[];
  context: string;
  nature?: string;
  carePathway?: string;
  prescriber?: { identifier: string; lastName: string; prescriptionDate: string };
  dre?: boolean;
  /** How the beneficiary's data came in: read from the Vitale card (default) or by hand. */
  securing?: Securing;
}

export interface ParsedInvoice {
  readonly invoice: Invoice;
  readonly securing: Securing;
  /** Where it was in the input (`invoices[1]`), for messages. */
  readonly path: string;
}

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array';
type Shape = Record<string, { kind: Kind; required?: boolean; item?: Shape; itemKind?: Kind }>;

const SITUATION: Shape = { billingNumber: { kind: 'string', required: true }, sector: { kind: 'string', required: true }, tariffZone: { kind: 'string', required: true } };
const PRACTITIONER: Shape = {
  rpps: { kind: 'string', required: true },
  lastName: { kind: 'string', required: true },
  firstName: { kind: 'string', required: true },
  professionCode: { kind: 'string', required: true },
  specialty: { kind: 'string', required: true },
  situations: { kind: 'array', required: true, item: SITUATION },
  chosenBillingNumber: { kind: 'string', required: true },
};
const PERIOD_RIGHTS: Shape = { from: { kind: 'string', required: true }, to: { kind: 'string' }, thirdParty: { kind: 'boolean' } };
const EXEMPTION: Shape = { kind: { kind: 'string', required: true }, from: { kind: 'string', required: true }, to: { kind: 'string' } };
const AMC: Shape = {
  identifier: { kind: 'string', required: true },
  contractType: { kind: 'string', required: true },
  from: { kind: 'string', required: true },
  to: { kind: 'string' },
  coverPercent: { kind: 'number', required: true },
  thirdParty: { kind: 'boolean' },
};
const BENEFICIARY: Shape = {
  holderNir: { kind: 'string', required: true },
  lastName: { kind: 'string', required: true },
  firstName: { kind: 'string', required: true },
  birthDate: { kind: 'string', required: true },
  rank: { kind: 'number', required: true },
  quality: { kind: 'string', required: true },
  scheme: { kind: 'string', required: true },
  fund: { kind: 'string', required: true },
  centre: { kind: 'string', required: true },
  amoRights: { kind: 'array', required: true, item: PERIOD_RIGHTS },
  exemptions: { kind: 'array', item: EXEMPTION },
  amc: { kind: 'object', item: AMC },
};
const ACT: Shape = {
  code: { kind: 'string', required: true },
  date: { kind: 'string', required: true },
  time: { kind: 'string' },
  coefficient: { kind: 'number' },
  distanceKm: { kind: 'number' },
  overrunCents: { kind: 'number' },
  ald: { kind: 'boolean' },
};
const PRESCRIBER: Shape = { identifier: { kind: 'string', required: true }, lastName: { kind: 'string', required: true }, prescriptionDate: { kind: 'string', required: true } };
const INVOICE: Shape = {
  format: { kind: 'string' },
  id: { kind: 'string', required: true },
  practitioner: { kind: 'object', required: true, item: PRACTITIONER },
  beneficiary: { kind: 'object', required: true, item: BENEFICIARY },
  acts: { kind: 'array', required: true, item: ACT },
  context: { kind: 'string', required: true },
  nature: { kind: 'string' },
  carePathway: { kind: 'string' },
  prescriber: { kind: 'object', item: PRESCRIBER },
  dre: { kind: 'boolean' },
  securing: { kind: 'string' },
};

const KIND_FR: Record<Kind, string> = { string: 'une chaîne', number: 'un nombre', boolean: 'true ou false', object: 'un objet', array: 'une liste' };

function kindOf(v: unknown): Kind | 'null' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean' ? t : t === 'object' ? 'object' : 'null';
}

/** Checks `value` against `shape`, recursively; throws `json_invalid` at the first flaw. */
function check(value: unknown, shape: Shape, path: string): void {
  if (kindOf(value) !== 'object') fail('json_invalid', path || '(racine)', `${path || 'La facture'} : un objet JSON est attendu.`);
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!Object.hasOwn(shape, key)) fail('json_invalid', `${path}.${key}`.replace(/^\./, ''), `Clé inconnue « ${key.slice(0, 40)} » dans ${path || 'la facture'}.`);
  }
  for (const [key, rule] of Object.entries(shape)) {
    const here = `${path}.${key}`.replace(/^\./, '');
    const v = obj[key];
    if (v === undefined) {
      if (rule.required) fail('json_invalid', here, `${here} manquant.`);
      continue;
    }
    if (kindOf(v) !== rule.kind) fail('json_invalid', here, `${here} : ${KIND_FR[rule.kind]} est attendu.`);
    if (rule.kind === 'number' && !Number.isFinite(v)) fail('json_invalid', here, `${here} : nombre fini attendu.`);
    if (rule.kind === 'object' && rule.item) check(v, rule.item, here);
    if (rule.kind === 'array' && rule.item) (v as unknown[]).forEach((x, i) => check(x, rule.item!, `${here}[${i}]`));
  }
}

const MAX_INVOICES = 10_000;

/** Re-throws a model refusal with the invoice's path before its field. */
function located<T>(path: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (e instanceof BillingError) throw new BillingError(e.code, path ? `${path}.${e.field}` : e.field, e.message);
    throw e;
  }
}

/** One invoice from its JSON value (already parsed). */
export function invoiceFromJson(value: unknown, path = ''): ParsedInvoice {
  check(value, INVOICE, path);
  const j = value as InvoiceJson;
  const at = (p: string): string => (path ? `${path}.${p}` : p);
  if (j.format !== undefined && j.format !== INVOICE_JSON_FORMAT) fail('json_invalid', at('format'), `Format « ${String(j.format).slice(0, 40)} » inconnu : « ${INVOICE_JSON_FORMAT} » attendu.`);
  if (j.securing !== undefined && j.securing !== 'vitale' && j.securing !== 'degraded') fail('json_invalid', at('securing'), 'securing : « vitale » ou « degraded » attendu.');
  const practitioner = located(at('practitioner'), () => createPractitioner(j.practitioner));
  const beneficiary = located(at('beneficiary'), () => createBeneficiary(j.beneficiary));
  const invoice = located(path, () =>
    createInvoice({
      id: j.id,
      practitioner,
      beneficiary,
      acts: j.acts,
      ...(j.prescriber ? { prescriber: j.prescriber } : {}),
      ...(j.carePathway !== undefined ? { carePathway: j.carePathway } : {}),
      context: j.context,
      ...(j.nature !== undefined ? { nature: j.nature } : {}),
      ...(j.dre !== undefined ? { dre: j.dre } : {}),
      state: 'draft',
    }),
  );
  return Object.freeze({ invoice, securing: j.securing ?? 'vitale', path: path || 'facture' });
}

/**
 * A JSON text holding one invoice object, or a list of them, or `{"invoices": [...]}`.
 * Invoice ids must be unique within the text.
 */
export function invoicesFromJsonText(text: string): ParsedInvoice[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return fail('json_invalid', '(racine)', `JSON illisible : ${(e as Error).message.slice(0, 120)}`);
  }
  let list: unknown[];
  let base: string;
  if (Array.isArray(value)) {
    list = value;
    base = '';
  } else if (kindOf(value) === 'object' && Object.keys(value as object).length === 1 && Array.isArray((value as { invoices?: unknown }).invoices)) {
    list = (value as { invoices: unknown[] }).invoices;
    base = 'invoices';
  } else {
    return [invoiceFromJson(value)];
  }
  if (list.length === 0) fail('json_invalid', base || '(racine)', 'Aucune facture dans la liste.');
  if (list.length > MAX_INVOICES) fail('json_invalid', base || '(racine)', `Trop de factures (${MAX_INVOICES} au plus).`);
  const parsed = list.map((v, i) => invoiceFromJson(v, `${base}[${i}]`));
  const ids = new Set<string>();
  for (const p of parsed) {
    if (ids.has(p.invoice.id)) fail('json_invalid', `${p.path}.id`, `Identifiant de facture en double dans le fichier (${p.path}).`);
    ids.add(p.invoice.id);
  }
  return parsed;
}

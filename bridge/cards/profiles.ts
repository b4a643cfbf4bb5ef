/**
 * The virtual CPS and Vitale cards: synthetic, clearly fictitious data, and a test PKI shaped
 * like IGC-Santé (a root, an intermediate for people, card certificates) whose keys are made
 * here and stay inside the card objects. Nothing in this file is real: names carry "FICTIF",
 * NIRs are of people born abroad (department 99) in country 999, which INSEE never assigned: a
 * shape the billing model accepts (the key is right) and no real person has. RPPS and structure
 * numbers start with 1999/999.
 */
import { luhnKey } from '../../src/lib/billing/practitioner.js';
import { nirKey } from '../../src/lib/billing/beneficiary.js';
import { generateKeyPair, createHash, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { genKey, issueCert, type ForgeKey } from '../pki/forge.js';
import { DEMO_CPE_POLICIES, DEMO_CPS_POLICIES } from '../../src/lib/pki/demo/cps.js';
import { VirtualCard, type VirtualApp } from './card.js';

import { AID_CPS, AID_VITALE, EF, HIST_CPS, HIST_VITALE } from '../../src/lib/card/command-set.js';

export { AID_CPS, AID_VITALE, EF };

/** ATRs: T=1, historical bytes "TTCPS" / "TTVIT" so the bridge can tell the card kinds apart. */
export const ATR_CPS = Uint8Array.from([0x3b, 0x85, 0x80, 0x01, ...HIST_CPS, 0x00]);
export const ATR_VITALE = Uint8Array.from([0x3b, 0x85, 0x80, 0x01, ...HIST_VITALE, 0x00]);
for (const atr of [ATR_CPS, ATR_VITALE]) {
  let tck = 0;
  for (let i = 1; i < atr.length - 1; i++) tck ^= atr[i]!;
  atr[atr.length - 1] = tck;
}

import type { CardBeneficiary, CardSituation, CpsRead, VitaleRead } from '../../src/lib/card/reads.js';

/** The card data types are the page's too (src/lib/card/reads.ts). */
export type BillingSituation = CardSituation;
export type Beneficiary = CardBeneficiary;

/** What the virtual CPS holds: what `cps.read` returns, less the card's live state. */
export type CpsData = Omit<CpsRead, 'expired' | 'pinTriesLeft' | 'blocked'> & { fictitious: true };

/** What the virtual Vitale holds: what `vitale.read` returns, less the card's live state. */
export type VitaleData = Omit<VitaleRead, 'expired'> & { fictitious: true };

export interface TestPki {
  rootDer: Uint8Array;
  caDer: Uint8Array;
  caKey: ForgeKey;
}

const DAY = 86_400_000;
const day = (d: number): string => new Date(Date.now() + d * DAY).toISOString().slice(0, 10);

export async function makeTestPki(): Promise<TestPki> {
  const rootKey = await genKey('rsa2048');
  const caKey = await genKey('rsa2048');
  const rootDer = await issueCert({
    subject: 'CN=TEST FICTIF AC RACINE IGC-SANTE,OU=TELETRANS TEST,O=TELETRANS FICTIF,C=FR',
    key: rootKey,
    ca: true,
    notAfter: new Date(Date.now() + 3650 * DAY),
  });
  const caDer = await issueCert({
    subject: 'CN=TEST FICTIF AC IGC-SANTE STANDARD PERSONNES,OU=TELETRANS TEST,O=TELETRANS FICTIF,C=FR',
    key: caKey,
    ca: true,
    issuerCert: rootDer,
    signer: rootKey,
    notAfter: new Date(Date.now() + 3000 * DAY),
  });
  return { rootDer, caDer, caKey };
}

const genRsa = promisify(generateKeyPair);

async function cardKey(): Promise<{ key: KeyObject; forge: ForgeKey }> {
  const { privateKey, publicKey } = await genRsa('rsa', { modulusLength: 2048 });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const keyId = new Uint8Array(createHash('sha1').update(spki).digest());
  // Only spki and keyId are used when the key is the subject's; the private half is a KeyObject.
  return { key: privateKey, forge: { alg: 'rsa2048', spki, keyId } as unknown as ForgeKey };
}

async function cardCert(pki: TestPki, subject: string, k: ForgeKey, usage: 'auth' | 'sign', expired: boolean, family: 'CPS' | 'CPE' = 'CPS'): Promise<Uint8Array> {
  const now = Date.now();
  return issueCert({
    subject,
    key: k,
    issuerCert: pki.caDer,
    signer: pki.caKey,
    notBefore: new Date(expired ? now - 3 * 365 * DAY : now - DAY),
    notAfter: new Date(expired ? now - 2 * DAY : now + 3 * 365 * DAY),
    keyUsage: { bits: usage === 'auth' ? ['digitalSignature'] : ['nonRepudiation'], critical: true },
    policies: [(family === 'CPE' ? DEMO_CPE_POLICIES : DEMO_CPS_POLICIES)[usage]],
  });
}

const json = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));

/** The professions the billing core bills (RPPS profession codes), as fictitious holders. */
const CPS_HOLDERS = {
  doctor: { code: '10', label: 'Médecin (fictif)', title: 'Médecin', civility: 'DR', lastName: 'FICTIF-TEST', firstName: 'CAMILLE', specialty: '01', serial: '9990000001' },
  nurse: { code: '60', label: 'Infirmier (fictif)', title: 'Infirmier', civility: 'MME', lastName: 'FICTIF-SOINS', firstName: 'ALEX', specialty: '00', serial: '9990000061' },
  physiotherapist: { code: '70', label: 'Masseur-kinésithérapeute (fictif)', title: 'Masseur-kinésithérapeute', civility: 'M', lastName: 'FICTIF-KINE', firstName: 'SACHA', specialty: '00', serial: '9990000071' },
  /** A CPE: the staff card of the cabinet's front desk (no profession, one structure; access/roles.ts). */
  assistant: { code: '', label: 'Personnel de structure (fictif)', title: 'Assistant', civility: 'MME', lastName: 'FICTIF-ACCUEIL', firstName: 'ROBIN', specialty: '00', serial: '9990000091' },
} as const;

/** The holder's identifier: a fictitious RPPS (1999999…) or, on a CPE, a staff number of ours (3999999…); both Luhn-valid. */
const holderId = (family: 'CPS' | 'CPE', serial: string): string => {
  const base = (family === 'CPE' ? '3999999' : '1999999') + serial.slice(-3);
  return base + luhnKey(base);
};

export interface CpsOptions {
  /** Whose card: a doctor (default), a nurse, a physiotherapist, or the front desk's CPE (`assistant`), all fictitious. */
  profession?: keyof typeof CPS_HOLDERS;
  serial?: string;
  pin?: string;
  expired?: boolean;
  blocked?: boolean;
  signDelayMs?: number;
}

export async function makeCps(pki: TestPki, o: CpsOptions = {}): Promise<{ card: VirtualCard; data: CpsData }> {
  const expired = o.expired ?? false;
  const holder = CPS_HOLDERS[o.profession ?? 'doctor'];
  const serial = o.serial ?? holder.serial;
  const family = o.profession === 'assistant' ? 'CPE' : 'CPS';
  const data: CpsData = {
    cardType: 'CPS',
    family,
    fictitious: true,
    serial,
    // Luhn-valid like a real RPPS (the billing core checks the key), and fictitious: 1999999….
    rpps: holderId(family, serial),
    civility: holder.civility,
    lastName: holder.lastName,
    firstName: holder.firstName,
    profession: { code: holder.code, label: holder.label },
    situations: family === 'CPE' ? [
      { number: 1, mode: 'salarié', structure: 'CABINET FICTIF DES TESTS', structureId: '999000001', conventionSector: '1', specialty: holder.specialty, tariffZone: '10' },
    ] : [
      { number: 1, mode: 'libéral', structure: 'CABINET FICTIF DES TESTS', structureId: '999000001', conventionSector: '1', specialty: holder.specialty, tariffZone: '10' },
      { number: 2, mode: 'libéral', structure: 'MAISON DE SANTÉ FICTIVE', structureId: '999000002', conventionSector: '1', specialty: holder.specialty, tariffZone: '10' },
      { number: 3, mode: 'remplaçant', structure: 'CABINET FICTIF REMPLACEMENT', structureId: '999000003', conventionSector: '2', specialty: holder.specialty, tariffZone: '10' },
    ],
    validFrom: day(expired ? -3 * 365 : -1),
    validTo: day(expired ? -2 : 3 * 365),
  };
  const auth = await cardKey();
  const sign = await cardKey();
  const dn = `CN=${data.rpps}/${holder.lastName} ${holder.firstName},SN=${holder.lastName},GIVENNAME=${holder.firstName},T=${holder.title},O=CABINET FICTIF DES TESTS,C=FR`;
  const app: VirtualApp = {
    aid: AID_CPS,
    authNeedsPin: true,
    authKey: auth.key,
    signKey: sign.key,
    files: new Map([
      [EF.IDENTITY, json({ rpps: data.rpps, civility: data.civility, lastName: data.lastName, firstName: data.firstName, profession: data.profession, fictitious: true })],
      [EF.SITUATIONS, json(data.situations)],
      [EF.CARD_INFO, json({ cardType: 'CPS', family, serial, validFrom: data.validFrom, validTo: data.validTo, fictitious: true })],
      [EF.CA_CERT, pki.caDer],
      [EF.AUTH_CERT, await cardCert(pki, dn, auth.forge, 'auth', expired, family)],
      [EF.SIGN_CERT, await cardCert(pki, dn, sign.forge, 'sign', expired, family)],
    ]),
  };
  const card = new VirtualCard({
    label: `${family} ${serial}${expired ? ' (expirée)' : ''}${o.blocked ? ' (bloquée)' : ''}`,
    atr: ATR_CPS,
    app,
    pin: o.pin ?? '1234',
    triesLeft: o.blocked ? 0 : undefined,
    signDelayMs: o.signDelayMs,
  });
  return { card, data };
}

export interface VitaleOptions {
  serial?: string;
  expired?: boolean;
  /**
   * Another fictitious household (1–99): its own holder NIR and names, three beneficiaries as
   * the default card's (holder with third-party payment, a child, a child under ALD). 0 (the
   * default) is the FICTIF household every test knows.
   */
  household?: number;
}

/** Surnames of the other households: words, not names anyone bears, after « FICTIF- ». */
const HOUSEHOLD_NAMES = ['EXEMPLE', 'ESSAI', 'MODELE', 'MAQUETTE', 'SPECIMEN', 'TEMOIN', 'PILOTE', 'PATRON', 'ETALON', 'GABARIT'];
const FIRST_NAMES = ['CLAUDE', 'MORGAN', 'LOUISON', 'ANDREA', 'CHARLIE', 'SASHA', 'NOA', 'ELIOTT', 'MAEL', 'LOU'];

/** Holder NIR and names of household `n` (0: the FICTIF one). Born abroad (99), country 999. */
function household(n: number): { holderNir: string; lastName: string; first: [string, string, string] } {
  if (n === 0) return { holderNir: '180059999900135', lastName: 'FICTIF', first: ['DOMINIQUE', 'SACHA', 'ALEX'] };
  if (!Number.isInteger(n) || n < 1 || n > 99) throw new RangeError(`household: 1 to 99, got ${n}`);
  const nir13 = `2800599999${String(100 + n).padStart(3, '0')}`;
  const at = (i: number): string => FIRST_NAMES[(n + i) % FIRST_NAMES.length]!;
  return {
    holderNir: nir13 + String(nirKey(nir13)).padStart(2, '0'),
    lastName: `FICTIF-${HOUSEHOLD_NAMES[(n - 1) % HOUSEHOLD_NAMES.length]}${n > HOUSEHOLD_NAMES.length ? ` ${Math.ceil(n / HOUSEHOLD_NAMES.length)}` : ''}`,
    first: [at(0), at(3), at(6)],
  };
}

export async function makeVitale(pki: TestPki, o: VitaleOptions = {}): Promise<{ card: VirtualCard; data: VitaleData }> {
  const expired = o.expired ?? false;
  const serial = o.serial ?? '9990000101';
  // Born abroad (99) in country 999, never assigned: valid for the billing model, no real person's.
  const h = household(o.household ?? 0);
  const data: VitaleData = {
    cardType: 'VITALE',
    fictitious: true,
    serial,
    holderNir: h.holderNir,
    scheme: '01',
    fund: '999',
    centre: '9999',
    validTo: day(expired ? -2 : 5 * 365),
    beneficiaries: [
      { rank: 1, nir: h.holderNir, birthDate: '1980-05-01', birthRank: 1, lastName: h.lastName, firstName: h.first[0], quality: '00',
        amo: { from: day(-365), to: day(expired ? -2 : 365), coverageCode: '100', thirdParty: true },
        amc: { organism: '99999999', from: day(-365), to: day(365), contractType: '01', coverPercent: 100, thirdParty: true } },
      { rank: 2, nir: h.holderNir, birthDate: '2012-09-15', birthRank: 1, lastName: h.lastName, firstName: h.first[1], quality: '06',
        amo: { from: day(-365), to: day(expired ? -2 : 365), coverageCode: '100' } },
      { rank: 3, nir: h.holderNir, birthDate: '2015-02-03', birthRank: 2, lastName: h.lastName, firstName: h.first[2], quality: '06',
        amo: { from: day(-365), to: day(expired ? -2 : 365), coverageCode: '100', exemption: 'ald', thirdParty: true } },
    ],
  };
  const auth = await cardKey();
  const app: VirtualApp = {
    aid: AID_VITALE,
    authNeedsPin: false,
    authKey: auth.key,
    files: new Map([
      [EF.CARD_INFO, json({ cardType: 'VITALE', serial, validTo: data.validTo, fictitious: true })],
      [EF.BENEFICIARIES, json({ holderNir: data.holderNir, scheme: data.scheme, fund: data.fund, centre: data.centre, beneficiaries: data.beneficiaries })],
      [EF.CA_CERT, pki.caDer],
      [EF.AUTH_CERT, await cardCert(pki, `CN=CARTE VITALE FICTIVE ${serial},O=TELETRANS FICTIF,C=FR`, auth.forge, 'auth', expired)],
    ]),
  };
  return { card: new VirtualCard({ label: `Vitale ${serial}${expired ? ' (expirée)' : ''}`, atr: ATR_VITALE, app }), data };
}

/** One of each: the standard set of the simulator and the tests (keys made once per process). */
export interface CardSet {
  pki: TestPki;
  cps: VirtualCard;
  cpsData: CpsData;
  vitale: VirtualCard;
  vitaleData: VitaleData;
}

export async function makeCardSet(): Promise<CardSet> {
  const pki = await makeTestPki();
  const [cps, vitale] = await Promise.all([makeCps(pki), makeVitale(pki)]);
  return { pki, cps: cps.card, cpsData: cps.data, vitale: vitale.card, vitaleData: vitale.data };
}

/**
 * Card services for our virtual CPS and Vitale cards (command set: ./command-set.ts,
 * bridge/cards/README.md), over APDUs only: the same code runs in the bridge over PC/SC and in a
 * page over any transport that carries APDUs (issue 17).
 */
import { SW, buildCommand, splitResponse, swHex } from './apdu.js';
import { AID_CPS, AID_VITALE, EF, HIST_CPS, HIST_VITALE, INS, KEY_REF, PIN_REF, padPin } from './command-set.js';
import { PIN_PAD_MESSAGES, PIN_PAD_SW, pinVerifyStructure, type PinBlockFormat } from './pinpad.js';
import { CardServiceError, type CardCertificates, type CardKind, type CardServices, type CpsRead, type PinPad, type PinResult, type Transmit, type VitaleRead } from './services.js';
import type { CardFamily } from '../access/roles.js';


async function call(tx: Transmit, apdu: Uint8Array, what: string): Promise<{ data: Uint8Array; sw: number }> {
  const r = splitResponse(await tx(apdu));
  if (r.sw !== SW.OK && (r.sw & 0xfff0) !== 0x63c0 && r.sw !== SW.AUTH_METHOD_BLOCKED && r.sw !== SW.SECURITY_NOT_SATISFIED) {
    throw new CardServiceError('card_error', `${what}: status ${swHex(r.sw)}`);
  }
  return r;
}

async function selectApp(tx: Transmit, kind: CardKind): Promise<void> {
  await call(tx, buildCommand(0, INS.SELECT, 0x04, 0x00, kind === 'CPS' ? AID_CPS : AID_VITALE), 'SELECT application');
}

/** SELECT EF then READ BINARY in 256-byte chunks. */
export async function readFile(tx: Transmit, fid: number): Promise<Uint8Array> {
  const sel = await call(tx, buildCommand(0, INS.SELECT, 0x02, 0x00, Uint8Array.of(fid >> 8, fid & 0xff)), `SELECT ${fid.toString(16)}`);
  const fcp = sel.data;
  if (fcp.length < 6 || fcp[2] !== 0x80) throw new CardServiceError('card_error', 'bad FCP');
  const size = (fcp[4]! << 8) | fcp[5]!;
  const out = new Uint8Array(size);
  for (let off = 0; off < size; ) {
    const n = Math.min(256, size - off);
    const r = await call(tx, buildCommand(0, INS.READ_BINARY, off >> 8, off & 0xff, undefined, n & 0xff), 'READ BINARY');
    if (r.data.length === 0) throw new CardServiceError('card_error', 'empty READ BINARY');
    out.set(r.data.subarray(0, size - off), off);
    off += r.data.length;
  }
  return out;
}

const readJson = async <T>(tx: Transmit, fid: number): Promise<T> => JSON.parse(new TextDecoder().decode(await readFile(tx, fid))) as T;
const today = (): string => new Date().toISOString().slice(0, 10);

/** Status words of VERIFY, shared by the typed and the pad paths. */
function pinResult(sw: number): PinResult {
  if (sw === SW.OK) return { ok: true, triesLeft: 3 };
  if (sw === SW.AUTH_METHOD_BLOCKED) return { ok: false, triesLeft: 0, blocked: true };
  if ((sw & 0xfff0) === 0x63c0) return { ok: false, triesLeft: sw & 0x0f, blocked: false };
  throw new CardServiceError('card_error', `VERIFY: status ${swHex(sw)}`);
}

/** Our PIN block (card.ts `padPin`): 4 to 8 ASCII digits from the start of the data, FF-padded to 8. */
const PIN_BLOCK: PinBlockFormat = { offset: 0, blockBytes: 8, minDigits: 4, maxDigits: 8, encoding: 'ascii' };

async function pinStatus(tx: Transmit): Promise<{ verified: boolean; triesLeft: number; blocked: boolean }> {
  const { sw } = await call(tx, buildCommand(0, INS.VERIFY, 0x00, PIN_REF), 'VERIFY (status)');
  if (sw === SW.OK) return { verified: true, triesLeft: -1, blocked: false };
  if (sw === SW.AUTH_METHOD_BLOCKED) return { verified: false, triesLeft: 0, blocked: true };
  return { verified: false, triesLeft: sw & 0x0f, blocked: false };
}

export class VirtualCardServices implements CardServices {
  readonly name = 'virtual';

  identify(atr: Uint8Array | undefined): CardKind | null {
    if (!atr || atr.length < 9) return null;
    const hist = [...atr.subarray(4, 9)];
    if (hist.every((x, i) => x === HIST_CPS[i])) return 'CPS';
    if (hist.every((x, i) => x === HIST_VITALE[i])) return 'VITALE';
    return null;
  }

  async readCps(tx: Transmit): Promise<CpsRead> {
    await selectApp(tx, 'CPS');
    const id = await readJson<Omit<CpsRead, 'situations'>>(tx, EF.IDENTITY);
    const situations = await readJson<CpsRead['situations']>(tx, EF.SITUATIONS);
    const info = await readJson<{ serial: string; validFrom: string; validTo: string; family?: CardFamily }>(tx, EF.CARD_INFO);
    const pin = await pinStatus(tx);
    return {
      cardType: 'CPS',
      family: info.family === 'CPE' ? 'CPE' : 'CPS',
      serial: info.serial,
      rpps: id.rpps,
      civility: id.civility,
      lastName: id.lastName,
      firstName: id.firstName,
      profession: id.profession,
      situations,
      validFrom: info.validFrom,
      validTo: info.validTo,
      expired: info.validTo < today(),
      pinTriesLeft: pin.triesLeft,
      blocked: pin.blocked,
      fictitious: true,
    };
  }

  async readVitale(tx: Transmit): Promise<VitaleRead> {
    await selectApp(tx, 'VITALE');
    const info = await readJson<{ serial: string; validTo: string }>(tx, EF.CARD_INFO);
    const b = await readJson<Pick<VitaleRead, 'holderNir' | 'scheme' | 'fund' | 'centre' | 'beneficiaries'>>(tx, EF.BENEFICIARIES);
    return { cardType: 'VITALE', serial: info.serial, ...b, validTo: info.validTo, expired: info.validTo < today(), fictitious: true };
  }

  async pinStatus(tx: Transmit): Promise<{ verified: boolean; triesLeft: number; blocked: boolean }> {
    await selectApp(tx, 'CPS');
    return pinStatus(tx);
  }

  async verifyPin(tx: Transmit, pin: Uint8Array): Promise<PinResult> {
    let block: Uint8Array | null = null;
    let apdu: Uint8Array | null = null;
    try {
      block = padPin(pin);
      apdu = buildCommand(0, INS.VERIFY, 0x00, PIN_REF, block);
      await selectApp(tx, 'CPS');
      const { sw } = await call(tx, apdu, 'VERIFY');
      return pinResult(sw);
    } catch (e) {
      if (e instanceof Error && /PIN must be/.test(e.message)) throw new CardServiceError('bad_request', 'le code porteur doit compter 4 à 8 chiffres');
      throw e;
    } finally {
      block?.fill(0);
      apdu?.fill(0);
    }
  }

  async verifyPinOnPad(tx: Transmit, pad: PinPad): Promise<PinResult> {
    await selectApp(tx, 'CPS');
    // The typed path's VERIFY with the PIN block still blank (FF): the pad writes the digits in.
    const structure = pinVerifyStructure(buildCommand(0, INS.VERIFY, 0x00, PIN_REF, new Uint8Array(PIN_BLOCK.blockBytes).fill(0xff)), PIN_BLOCK);
    let answer: Uint8Array | null = null;
    try {
      answer = await pad.verifyPinDirect(structure);
      const { sw } = splitResponse(answer);
      const padOutcome = PIN_PAD_SW.get(sw);
      if (padOutcome) throw new CardServiceError(padOutcome, PIN_PAD_MESSAGES[padOutcome]);
      return pinResult(sw);
    } finally {
      answer?.fill(0);
      structure.fill(0);
    }
  }

  private async signWith(tx: Transmit, apdu: Uint8Array, what: string): Promise<Uint8Array> {
    const { data, sw } = await call(tx, apdu, what);
    if (sw === SW.SECURITY_NOT_SATISFIED) throw new CardServiceError('pin_required', 'code porteur non vérifié');
    if (sw !== SW.OK) throw new CardServiceError('card_error', `${what}: ${swHex(sw)}`);
    return data.slice();
  }

  async sign(tx: Transmit, digest: Uint8Array): Promise<Uint8Array> {
    if (digest.length !== 32) throw new CardServiceError('bad_request', 'SHA-256 digest expected');
    await selectApp(tx, 'CPS');
    return this.signWith(tx, buildCommand(0, INS.PSO, 0x9e, 0x9a, digest, 0), 'PSO: COMPUTE DIGITAL SIGNATURE');
  }

  async authenticate(tx: Transmit, kind: CardKind, digest: Uint8Array): Promise<Uint8Array> {
    if (digest.length !== 32) throw new CardServiceError('bad_request', 'SHA-256 digest expected');
    await selectApp(tx, kind);
    return this.signWith(tx, buildCommand(0, INS.INTERNAL_AUTHENTICATE, 0x00, KEY_REF.AUTH, digest, 0), 'INTERNAL AUTHENTICATE');
  }

  async certificates(tx: Transmit, kind: CardKind): Promise<CardCertificates> {
    await selectApp(tx, kind);
    return {
      auth: await readFile(tx, EF.AUTH_CERT),
      sign: kind === 'CPS' ? await readFile(tx, EF.SIGN_CERT) : undefined,
      ca: await readFile(tx, EF.CA_CERT),
    };
  }
}

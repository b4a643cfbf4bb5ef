/**
 * The practitioner's invoices in the page (issue 14 item 4): kept encrypted at rest under the
 * CPS's key (docs/adr/0014-invoices-at-rest.md), opened once the PIN unlocks the session and
 * forgotten at every lock. Each action is one domain operation (src/lib/billing/lifecycle.ts)
 * committed whole to the store before the page says it is done:
 *
 *   save for later  draft → to_sign: checked, numbered, priced and formatted (prepareInvoice)
 *   sign            to_sign → signed on the CPS, one invoice or a batch with the PIN already
 *                   typed (signature désynchronisée); a card failure leaves the rest to sign
 *   cancel          before any of its documents left for a lot, with its reason in the history
 *   replace         a correction before the lot: an invoice to sign goes back to draft, takes
 *                   the new content and a new number (the old one abandoned, in its history); a
 *                   signed one is cancelled (`replaced`) and a new one kept to sign, both in one
 *                   commit
 *
 * Errors come back as values with a French message (`Outcome`), never as a thrown exception
 * the page would have to guess at.
 */
import { get, writable, type Readable } from 'svelte/store';
import { b64u, unb64u } from '../../card/protocol.js';
import { BillingError } from '../../billing/errors.js';
import { createInvoice, type Invoice, type InvoiceInput } from '../../billing/invoice.js';
import { beneficiaryKey } from '../../billing/beneficiary.js';
import { cancelInvoice, createInvoiceRecord, editDraft, invoiceStatus, lotAccepted, lotBounced, lotDelivered, reopenInvoice, signInvoice, submitInvoice, type InvoiceRecord, type LotRecord } from '../../billing/lifecycle.js';
import type { BillingNumbering } from '../../billing/numbering.js';
import { signBatch } from '../../billing/signing.js';
import { prepareInvoice } from '../../billing/ssv/pipeline.js';
import type { InvoiceSigner, Securing, SignedDocument, SsvAdapter } from '../../billing/ssv/types.js';
import type { Catalogue } from '../../billing/catalogue.js';
import { AtRestError, importDataKey, keyIdOf, openDataKey, openSlot, type DataKey, type KeySlotStore } from '../store/at-rest.js';
import { BillingStoreError, type IdbBillingStore, type PractitionerProfile, type RestoreReport } from '../store/billing.js';
import type { CardBridge } from '../card/stores.js';
import { bridgeSigner } from './bridge-signer.js';
import type { CompostageStore } from '../../sesam/compostage.js';
import type { FlowMode } from '../../sesam/description.js';
import type { Encryptor } from '../../sesam/package.js';
import { routeFlow } from '../../sesam/routing.js';
import { pendingDocuments, transmitRecords } from '../../billing/transmit.js';
import { purgeable } from '../../billing/retention.js';
import { today } from '../../billing/dates.js';
import { fileId, type KeptFile, type OutboxEntry, type ReturnStatus, type StoredReturn } from '../store/billing.js';
import { actOnReturn, returnScope, unreadableReturn, type ReturnAction, type SentMessage } from '../../billing/return-actions.js';
import type { ReturnReading } from '../../sesam/returns/read.js';
import { resendFile } from '../../billing/transmit.js';
import type { PackagedMessage } from '../../sesam/package.js';
import { backupOf, type BackupFile } from '../store/backup.js';
import { readBackup } from '../store/backup-read.js';
import { numbersInUse } from '../../billing/numbers-in-use.js';
import { byCodeUnits } from '../../text/compare.js';
import { DIRECT, octOf } from './transmission-setting.js';
import { AccessError, actorOf, authorize, type AccessTarget, type Actor, type Permission } from '../../access/roles.js';
import type { CpsRead } from '../../card/reads.js';
import { practitionerFromCps } from '../../billing/from-cards.js';
import type { DirectoryEntry, IdbHandoffStore, StoredHandoff } from '../store/handoffs.js';

/** A renewed card and its holder's records (ADR 0028). */
export type RecoveryState =
  | { state: 'none' }
  /** Asked; an administrator of this device must answer it. */
  | { state: 'waiting' }
  /** No administrator holds this holder's records in escrow here. */
  | { state: 'impossible' }
  | { state: 'done'; invoices: number };

export interface RecoveryRequest {
  readonly id: string;
  readonly holder: string;
  readonly requestedAt: string;
}

export type VaultState =
  | { state: 'locked' }
  | { state: 'opening' }
  | { state: 'open'; keyId: string }
  | { state: 'error'; code: string; message: string };

export type Outcome<T = undefined> = { ok: true; value: T } | { ok: false; code: string; message: string; problems?: readonly BillingError[] };

export interface BillingWorkspace {
  /** Real, test or demonstration flows (what the insurers' mailboxes and subjects say). */
  readonly mode: FlowMode;
  vault: Readable<VaultState>;
  /** The at-rest key while the vault is open (other sealed stores of the page: the MSSanté copies); null when locked. */
  atRestKey(): DataKey | null;
  /** Who the open session's card makes on this device (access/roles.ts); null while locked. */
  actor: Readable<Actor | null>;
  /** This card's invoices, newest first; empty while locked. */
  invoices: Readable<readonly InvoiceRecord[]>;
  /** This card's preferences on the workstation (sealed), once opened; null while locked. */
  profile: Readable<PractitionerProfile | null>;
  /** Remembers a change of preferences (no-op while locked or when nothing changes). */
  rememberProfile(patch: PractitionerProfile): Promise<void>;
  /**
   * Checks, numbers and formats a new invoice, and keeps it to sign (`to_sign`). `securing`:
   * `degraded` when the beneficiary was not read from a Vitale card.
   */
  saveToSign(input: InvoiceInput, securing?: Securing): Promise<Outcome<InvoiceRecord>>;
  /** Signs these invoices (to_sign) on the CPS, in one batch. */
  sign(ids: readonly string[]): Promise<Outcome<{ signed: number; unsigned: number; error?: string }>>;
  cancel(id: string, reason?: string): Promise<Outcome<InvoiceRecord>>;
  /**
   * Corrects an invoice not yet in a lot with `input` (same patient and situation): to sign →
   * the same invoice, renumbered, to sign; signed → cancelled (`replaced`) and a new invoice to
   * sign. The invoice kept to sign is returned; its securing (Vitale or not) stays the original's.
   */
  replace(id: string, input: InvoiceInput): Promise<Outcome<InvoiceRecord>>;
  /**
   * « Télétransmettre »: every signed invoice not yet in a lot, into lots and files, encrypted
   * for each recipient the trust store vouches for now, packaged, and committed with the
   * messages of the outbox in one transaction. `from`: the practitioner's mailbox.
   */
  transmit(from: string): Promise<Outcome<{ messages: number; invoices: number }>>;
  /** Reads the store again (another tab changed it). */
  refresh(): Promise<void>;
  /** A backup file of this card's records, still sealed under its key (store/backup.ts). */
  backup(): Promise<Outcome<BackupFile>>;
  /**
   * Moves this card's lots on from what the outbox says of their messages: accepted by the
   * relay, then delivered (its documents `sent`: the ARL deadline runs from there).
   */
  reconcile(entries: readonly OutboxEntry[]): Promise<void>;
  /** This card's returns as stored (clear part), newest first; empty while locked. */
  returns: Readable<readonly ReturnListing[]>;
  /**
   * One return the relay picked up (issue 15 item 3): read and verified (a service message's
   * signer by the trust store), acted on, and stored with every record it changed in one
   * transaction. Resolves `ok` once it is stored (the relay may then forget it); a return read
   * before stays as it was, unless it waited for its lots.
   */
  receiveReturn(id: string, raw: Uint8Array, receivedAt: string): Promise<Outcome<{ status: ReturnStatus; queued: number }>>;
  /**
   * Sends these lots' files again, identically, with a new compostage (negative ARL, ARL
   * overdue, bounced): every lot of a file goes with it.
   */
  retransmit(lotIds: readonly string[]): Promise<Outcome<{ messages: number }>>;
  /**
   * The returns kept `waiting` (an ARL before its lot was known delivered, an RSP before its
   * documents were sent) applied again, from their stored bytes: the relay forgot them once
   * stored. Returns how many took effect.
   */
  retryWaiting(): Promise<Outcome<{ applied: number; queued: number }>>;
  /** A return shown as not verified or failed, read and acted on again (after a CA was installed, say). */
  recheckReturn(id: string): Promise<Outcome<{ status: ReturnStatus; queued: number }>>;
  /**
   * The practitioners an assistant may prepare for on this device (the directory's entries
   * sharing a structure with the card); empty for a practitioner's card and while locked.
   */
  directory: Readable<readonly DirectoryEntry[]>;
  /** What this assistant handed off and its practitioner has not opened yet (clear part only). */
  prepared: Readable<readonly Omit<StoredHandoff, 'epk' | 'iv' | 'ct'>[]>;
  /** What the last opening did with the invoices prepared for this practitioner; null before. */
  handoffs: Readable<{ imported: number; failed: readonly { id: string; message: string }[] } | null>;
  /**
   * An assistant's invoice, checked, then sealed for `input.practitioner` (ADR 0027): kept to
   * sign in that practitioner's invoices when their card next opens a session here.
   */
  handOff(input: InvoiceInput, securing?: Securing): Promise<Outcome<{ id: string }>>;
  /** This card, renewed: whether its holder's records are given back (ADR 0028). */
  recovery: Readable<RecoveryState>;
  /** For an administrator: the renewed cards waiting for their holder's records. */
  recoveryRequests: Readable<readonly RecoveryRequest[]>;
  /**
   * Brings back a backup file of this card (« Restaurer une sauvegarde »): opened with the card,
   * sealed under this workstation's key, nothing newer here overwritten, and the numbering
   * raised past every number the file's records used before any of them is written.
   */
  restoreBackup(text: string): Promise<Outcome<RestoreReport>>;
  /** An administrator gives a renewed card its holder's records (from the escrow it holds). */
  grantRecovery(id: string): Promise<Outcome<undefined>>;
  stop(): void;
}

/** A return in the lists: its clear part. */
export type ReturnListing = Omit<StoredReturn, 'sealed' | 'keyId'>;

export interface WorkspaceOptions {
  bridge: Pick<CardBridge, 'session' | 'call'>;
  store: Pick<IdbBillingStore, 'rekey' | 'restore' | 'commit' | 'listInvoices' | 'getInvoice' | 'listLots' | 'getProfile' | 'putProfile' | 'purge' | 'getFile' | 'getReturn' | 'listReturnSummaries' | 'listSent' | 'listSummaries'>;
  /** Records a purge in the workstation's audit journal (counts only: never a number or a name). */
  auditPurge?: (counts: { invoices: number; lots: number; messages: number }) => Promise<void>;
  /** Records a restore from a backup in the audit journal (counts only). */
  auditRestore?: (counts: { invoices: number; lots: number; messages: number }) => Promise<void>;
  slots: KeySlotStore;
  numbering: BillingNumbering;
  adapter: SsvAdapter;
  catalogue: Catalogue;
  clock?: () => number;
  /** The card's signer for a reader (default: the bridge's `cps.sign`). */
  signer?: (reader: string) => InvoiceSigner;
  newId?: () => string;
  /** The compostage counter (transmission.md §7). */
  compostage: CompostageStore;
  /** Encrypts a file for its route's recipient, checked at that moment (the trust store). */
  encrypt: Encryptor;
  /** Recipients' mailboxes the transmission needs, checked before any number is drawn. */
  checkRecipients?: (mailboxes: readonly string[]) => Promise<void>;
  /** `test` on the demonstration and test platforms. */
  mode?: FlowMode;
  /** Checks a service message's signer for its From mailbox (the trust store): absent, none is believed. */
  validateSigner?: (certificate: Uint8Array, email: string) => Promise<{ valid: boolean; errors: { code: string; message: string }[] }>;
  /** Integrates a front end's certificate for its mailbox, validated (the trust store's importRecipient); throws when refused. */
  integrateCertificate?: (certificate: Uint8Array, email: string) => Promise<void>;
  /** Asks the directory for a recipient's certificate at the next refresh; false without a source for it. */
  requestRenewal?: (mailbox: string) => Promise<boolean>;
  /** The card holders this device names as its administrators (none: a personal workstation). */
  administrators?: () => Promise<readonly string[]>;
  /** The device's directory of practitioners and the invoices prepared for them (ADR 0027). */
  handoffs?: Pick<IdbHandoffStore, 'directory' | 'entry' | 'publish' | 'handOff' | 'waitingFor' | 'preparedBy' | 'open' | 'remove' | 'escrow' | 'escrowed' | 'requestRecovery' | 'recoveries' | 'grant' | 'openGrant' | 'closeRecovery'>;
  /**
   * Records sessions opened and closed and every refusal in the workstation's audit journal
   * (SA2): the card holder's identifier, the role and codes only, never a name.
   */
  audit?: (e: AccessAudit) => Promise<void>;
}

/** What the journal keeps of a session or a refusal. */
export type AccessAudit =
  | { event: 'session.open' | 'session.close'; holder: string; role: Actor['role'] }
  | { event: 'access.refused'; holder: string | null; role: Actor['role'] | null; permission: Permission; code: string }
  /** A renewed card's records: `granted` by an administrator, `restored` under the new card. */
  | { event: 'key.recovery'; holder: string; role: Actor['role']; code: 'granted' | 'restored' };

const failure = (e: unknown): Outcome<never> => {
  if (e instanceof BillingError) return { ok: false, code: e.code, message: e.message, ...(e.issues.length ? { problems: e.issues } : {}) };
  if (e instanceof BillingStoreError || e instanceof AtRestError || e instanceof AccessError) return { ok: false, code: e.code, message: e.message };
  const code = (e as { code?: unknown })?.code;
  return { ok: false, code: typeof code === 'string' ? code : 'error', message: e instanceof Error ? e.message : String(e) };
};

/** The service messages after which the recipient's certificate is fetched again (§5). */
const RENEWAL_CODES = new Set(['40050', '4005', '40150', '4015', '4025']);

const newest = (a: InvoiceRecord, b: InvoiceRecord): number => byCodeUnits(b.history[0]?.at ?? '', a.history[0]?.at ?? '') || byCodeUnits(b.id, a.id);

export function createBillingWorkspace(o: WorkspaceOptions): BillingWorkspace {
  const vault = writable<VaultState>({ state: 'locked' });
  const invoices = writable<readonly InvoiceRecord[]>([]);
  const profile = writable<PractitionerProfile | null>(null);
  const returns = writable<readonly ReturnListing[]>([]);
  const actorStore = writable<Actor | null>(null);
  let actor: Actor | null = null;
  const directory = writable<readonly DirectoryEntry[]>([]);
  const prepared = writable<readonly Omit<StoredHandoff, 'epk' | 'iv' | 'ct'>[]>([]);
  const handoffs = writable<{ imported: number; failed: readonly { id: string; message: string }[] } | null>(null);
  const recovery = writable<RecoveryState>({ state: 'none' });
  const recoveryRequests = writable<readonly RecoveryRequest[]>([]);
  /** This card's hand-off private key on this device (non-extractable), while open. */
  let handoffKey: CryptoKey | null = null;
  const clock = o.clock ?? (() => Date.now());
  const newId = o.newId ?? (() => globalThis.crypto.randomUUID());
  let key: DataKey | null = null;
  let reader: string | null = null;
  let generation = 0;

  async function open(r: string): Promise<void> {
    const g = ++generation;
    vault.set({ state: 'opening' });
    try {
      const [certs, card, administrators] = await Promise.all([
        o.bridge.call<{ auth: string }>('card.certificates', { reader: r }),
        o.bridge.call<CpsRead>('cps.read', { reader: r }),
        o.administrators?.() ?? Promise.resolve<readonly string[]>([]),
      ]);
      const who = actorOf({ family: card.family, holder: card.rpps, structures: card.situations.map((x) => x.structureId) }, administrators);
      const keyId = await keyIdOf(unb64u(certs.auth));
      // The administrators' hand-off keys on this device: the data key is escrowed for each
      // (ADR 0028), so that a renewed or lost card loses nothing. This holder's entry as it was
      // before this session: another card of theirs means a renewed one.
      const h = o.handoffs;
      const admins = h && administrators.length ? (await h.directory()).filter((e) => administrators.includes(e.holder) && e.holder !== who.holder) : [];
      const previous = h ? await h.entry(who.holder) : undefined;
      const k = await openDataKey({
        keyId,
        card: async (salt) => unb64u((await o.bridge.call<{ secret: string }>('card.deriveKey', { reader: r, salt: b64u(salt) })).secret),
        slots: o.slots,
        now: clock,
        ...(h && admins.length ? { escrow: async (raw: Uint8Array) => void (await h.escrow(raw, keyId, who.holder, admins, clock)) } : {}),
      });
      if (g !== generation) return; // locked meanwhile: this key is not for the new session
      key = k;
      reader = r;
      actor = who;
      actorStore.set(who);
      void o.audit?.({ event: 'session.open', holder: who.holder, role: who.role }).catch(() => undefined);
      const [opened, prefs] = await Promise.all([o.store.listInvoices(k), o.store.getProfile(k)]);
      const list = await purgeOld(k, opened);
      if (g !== generation) return;
      invoices.set([...list].sort(newest));
      if (o.handoffs) {
        // A hand-off that fails leaves billing open: said, and tried again at the next opening.
        try {
          handoffKey = await o.handoffs.publish(k, { holder: who.holder, role: who.role, profession: card.profession, situations: card.situations }, clock);
          await recoverRenewed(k, who, previous);
          if (who.role === 'practitioner') handoffs.set(await receiveHandoffs(k, card, who));
          else await refreshHandoffLists(who);
          if (who.administrator && administrators.length) await refreshRecoveryRequests();
        } catch (e) {
          handoffs.set({ imported: 0, failed: [{ id: '', message: (failure(e) as { message: string }).message }] });
        }
        if (g !== generation) return;
      }
      profile.set(prefs ?? {});
      await refreshReturns(k);
      vault.set({ state: 'open', keyId: k.keyId });
    } catch (e) {
      if (g !== generation) return;
      const f = failure(e) as { code: string; message: string };
      vault.set({ state: 'error', code: f.code, message: f.message });
    }
  }

  /**
   * The copies retention lets go (3 months, settled), at every opening; audited with counts.
   * Returns the invoices that stay (those just read, without the purged ones).
   */
  async function purgeOld(k: DataKey, all: readonly InvoiceRecord[]): Promise<readonly InvoiceRecord[]> {
    const p = purgeable(all, await o.store.listLots(k), today(clock));
    if (p.invoices.length === 0 && p.lots.length === 0) return all;
    const counts = await o.store.purge(p, k);
    await o.auditPurge?.(counts);
    const gone = new Set(p.invoices);
    return all.filter((r) => !gone.has(r.id));
  }

  function close(): void {
    generation++;
    if (actor) void o.audit?.({ event: 'session.close', holder: actor.holder, role: actor.role }).catch(() => undefined);
    key = null;
    reader = null;
    actor = null;
    actorStore.set(null);
    directory.set([]);
    prepared.set([]);
    handoffs.set(null);
    recovery.set({ state: 'none' });
    recoveryRequests.set([]);
    handoffKey = null;
    invoices.set([]);
    returns.set([]);
    profile.set(null);
    vault.set({ state: 'locked' });
  }

  const unsubscribe = o.bridge.session.subscribe((s) => {
    if (s.state === 'unlocked') {
      if (s.reader !== reader || !key) void open(s.reader);
    } else if (key || get(vault).state !== 'locked') close();
  });

  function opened(): DataKey {
    if (!key) throw new AtRestError('locked', 'Session verrouillée : saisissez votre code porteur pour retrouver vos factures.');
    return key;
  }

  /**
   * The open session's key, once the card's role allows `permission` on each target (SA1: in
   * the workspace every action goes through, not only in what the page shows). A refusal is
   * journaled, then thrown.
   */
  async function allowed(permission: Permission, targets: readonly AccessTarget[] = [{}]): Promise<DataKey> {
    const k = opened();
    try {
      for (const t of targets) authorize(actor, permission, t);
    } catch (e) {
      if (e instanceof AccessError) await o.audit?.({ event: 'access.refused', holder: actor?.holder ?? null, role: actor?.role ?? null, permission, code: e.code }).catch(() => undefined);
      throw e;
    }
    return k;
  }

  const targetOf = (p: { rpps: string; situation: { billingNumber: string } }): AccessTarget => ({ structure: p.situation.billingNumber, practitioner: p.rpps });

  /** The assistant's lists: the practitioners of its structures, and what it handed off. */
  async function refreshHandoffLists(who: Actor): Promise<void> {
    if (!o.handoffs) return;
    const [all, mine] = await Promise.all([o.handoffs.directory(), o.handoffs.preparedBy(who.holder)]);
    if (actor !== who) return;
    directory.set(all.filter((e) => e.role !== 'assistant' && e.situations.some((x) => who.structures.includes(x.structureId))).sort((a, b) => byCodeUnits(a.holder, b.holder)));
    prepared.set(mine.sort((a, b) => byCodeUnits(b.createdAt, a.createdAt)));
  }

  /**
   * The practitioner's entry in the device's directory kept up to date, then every invoice
   * prepared for them opened, checked, numbered and kept to sign as if they had typed it (the
   * invoice's id is the hand-off's: opened twice, kept once). One that does not open or does not
   * check stays where it is, said, for the next opening.
   */
  /**
   * A renewed card (ADR 0028): asks for its holder's records when an administrator holds them in
   * escrow, takes them once granted (every record sealed again under this card's key), or says
   * why it cannot.
   */
  async function recoverRenewed(k: DataKey, who: Actor, previous: DirectoryEntry | undefined): Promise<void> {
    const h = o.handoffs!;
    if (previous && previous.keyId !== k.keyId) {
      if (await h.escrowed(previous.keyId)) await h.requestRecovery(who.holder, previous.keyId, k.keyId, clock);
      else recovery.set({ state: 'impossible' });
    }
    for (const rec of await h.recoveries()) {
      if (rec.holder !== who.holder || rec.newKeyId !== k.keyId) continue;
      if (!rec.grant) {
        recovery.set({ state: 'waiting' });
        continue;
      }
      const old = await importDataKey(rec.oldKeyId, await h.openGrant(rec, handoffKey!));
      const n = await o.store.rekey(old, k);
      await h.closeRecovery(rec);
      await refresh();
      recovery.set({ state: 'done', invoices: n });
      void o.audit?.({ event: 'key.recovery', holder: who.holder, role: who.role, code: 'restored' }).catch(() => undefined);
    }
  }

  /** The renewed cards waiting for an administrator (what the « Poste » page lists). */
  async function refreshRecoveryRequests(): Promise<void> {
    const all = await o.handoffs!.recoveries();
    recoveryRequests.set(all.filter((x) => !x.grant).map((x) => ({ id: x.id, holder: x.holder, requestedAt: x.requestedAt })));
  }

  async function receiveHandoffs(k: DataKey, card: CpsRead, who: Actor): Promise<{ imported: number; failed: { id: string; message: string }[] }> {
    const h = o.handoffs!;
    const privateKey = handoffKey!;
    let imported = 0;
    const failed: { id: string; message: string }[] = [];
    for (const w of await h.waitingFor(who.holder)) {
      try {
        const draft = await h.open(w, privateKey);
        if (draft.billingNumber !== w.structure) throw new AtRestError('sealed_invalid', 'Facture préparée incohérente.');
        authorize(who, 'invoice.prepare', { structure: w.structure, practitioner: who.holder });
        if (!(await o.store.getInvoice(w.id, k))) {
          const invoice = createInvoice({ ...(draft.input as Omit<InvoiceInput, 'id' | 'practitioner'>), id: w.id, practitioner: practitionerFromCps(card, w.structure) } as InvoiceInput);
          const r = submitInvoice(createInvoiceRecord(invoice, clock), await prepare(invoice, draft.securing), clock);
          await commit([r], k);
        }
        await h.remove(w.id);
        imported++;
      } catch (e) {
        const f = failure(e) as { message: string; problems?: readonly BillingError[] };
        failed.push({ id: w.id, message: f.problems?.length ? `${f.message} ${f.problems.map((p) => p.message).join(' ')}` : f.message });
      }
    }
    return { imported, failed };
  }

  async function refresh(): Promise<void> {
    const k = key;
    if (!k) return;
    const list = await o.store.listInvoices(k);
    if (k === key) invoices.set([...list].sort(newest));
  }

  async function refreshReturns(k: DataKey): Promise<void> {
    const list = await o.store.listReturnSummaries(k.keyId);
    if (k === key) returns.set(list.map(({ keyId: _k, ...r }) => r).sort((a, b) => byCodeUnits(b.receivedAt, a.receivedAt) || byCodeUnits(b.id, a.id)));
  }

  /** An outbox entry for a message packaged now. */
  function outboxEntry(m: PackagedMessage, lotIds: readonly string[], k: DataKey): OutboxEntry {
    const at = new Date(clock()).toISOString();
    return { id: newId(), keyId: k.keyId, lotIds, subject: m.subject, compostage: m.compostage, to: m.to, messageId: m.messageId, message: m.message, createdAt: at, updatedAt: at, state: 'waiting', attempts: 0, nextAttemptAt: 0 };
  }

  /**
   * The kept files of these lots sent again (resendFile), with the records and messages to
   * commit. `only`: the lots must still be at this compostage (a lot already retransmitted is
   * not sent twice). A lot the relay accepted but whose delivery it has not yet confirmed is
   * delivered when an insurer answered about it (`delivered`).
   */
  async function resend(lotIds: readonly string[], k: DataKey, records: readonly InvoiceRecord[], opts: { delivered?: boolean; only?: string } = {}): Promise<{ invoices: InvoiceRecord[]; lots: LotRecord[]; outbox: OutboxEntry[] }> {
    const all = new Map((await o.store.listLots(k)).map((l) => [l.id, l]));
    const from = (await o.store.getProfile(k))?.mailbox;
    if (!from) throw new BillingError('transition_forbidden', 'from', 'Adresse d’expédition inconnue : connectez-vous une première fois au relais, puis recommencez.');
    const mode = o.mode ?? 'test';
    let current = [...records];
    const files = new Map<string, KeptFile>();
    for (const id of lotIds) {
      const lot = all.get(id);
      if (!lot) throw new BillingError('transition_forbidden', 'lots', `Lot ${id} introuvable sur ce poste.`);
      const fid = fileId(lot.sender, lot.fileName);
      if (files.has(fid)) continue;
      const f = await o.store.getFile(fid, k);
      if (!f) throw new BillingError('transition_forbidden', 'lots', `Le fichier ${lot.fileName} n’a pas été conservé sur ce poste : il ne peut pas être renvoyé à l’identique.`);
      files.set(fid, f);
    }
    const lots: LotRecord[] = [];
    const outbox: OutboxEntry[] = [];
    for (const f of files.values()) {
      let fileLots = f.lotIds.map((id) => all.get(id));
      if (fileLots.some((l) => !l)) throw new BillingError('transition_forbidden', 'lots', `Un lot du fichier ${f.content.fileName} manque sur ce poste.`);
      if (opts.only && fileLots.some((l) => l!.transmissions.at(-1)?.compostage !== opts.only)) {
        throw new BillingError('transition_forbidden', 'lots', `Un lot du fichier ${f.content.fileName} a déjà été retransmis : le fichier n’est pas renvoyé une seconde fois.`);
      }
      if (opts.delivered) {
        fileLots = fileLots.map((l) => {
          if (l!.state !== 'accepted') return l;
          const d = lotDelivered(l!, current, clock);
          current = d.invoices;
          return d.lot;
        });
      }
      // The way it first went (direct, or through the OCT it went to), whatever the setting now.
      const oct = f.content.oct;
      const sent = await resendFile(f.content, fileLots as LotRecord[], { mode, from, encrypt: o.encrypt, compostage: o.compostage, clock, ...(oct ? { oct } : {}) });
      lots.push(...sent.lots);
      outbox.push(outboxEntry(sent.message, f.lotIds, k));
    }
    const original = new Map(records.map((r) => [r.id, r]));
    return { invoices: current.filter((r) => r !== original.get(r.id)), lots, outbox };
  }

  /**
   * Only the invoices a return may change are opened (each is sealed: opening all of a month's
   * for every return would cost seconds): an ARL's lots' invoices, an RSP's documents (found by
   * their clear summaries), the lots of the message a service message or a DSN is about.
   */
  async function invoicesFor(r: ReturnReading, lots: readonly LotRecord[], sent: readonly SentMessage[], k: DataKey): Promise<InvoiceRecord[]> {
    const scope = returnScope(r, lots, sent);
    const ids = scope.invoiceIds;
    if (scope.documents.size) {
      for (const { id, summary } of await o.store.listSummaries(k.keyId)) if (summary.documents.some((d) => scope.documents.has(`${d.kind}|${d.number}`))) ids.add(id);
    }
    const opened = await Promise.all([...ids].map((id) => o.store.getInvoice(id, k)));
    return opened.filter((x): x is InvoiceRecord => x !== undefined);
  }

  async function receiveNow(id: string, raw: Uint8Array, receivedAt: string, k: DataKey, again = false): Promise<{ status: ReturnStatus; queued: number }> {
    const known = await o.store.getReturn(id, k);
    if (known && known.status !== 'waiting' && !(again && (known.status === 'unverified' || known.status === 'failed'))) return { status: known.status, queued: 0 };
    let action: ReturnAction;
    let records: InvoiceRecord[] = [];
    let reading: ReturnReading | undefined;
    try {
      // Loaded when a return comes: the reader (MIME, CMS, gunzip) stays out of the first page.
      const { readReturn } = await import('../../sesam/returns/read.js');
      reading = await readReturn(raw, {
        ...(o.validateSigner ? { validateSigner: async ({ certificate, email }) => o.validateSigner!(certificate, email) } : {}),
      });
      const [lots, sent] = await Promise.all([o.store.listLots(k), o.store.listSent(k.keyId)]);
      records = await invoicesFor(reading, lots, sent, k);
      action = actOnReturn(reading, { lots, invoices: records, sent, clock });
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      if (!(e instanceof Error) || typeof code !== 'string') throw e;
      action = unreadableReturn(code, e.message);
    }
    let status = action.status;
    const notes = [...action.summary.notes];
    // transmission.md §5: a 4005, 4015 or 4025 asks for the recipient's certificate from the
    // directory (the directory's copy is checked as any; a forged message only asks earlier).
    const code = reading?.service?.code;
    if (!known && code && RENEWAL_CODES.has(code) && reading?.from && o.requestRenewal) {
      const asked = await o.requestRenewal(reading.from).catch(() => false);
      notes.push(asked ? `Certificat de ${reading.from} redemandé à l’annuaire.` : `Aucune source d’annuaire pour ${reading.from} : installez son certificat (page Certificats).`);
    }
    let change: { invoices: InvoiceRecord[]; lots: LotRecord[]; outbox: OutboxEntry[] } = { invoices: [...action.invoices], lots: [...action.lots], outbox: [] };
    if (action.integrate) {
      try {
        if (!o.integrateCertificate) throw new Error('aucun magasin de certificats sur ce poste');
        await o.integrateCertificate(action.integrate.certificate, action.integrate.email);
        notes.push(`Certificat de ${action.integrate.email} intégré au magasin.`);
      } catch (e) {
        status = 'failed';
        notes.push(`Certificat de ${action.integrate.email} NON intégré : ${e instanceof Error ? e.message : String(e)}`.slice(0, 300));
      }
    }
    if (action.reemit && status !== 'failed') {
      try {
        change = await resend(action.reemit.lotIds, k, records, { delivered: true, only: action.reemit.compostage });
        notes.push(`Flux réémis : ${change.outbox.map((m) => m.subject).join(', ')}.`);
      } catch (e) {
        status = 'failed';
        notes.push(`Flux NON réémis : ${e instanceof Error ? e.message : String(e)}`.slice(0, 300));
      }
    }
    const summary = { ...action.summary, notes, lotIds: [...new Set([...action.summary.lotIds, ...change.lots.map((l) => l.id)])], invoiceIds: [...new Set([...action.summary.invoiceIds, ...change.invoices.map((r) => r.id)])] };
    await o.store.commit({ ...change, returns: [{ id, receivedAt, storedAt: known?.storedAt ?? new Date(clock()).toISOString(), status, summary, raw }] }, k);
    return { status, queued: change.outbox.length };
  }

  /** Commits, then shows the store's state (another tab's changes included). */
  async function commit(records: readonly InvoiceRecord[], k: DataKey): Promise<void> {
    await o.store.commit({ invoices: records }, k);
    await refresh();
  }

  /** Checked, numbered, priced, formatted; `replacing`: the invoice this one corrects (not its duplicate). */
  async function prepare(invoice: Invoice, securing: Securing, replacing?: string) {
    const others = get(invoices).filter((r) => invoiceStatus(r) !== 'cancelled' && r.id !== replacing).map((r) => r.invoice);
    return prepareInvoice(invoice, { adapter: o.adapter, numbering: o.numbering, checks: { clock, catalogue: o.catalogue, others }, securing });
  }

  async function record(id: string, k: DataKey): Promise<InvoiceRecord> {
    const r = await o.store.getInvoice(id, k);
    if (!r) throw new BillingError('transition_forbidden', 'id', 'Facture introuvable : elle a peut-être été supprimée dans un autre onglet.');
    return r;
  }

  let reconciling: Promise<void> = Promise.resolve();
  let remembering: Promise<void> = Promise.resolve();
  async function reconcileNow(entries: readonly OutboxEntry[]): Promise<void> {
    const k = key;
    if (!k) return;
    const mine = entries.filter((e) => e.keyId === k.keyId && (e.state === 'accepted' || e.state === 'delivered' || e.state === 'bounced'));
    if (mine.length === 0) return;
    const lots = new Map((await o.store.listLots(k)).map((l) => [l.id, l]));
    // Most runs change nothing: the lots (cheap, in clear) say so before any invoice is opened.
    const moves = mine.some((e) => e.lotIds.some((id) => {
      const lot = lots.get(id);
      return lot?.transmissions.at(-1)?.compostage === e.compostage && (lot.state === 'queued' || (e.state === 'delivered' && lot.state === 'accepted') || (e.state === 'bounced' && (lot.state === 'accepted' || lot.state === 'delivered')));
    }));
    if (!moves) return;
    let records = await o.store.listInvoices(k);
    const original = new Map(records.map((r) => [r.id, r]));
    const changed = new Map<string, LotRecord>();
    for (const e of mine) {
      for (const id of e.lotIds) {
        let lot = lots.get(id);
        // Only the lot's latest transmission speaks: an older message's fate is history.
        if (!lot || lot.transmissions.at(-1)?.compostage !== e.compostage) continue;
        if (lot.state === 'queued') lot = lotAccepted(lot, e.relayId ?? e.id, clock);
        if (e.state === 'delivered' && lot.state === 'accepted') {
          const d = lotDelivered(lot, records, clock);
          lot = d.lot;
          records = d.invoices;
        }
        // Not delivered (the relay's SMTP peer refused it, or a DSN came back): to send again.
        if (e.state === 'bounced' && (lot.state === 'accepted' || lot.state === 'delivered')) lot = lotBounced(lot, (e.lastError ?? '').replace(/^non remis : /, '') || 'refusé par le serveur', clock);
        if (lot !== lots.get(id)) {
          lots.set(id, lot);
          changed.set(id, lot);
        }
      }
    }
    if (changed.size === 0) return;
    try {
      await o.store.commit({ invoices: records.filter((r) => r !== original.get(r.id)), lots: [...changed.values()] }, k);
    } catch (e) {
      // Another tab moved them first: what it wrote is read below.
      if (!(e instanceof BillingStoreError && e.code === 'history_conflict')) throw e;
    }
    await refresh();
  }

  return {
    mode: o.mode ?? 'test',
    vault,
    atRestKey: () => key,
    actor: actorStore,
    directory,
    prepared,
    handoffs,
    recovery,
    recoveryRequests,
    async grantRecovery(id) {
      try {
        await allowed('device.settings');
        if (!o.handoffs || !handoffKey) throw new AtRestError('locked', 'Session verrouillée.');
        await o.handoffs.grant(id, actor!.holder, handoffKey, clock);
        void o.audit?.({ event: 'key.recovery', holder: actor!.holder, role: actor!.role, code: 'granted' }).catch(() => undefined);
        await refreshRecoveryRequests();
        return { ok: true, value: undefined };
      } catch (e) {
        return failure(e);
      }
    },
    async handOff(input, securing = 'vitale') {
      try {
        await allowed('invoice.prepare', [targetOf(input.practitioner)]);
        const who = actor!;
        if (who.role !== 'assistant' || !o.handoffs) throw new BillingError('transition_forbidden', 'practitioner', 'Un praticien garde ses factures lui-même : « Garder à signer ».');
        const billingNumber = input.practitioner.situation.billingNumber;
        const entry = (await o.handoffs.directory()).find((e) => e.holder === input.practitioner.rpps);
        if (!entry || entry.role === 'assistant' || !entry.situations.some((x) => x.structureId === billingNumber)) {
          throw new BillingError('transition_forbidden', 'practitioner', 'Ce praticien n’a pas encore ouvert de session sur ce poste dans cette structure : il ne peut rien y recevoir.');
        }
        const id = newId();
        // The core's checks of the input, as the practitioner's opening will run them again.
        createInvoice({ ...input, id });
        const { practitioner: _p, id: _i, ...rest } = input;
        await o.handoffs.handOff(entry, { billingNumber, securing, input: rest as Record<string, unknown> }, { id, from: who.holder, createdAt: new Date(clock()).toISOString() });
        await refreshHandoffLists(who);
        return { ok: true, value: { id } };
      } catch (e) {
        return failure(e);
      }
    },
    invoices,
    profile,
    rememberProfile(patch) {
      // One change after the other: each starts from what the previous one wrote.
      remembering = remembering.then(async () => {
        const k = key;
        const current = get(profile);
        if (!k || !current) return;
        const next = { ...current, ...patch };
        if (next.mailbox === current.mailbox && next.billingNumber === current.billingNumber && JSON.stringify(next.transmission) === JSON.stringify(current.transmission)) return;
        await o.store.putProfile(k, next);
        if (k === key) profile.set(next);
      });
      const done = remembering;
      remembering = remembering.catch(() => undefined);
      return done;
    },
    reconcile(entries) {
      reconciling = reconciling.then(() => reconcileNow(entries)).catch(() => undefined);
      return reconciling;
    },
    async saveToSign(input, securing = 'vitale') {
      try {
        const k = await allowed('invoice.prepare', [targetOf(input.practitioner)]);
        const invoice: Invoice = createInvoice({ ...input, id: newId() });
        const r = submitInvoice(createInvoiceRecord(invoice, clock), await prepare(invoice, securing), clock);
        await commit([r], k);
        return { ok: true, value: r };
      } catch (e) {
        return failure(e);
      }
    },
    async replace(id, input) {
      try {
        const k0 = opened();
        const old = await record(id, k0);
        const k = await allowed('invoice.cancel', [targetOf(old.invoice.practitioner), targetOf(input.practitioner)]);
        const status = invoiceStatus(old);
        const securing = old.submission?.securing ?? 'vitale';
        if (beneficiaryKey(input.beneficiary) !== beneficiaryKey(old.invoice.beneficiary)
          || input.practitioner.situation.billingNumber !== old.invoice.practitioner.situation.billingNumber)
          throw new BillingError('transition_forbidden', 'beneficiary', 'Une correction garde le patient et la situation de facturation : pour un autre patient, annulez et refaites la facture.');
        if (status === 'to_sign') {
          const draft = editDraft(reopenInvoice(old, clock), createInvoice({ ...input, id: old.id }), clock);
          const r = submitInvoice(draft, await prepare(draft.invoice, securing, id), clock);
          await commit([r], k);
          return { ok: true, value: r };
        }
        if (status === 'signed') {
          const cancelled = cancelInvoice(old, 'replaced', clock);
          const invoice = createInvoice({ ...input, id: newId() });
          const r = submitInvoice(createInvoiceRecord(invoice, clock), await prepare(invoice, securing, id), clock);
          await commit([cancelled, r], k);
          return { ok: true, value: r };
        }
        throw new BillingError('transition_forbidden', 'state', 'Cette facture est déjà dans un lot : elle ne se corrige plus ; elle s’annule avec une trace.');
      } catch (e) {
        return failure(e);
      }
    },
    async sign(ids) {
      try {
        const k0 = opened();
        const r0 = reader!;
        const records = await Promise.all(ids.map((id) => record(id, k0)));
        const k = await allowed('invoice.sign', records.length ? records.map((r) => targetOf(r.invoice.practitioner)) : [{}]);
        const notToSign = records.find((r) => r.invoice.state !== 'to_sign');
        if (notToSign) throw new BillingError('transition_forbidden', 'state', 'Seules les factures à signer se signent : la liste a changé, relisez-la.');
        const docs = records.flatMap((r) => r.submission!.documents);
        const batch = await signBatch(docs, (o.signer ?? ((rd) => bridgeSigner(o.bridge, rd)))(r0));
        const byNumber = new Map<string, SignedDocument[]>();
        for (const d of batch.signed) byNumber.set(`${d.billingNumber}|${d.number}`, [...(byNumber.get(`${d.billingNumber}|${d.number}`) ?? []), d]);
        const signed: InvoiceRecord[] = [];
        for (const r of records) {
          const mine = byNumber.get(`${r.invoice.practitioner.situation.billingNumber}|${r.submission!.number}`);
          if (mine) signed.push(await signInvoice(r, mine, clock));
        }
        if (signed.length) await commit(signed, k);
        const error = batch.unsigned[0]?.error.message;
        return { ok: true, value: { signed: signed.length, unsigned: records.length - signed.length, ...(error ? { error } : {}) } };
      } catch (e) {
        return failure(e);
      }
    },
    async cancel(id, reason = 'practitioner_cancelled') {
      try {
        const old = await record(id, opened());
        const k = await allowed('invoice.cancel', [targetOf(old.invoice.practitioner)]);
        const r = cancelInvoice(old, reason, clock);
        await commit([r], k);
        return { ok: true, value: r };
      } catch (e) {
        return failure(e);
      }
    },
    async transmit(from) {
      try {
        const k = await allowed('invoice.transmit');
        const records = await o.store.listInvoices(k);
        const docs = pendingDocuments(records);
        if (docs.length === 0) throw new BillingError('no_acts', 'documents', 'Aucune facture signée à transmettre.');
        const mode = o.mode ?? 'test';
        // Direct, or through the OCT of the card's preferences (read back sealed, not from the page).
        const setting = (await o.store.getProfile(k))?.transmission ?? DIRECT;
        const oct = octOf(setting);
        // Every recipient this needs, vouched for by the trust store, before any number is drawn.
        await o.checkRecipients?.([...new Set(docs.map((d) => routeFlow(d.kind, mode, oct).certificateEmail))]);
        const out = await transmitRecords(records, { adapter: o.adapter, numbering: o.numbering, way: setting.way, mode, from, encrypt: o.encrypt, compostage: o.compostage, clock, ...(oct ? { oct } : {}) });
        const outbox: OutboxEntry[] = out.messages.map((m) => outboxEntry(m.message, m.lotIds, k));
        // Each file kept sealed as sent: a retransmission sends it again, never re-extracted.
        const files: KeptFile[] = out.messages.map((m) => ({ id: fileId(m.file.sender, m.file.fileName), lotIds: m.lotIds, content: { ...m.file, ...(oct ? { oct } : {}) } }));
        await o.store.commit({ invoices: out.invoices, lots: out.lots, outbox, files }, k);
        await refresh();
        return { ok: true, value: { messages: outbox.length, invoices: out.invoices.length } };
      } catch (e) {
        return failure(e);
      }
    },
    refresh,
    returns,
    async receiveReturn(id, raw, receivedAt) {
      try {
        const k = await allowed('returns.act');
        let done: { status: ReturnStatus; queued: number };
        try {
          done = await receiveNow(id, raw, receivedAt, k);
        } catch (e) {
          // Another tab changed the records meanwhile: read again and act once more.
          if (!(e instanceof BillingStoreError && e.code === 'history_conflict')) throw e;
          done = await receiveNow(id, raw, receivedAt, k);
        }
        await refresh();
        await refreshReturns(k);
        return { ok: true, value: done };
      } catch (e) {
        return failure(e);
      }
    },
    async retryWaiting() {
      try {
        const k = await allowed('returns.act');
        let applied = 0;
        let queued = 0;
        for (const r of await o.store.listReturnSummaries(k.keyId)) {
          if (r.status !== 'waiting') continue;
          const kept = await o.store.getReturn(r.id, k);
          if (!kept) continue;
          let done: { status: ReturnStatus; queued: number };
          try {
            done = await receiveNow(kept.id, kept.raw, kept.receivedAt, k);
          } catch (e) {
            if (!(e instanceof BillingStoreError && e.code === 'history_conflict')) throw e;
            continue; // another tab moved the records: the next pass sees them
          }
          if (done.status !== 'waiting') applied++;
          queued += done.queued;
        }
        if (applied) {
          await refresh();
          await refreshReturns(k);
        }
        return { ok: true, value: { applied, queued } };
      } catch (e) {
        return failure(e);
      }
    },
    async recheckReturn(id) {
      try {
        const k = await allowed('returns.act');
        const kept = await o.store.getReturn(id, k);
        if (!kept) throw new BillingError('transition_forbidden', 'id', 'Retour introuvable sur ce poste.');
        const done = await receiveNow(kept.id, kept.raw, kept.receivedAt, k, true);
        await refresh();
        await refreshReturns(k);
        return { ok: true, value: done };
      } catch (e) {
        return failure(e);
      }
    },
    async retransmit(lotIds) {
      try {
        const k = await allowed('invoice.transmit');
        const change = await resend(lotIds, k, await o.store.listInvoices(k));
        await o.store.commit(change, k);
        await refresh();
        return { ok: true, value: { messages: change.outbox.length } };
      } catch (e) {
        return failure(e);
      }
    },
    async backup() {
      try {
        const k = opened();
        const slot = await o.slots.get(k.keyId);
        if (!slot) throw new AtRestError('slot_invalid', 'Clé des factures de ce poste introuvable.');
        return { ok: true, value: await backupOf(k.keyId, slot, { origin: globalThis.location?.origin ?? 'null', now: clock }) };
      } catch (e) {
        return failure(e);
      }
    },
    async restoreBackup(text) {
      try {
        const k = await allowed('invoice.sign');
        const r = reader;
        if (!r) throw new AtRestError('locked', 'Session verrouillée : saisissez votre code porteur pour retrouver vos factures.');
        const contents = readBackup(text, { keyId: k.keyId, origin: globalThis.location?.origin ?? 'null' });
        const from = await openSlot(contents.slot, async (salt) => unb64u((await o.bridge.call<{ secret: string }>('card.deriveKey', { reader: r, salt: b64u(salt) })).secret));
        const report = await o.store.restore(contents, from, k, { beforeWrite: (opened) => o.numbering.keepPast(numbersInUse(opened.invoices, opened.lots)) });
        const a = report.added;
        await o.auditRestore?.({ invoices: a.invoices, lots: a.lots, messages: a.messages }).catch(() => undefined);
        if (k === key) {
          await refresh();
          await refreshReturns(k);
          if (report.profile) profile.set((await o.store.getProfile(k)) ?? {});
        }
        return { ok: true, value: report };
      } catch (e) {
        return failure(e);
      }
    },
    stop() {
      unsubscribe();
      close();
    },
  };
}

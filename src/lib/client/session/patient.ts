/**
 * The patient in front of the practitioner (issue 14 item 3): the Vitale card is read as soon as
 * a reader reports it, its beneficiaries listed, and the only one chosen by itself
 * (docs/domain/ux.md §1: « Vitale in: the beneficiaries appear without a click »). Taking the card
 * out keeps the patient chosen: the invoice being built goes on (« Vitale out: the invoice stays
 * as it is »). What the card says lives in this tab's memory only: no NIR, name or right is
 * ever written to storage (SP4).
 */
import { derived, get, writable, type Readable } from 'svelte/store';
import type { CardBeneficiary, VitaleRead } from '../../card/reads.js';
import type { CardBridge } from '../card/stores.js';

export type VitaleState =
  | { state: 'absent' }
  | { state: 'reading' }
  /** `ms`: from the card seen in the reader to its data here. */
  | { state: 'read'; card: VitaleRead; ms: number; removed: boolean }
  | { state: 'error'; message: string };

export interface PatientStore {
  vitale: Readable<VitaleState>;
  /** The chosen beneficiary (the card's rank), null until chosen. */
  chosen: Readable<CardBeneficiary | null>;
  choose(rank: number): void;
  /** Forgets the card and the choice (the invoice is done, or another patient). */
  clear(): void;
  stop(): void;
}

export function createPatientStore(bridge: CardBridge, now: () => number = () => performance.now()): PatientStore {
  const vitale = writable<VitaleState>({ state: 'absent' });
  const rank = writable<number | null>(null);
  let generation = 0;

  async function read(reader: string): Promise<void> {
    const g = ++generation;
    const t0 = now();
    vitale.set({ state: 'reading' });
    try {
      const card = await bridge.call<VitaleRead>('vitale.read', { reader });
      if (g !== generation) return;
      vitale.set({ state: 'read', card, ms: now() - t0, removed: false });
      rank.set(card.beneficiaries.length === 1 ? card.beneficiaries[0]!.rank : null);
    } catch (e) {
      if (g !== generation) return;
      vitale.set({ state: 'error', message: `Lecture de la carte Vitale impossible : ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  let last: string | null = null;
  const unsubscribe = bridge.vitaleReader.subscribe((reader) => {
    if (reader === last) return;
    last = reader;
    if (reader) void read(reader);
    else {
      generation++;
      const v = get(vitale);
      // The card went out: what was read stays for the invoice being built.
      if (v.state === 'read') vitale.set({ ...v, removed: true });
      else vitale.set({ state: 'absent' });
    }
  });

  // A locked session reads nothing (the bridge refuses): once the PIN opens it again, a card
  // that could not be read is read now.
  let wasUnlocked = get(bridge.session).state === 'unlocked';
  const unsubscribeSession = bridge.session.subscribe((s) => {
    const nowUnlocked = s.state === 'unlocked';
    if (nowUnlocked && !wasUnlocked && get(vitale).state === 'error') {
      const reader = get(bridge.vitaleReader);
      if (reader) void read(reader);
    }
    wasUnlocked = nowUnlocked;
  });

  const chosen = derived([vitale, rank], ([v, r]) => (v.state === 'read' && r !== null ? (v.card.beneficiaries.find((b) => b.rank === r) ?? null) : null));

  return {
    vitale,
    chosen,
    choose(r) {
      const v = get(vitale);
      if (v.state === 'read' && v.card.beneficiaries.some((b) => b.rank === r)) rank.set(r);
    },
    clear() {
      generation++;
      rank.set(null);
      // A card still in the reader is the next patient's: read it afresh.
      const reader = get(bridge.vitaleReader);
      if (reader) void read(reader);
      else vitale.set({ state: 'absent' });
    },
    stop() {
      unsubscribe();
      unsubscribeSession();
    },
  };
}

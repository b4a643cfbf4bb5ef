/**
 * Whether the browser may evict this workstation's data (issue 14 item 6): unsent invoices, the
 * outbox and the trust store live in IndexedDB, which a browser may clear under storage
 * pressure — and Safari clears all of a site's script-writable storage after 7 days without a
 * visit unless the app is installed. The app asks for persistent storage, says plainly when the
 * browser refuses, and what to do (install the app). A pure decision over what the browser
 * reports, and a thin adapter to `navigator.storage`.
 */

export interface StorageFacts {
  /** `navigator.storage.persist` exists. */
  supported: boolean;
  /** The browser promised not to evict (persisted or granted). */
  persisted: boolean;
  /** The page runs as an installed app (display-mode standalone / fullscreen / minimal-ui). */
  installed: boolean;
  /** The browser was asked and refused, in this tab. */
  refused: boolean;
}

export type StorageAdvice =
  | { level: 'ok'; text: string }
  | { level: 'ask'; text: string }
  | { level: 'warn'; text: string };

/**
 * What to tell the practitioner about the safety of the data kept on this workstation.
 * `unsent`: invoices and messages that exist only here (not yet at the relay): while the storage
 * is not protected, they are named, whatever else is said.
 */
export function storageAdvice(f: StorageFacts, unsent = 0): StorageAdvice {
  const safe = f.persisted || (!f.supported && f.installed);
  if (!safe && unsent > 0) {
    const n = unsent > 1 ? `${unsent} factures ou envois pas encore partis n’existent` : 'Une facture ou un envoi pas encore parti n’existe';
    const canAsk = f.supported && !f.refused;
    const fix = `${canAsk ? 'Demandez-lui de le protéger, ou installez' : 'Installez'} l’application (menu du navigateur, « Installer Teletrans ») et télétransmettez dès que possible.`;
    return { level: canAsk ? 'ask' : 'warn', text: `${n} que sur ce poste, dans un stockage que le navigateur peut effacer. ${fix}` };
  }
  if (f.persisted) return { level: 'ok', text: 'Données de ce poste protégées : le navigateur ne les effacera pas de lui-même.' };
  if (!f.supported) {
    return f.installed
      ? { level: 'ok', text: 'Application installée : ses données restent sur ce poste tant que vous ne la désinstallez pas.' }
      : { level: 'warn', text: 'Ce navigateur peut effacer les données de ce poste, y compris des factures pas encore envoyées. Installez l’application (menu du navigateur, « Installer Teletrans ») pour les protéger.' };
  }
  if (f.refused) {
    return {
      level: 'warn',
      text: 'Le navigateur refuse de protéger les données de ce poste : des factures pas encore envoyées pourraient être effacées. Installez l’application (menu du navigateur, « Installer Teletrans »), puis demandez de nouveau.',
    };
  }
  return { level: 'ask', text: 'Le navigateur peut effacer les données de ce poste quand l’espace manque. Demandez-lui de les protéger.' };
}

interface NavigatorStorageLike {
  persisted?: () => Promise<boolean>;
  persist?: () => Promise<boolean>;
}

function storageApi(): NavigatorStorageLike | undefined {
  return (globalThis.navigator as Navigator | undefined)?.storage as NavigatorStorageLike | undefined;
}

function isInstalled(): boolean {
  const mm = globalThis.matchMedia;
  return typeof mm === 'function' && ['standalone', 'fullscreen', 'minimal-ui'].some((m) => mm(`(display-mode: ${m})`).matches);
}

/** What the browser says now (asks nothing). */
export async function readStorageFacts(refused = false): Promise<StorageFacts> {
  const api = storageApi();
  const supported = typeof api?.persist === 'function';
  let persisted = false;
  try {
    persisted = (await api?.persisted?.()) === true;
  } catch {
    persisted = false;
  }
  return { supported, persisted, installed: isInstalled(), refused };
}

/** Asks the browser to keep this origin's data; resolves to what it then says. */
export async function requestPersistence(): Promise<StorageFacts> {
  const api = storageApi();
  let granted = false;
  try {
    granted = (await api?.persist?.()) === true;
  } catch {
    granted = false;
  }
  const facts = await readStorageFacts(!granted);
  return granted ? { ...facts, persisted: true, refused: false } : facts;
}

/**
 * The readers a page may reach itself (issue 17, docs/card-transports.md): what this browser
 * offers, why each way is or is not usable here, and opening the one chosen. The bridge is the
 * other way (./stores.ts); the choice between them is ./local-client.ts's.
 *
 * Order when left automatic: the Web Smart Card API (the platform's PC/SC, its drivers and
 * PIN pads), then a USB reader the page was allowed (CCID), then a HID reader, then the bridge.
 */
import { CcidTransport } from '../../card/ccid/driver.js';
import { HID_CCID_USAGE, HidCcidLink, type HidDeviceLike } from '../../card/ccid/hid-link.js';
import type { UsbDeviceLike } from '../../card/ccid/usb.js';
import { SmartCardTransport, type SmartCardResourceManagerLike } from '../../card/smartcard/transport.js';
import type { CardTransport } from '../../card/transport.js';

export type InPageTransport = 'smartcard' | 'webusb' | 'webhid';
export type TransportChoice = 'auto' | 'bridge' | InPageTransport;
export const IN_PAGE_ORDER: readonly InPageTransport[] = ['smartcard', 'webusb', 'webhid'];
/** localStorage: the practitioner's (or administrator's) choice; absent = automatic. */
export const TRANSPORT_CHOICE_KEY = 'teletrans.card-transport';

export const TRANSPORT_LABELS: Readonly<Record<'bridge' | InPageTransport, string>> = {
  bridge: 'Pont local Teletrans',
  smartcard: 'API Web Smart Card (PC/SC du système)',
  webusb: 'Lecteur USB (CCID, WebUSB)',
  webhid: 'Lecteur HID (WebHID)',
};

interface UsbLike {
  getDevices(): Promise<Array<UsbDeviceLike & { configuration?: { interfaces?: Array<{ alternate?: { interfaceClass?: number } }> } | null }>>;
  requestDevice(o: { filters: Array<{ classCode: number }> }): Promise<UsbDeviceLike>;
}
interface HidLike {
  getDevices(): Promise<Array<HidDeviceLike & { collections?: Array<{ usagePage?: number; usage?: number }> }>>;
  requestDevice(o: { filters: Array<{ usagePage: number; usage: number }> }): Promise<HidDeviceLike[]>;
}
/** What of `navigator` the probes use (the tests give their own). */
export interface BrowserCardApis {
  smartCard?: SmartCardResourceManagerLike;
  usb?: UsbLike;
  hid?: HidLike;
  secure: boolean;
  /**
   * Whether the document's Permissions Policy allows a feature (`usb`, `hid`, `smart-card`):
   * the site's server denies them unless its deployment allows them (src/hooks.server.ts).
   * Asked before any call, which would otherwise be refused with a policy violation.
   */
  allowed?: (feature: string) => boolean;
}

export function browserCardApis(): BrowserCardApis {
  const n = globalThis.navigator as unknown as { smartCard?: SmartCardResourceManagerLike; usb?: UsbLike; hid?: HidLike } | undefined;
  const doc = globalThis.document as unknown as { permissionsPolicy?: { allowsFeature(f: string): boolean }; featurePolicy?: { allowsFeature(f: string): boolean } } | undefined;
  const policy = doc?.permissionsPolicy ?? doc?.featurePolicy;
  return {
    smartCard: n?.smartCard, usb: n?.usb, hid: n?.hid, secure: globalThis.isSecureContext === true,
    ...(policy ? { allowed: (f: string) => policy.allowsFeature(f) } : {}),
  };
}

const POLICY_DENIED = 'Désactivé pour ce site par sa politique de permissions (voir TELETRANS_PAGE_DEVICES dans la documentation) ; l’application web isolée l’autorise.';

export interface InPageStatus {
  id: InPageTransport;
  usable: boolean;
  /** Why, in French, for the settings page. */
  reason: string;
  /** The practitioner can allow a reader here (a button: the browser asks in its own dialog). */
  canGrant?: boolean;
}

const SMART_CARD_CLASS = 0x0b;
const isCcid = (d: { configuration?: { interfaces?: Array<{ alternate?: { interfaceClass?: number } }> } | null }): boolean =>
  d.configuration?.interfaces?.some((i) => i.alternate?.interfaceClass === SMART_CARD_CLASS) ?? true;
const isHidCcid = (d: { collections?: Array<{ usagePage?: number; usage?: number }> }): boolean =>
  d.collections?.some((c) => c.usagePage === HID_CCID_USAGE.usagePage && c.usage === HID_CCID_USAGE.usage) ?? false;

/** What each in-page way gives on this browser, without opening anything. */
export async function probeInPage(api: BrowserCardApis = browserCardApis()): Promise<InPageStatus[]> {
  const out: InPageStatus[] = [];
  out.push(api.smartCard && api.allowed?.('smart-card') === false
    ? { id: 'smartcard', usable: false, reason: `API Web Smart Card : ${POLICY_DENIED}` }
    : api.smartCard
    ? { id: 'smartcard', usable: true, reason: 'Disponible : le navigateur donne accès aux lecteurs du système (PC/SC).' }
    : { id: 'smartcard', usable: false, reason: 'Absente de ce navigateur : elle n’existe que dans une application web isolée (IWA) ou une application kiosque ChromeOS.' });
  if (api.usb && api.allowed?.('usb') === false) {
    out.push({ id: 'webusb', usable: false, reason: `WebUSB : ${POLICY_DENIED}` });
  } else if (!api.usb) {
    out.push({ id: 'webusb', usable: false, reason: api.secure ? 'WebUSB absent de ce navigateur.' : 'WebUSB demande une page sécurisée (HTTPS).' });
  } else {
    const granted = (await api.usb.getDevices().catch(() => [])).filter(isCcid);
    out.push(granted.length
      ? { id: 'webusb', usable: true, reason: `${granted.length} lecteur(s) USB autorisé(s) pour cette page.` }
      : { id: 'webusb', usable: false, canGrant: true, reason: 'Aucun lecteur USB autorisé pour cette page. Chrome réserve les lecteurs de cartes aux applications isolées, aux kiosques et aux postes gérés ; ailleurs le pont est la voie.' });
  }
  if (api.hid && api.allowed?.('hid') === false) {
    out.push({ id: 'webhid', usable: false, reason: `WebHID : ${POLICY_DENIED}` });
  } else if (!api.hid) {
    out.push({ id: 'webhid', usable: false, reason: api.secure ? 'WebHID absent de ce navigateur.' : 'WebHID demande une page sécurisée (HTTPS).' });
  } else {
    const granted = (await api.hid.getDevices().catch(() => [])).filter(isHidCcid);
    out.push(granted.length
      ? { id: 'webhid', usable: true, reason: `${granted.length} lecteur(s) HID autorisé(s) pour cette page.` }
      : { id: 'webhid', usable: false, canGrant: true, reason: 'Aucun lecteur HID compatible autorisé pour cette page (voir la documentation des lecteurs HID).' });
  }
  return out;
}

/** The browser's dialog to allow a reader (needs a click). Resolves false when none was chosen. */
export async function grantReader(id: 'webusb' | 'webhid', api: BrowserCardApis = browserCardApis()): Promise<boolean> {
  try {
    if (id === 'webusb' && api.usb) return !!(await api.usb.requestDevice({ filters: [{ classCode: SMART_CARD_CLASS }] }));
    if (id === 'webhid' && api.hid) return (await api.hid.requestDevice({ filters: [{ ...HID_CCID_USAGE }] })).length > 0;
  } catch {
    /* dismissed */
  }
  return false;
}

/** Opens one in-page way; throws its typed error (CcidError, SmartCardTransportError) when it cannot. */
export async function openInPage(id: InPageTransport, api: BrowserCardApis = browserCardApis()): Promise<CardTransport> {
  if (id === 'smartcard') {
    if (!api.smartCard) throw new Error('API Web Smart Card absente');
    return SmartCardTransport.open(api.smartCard, { abort: () => new AbortController() });
  }
  if (id === 'webusb') {
    const [d] = (await api.usb?.getDevices().catch(() => []))?.filter(isCcid) ?? [];
    if (!d) throw new Error('aucun lecteur USB autorisé');
    return CcidTransport.open(d);
  }
  const [h] = (await api.hid?.getDevices().catch(() => []))?.filter(isHidCcid) ?? [];
  if (!h) throw new Error('aucun lecteur HID autorisé');
  return CcidTransport.over(await HidCcidLink.open(h));
}

export function savedChoice(): TransportChoice {
  try {
    const v = globalThis.localStorage?.getItem(TRANSPORT_CHOICE_KEY);
    return v === 'bridge' || v === 'smartcard' || v === 'webusb' || v === 'webhid' ? v : 'auto';
  } catch {
    return 'auto';
  }
}

export function saveChoice(c: TransportChoice): void {
  try {
    if (c === 'auto') globalThis.localStorage?.removeItem(TRANSPORT_CHOICE_KEY);
    else globalThis.localStorage?.setItem(TRANSPORT_CHOICE_KEY, c);
  } catch {
    /* storage disabled: automatic */
  }
}

/**
 * The in-page way to use, or null for the bridge: the one chosen if usable, else (automatic)
 * the first usable in IN_PAGE_ORDER.
 */
export function pickInPage(choice: TransportChoice, statuses: readonly InPageStatus[]): InPageTransport | null {
  if (choice === 'bridge') return null;
  const usable = (id: InPageTransport) => statuses.some((s) => s.id === id && s.usable);
  if (choice !== 'auto') return usable(choice) ? choice : null;
  return IN_PAGE_ORDER.find(usable) ?? null;
}

/**
 * Where the app's server is (relay, directory, demonstration trust store). For the web app it is
 * the page's own origin: '' (relative URLs). Inside an Isolated Web App (docs/kiosk.md § IWA) the
 * page's origin is `isolated-app://…` with no server behind it: the packager writes the server
 * the package is made for in `<meta name="teletrans-server">` (and allows it in the pages' CSP
 * connect-src). Only honoured in an IWA, and only an HTTPS origin: anywhere else a written meta
 * changes nothing.
 */
export const SERVER_META = 'teletrans-server';

export function serverBase(
  doc: { querySelector(s: string): { getAttribute(n: string): string | null } | null } | undefined = globalThis.document,
  loc: { protocol: string } | undefined = globalThis.location,
): string {
  if (loc?.protocol !== 'isolated-app:') return '';
  const v = doc?.querySelector(`meta[name="${SERVER_META}"]`)?.getAttribute('content') ?? '';
  return /^https:\/\/[a-z0-9.-]+(:\d{1,5})?$/i.test(v) ? v : '';
}

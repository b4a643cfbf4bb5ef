/** The relay's inbox line as it travels (src/lib/server/mss/service.ts InboxEntry). */
export interface InboxEntryWire {
  uid: number;
  flags: string[];
  size: number;
  internalDate?: string;
  headers: string;
}

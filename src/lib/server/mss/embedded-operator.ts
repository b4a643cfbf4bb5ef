/**
 * A LOCAL MSSanté operator of ours for `npm start`'s embedded defaults — not a real operator,
 * and no part of a deployment: on loopback, just enough of an "API LPS" for the relay's own
 * clients to run unchanged on a machine with no mail server (docs/adr/0031).
 *
 * - SMTP submission: STARTTLS (the six suites, TLS ≥ 1.2), then AUTH XOAUTH2 (the token checked
 *   by the caller's `checkToken`, e.g. our test PRO Santé Connect's introspection), MAIL FROM
 *   only as the authenticated mailbox, RCPT only to the served domains, DATA delivered into a
 *   Maildir per recipient (tmp/ then new/: whole or absent).
 * - IMAP: STARTTLS, AUTHENTICATE XOAUTH2 (SASL-IR), SELECT/EXAMINE INBOX, NOOP, UID SEARCH
 *   (ALL, HEADER Message-ID, FROM), UID FETCH (UID, FLAGS, RFC822.SIZE, INTERNALDATE,
 *   BODY[HEADER.FIELDS (…)], BODY[], BODY.PEEK[]), UID STORE ±FLAGS(.SILENT) (\Seen), LOGOUT.
 *   UIDs are kept per mailbox (uids.json), the \Seen flag in the Maildir file name (":2,S").
 * Anything else is answered BAD / 500: it serves our clients, not the world's.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { MSS_CURVES, MSS_TLS12_SUITES, MSS_TLS13_SUITES } from './tls-policy.js';

export interface EmbeddedOperatorOptions {
  /** Where the mailboxes live (one Maildir per address). */
  dir: string;
  /** The domains served. */
  domains: readonly string[];
  /** PEM server certificate (for 127.0.0.1 / localhost) and key. */
  cert: string;
  key: string;
  /** The mailbox a token stands for, or null (expired, revoked, unknown). */
  checkToken: (token: string) => Promise<string | null>;
}

export interface EmbeddedOperator {
  submissionPort: number;
  imapPort: number;
  close(): Promise<void>;
}

/** A line without its end past this is not one of our clients: the connection is dropped. */
const MAX_PENDING = 64 * 1024;
const MAX_MESSAGE = 20_000_000;

function secure(o: EmbeddedOperatorOptions): tls.SecureContextOptions & tls.TlsOptions {
  return { cert: o.cert, key: o.key, minVersion: 'TLSv1.2', ciphers: [...MSS_TLS12_SUITES, ...MSS_TLS13_SUITES].join(':'), ecdhCurve: MSS_CURVES, honorCipherOrder: true };
}

/** SASL XOAUTH2's initial response → user and token. */
function xoauth2(b64: string): { user: string; token: string } | null {
  // eslint-disable-next-line no-control-regex -- SASL XOAUTH2 separates its fields with \x01
  const m = /^user=([^\x01]+)\x01auth=Bearer ([^\x01]+)\x01\x01$/.exec(Buffer.from(b64, 'base64').toString('utf8'));
  return m ? { user: m[1]!.toLowerCase(), token: m[2]! } : null;
}

const XOAUTH2_ERROR = Buffer.from(JSON.stringify({ status: '401', schemes: 'Bearer', scope: 'mssante' })).toString('base64');

// ---------------------------------------------------------------------------------------------
// Maildir

interface Mail {
  uid: number;
  file: string;
  seen: boolean;
  size: number;
  date: Date;
}

class Mailbox {
  private readonly root: string;
  constructor(dir: string, address: string) {
    this.root = join(dir, address.toLowerCase(), 'Maildir');
    for (const d of ['tmp', 'new', 'cur']) mkdirSync(join(this.root, d), { recursive: true });
  }

  deliver(raw: Buffer): void {
    const name = `${Date.now()}.${randomUUID()}.teletrans`;
    writeFileSync(join(this.root, 'tmp', name), raw, { mode: 0o600 });
    renameSync(join(this.root, 'tmp', name), join(this.root, 'new', name));
  }

  private state(): { validity: number; next: number; uids: Record<string, number> } {
    const f = join(this.root, 'uids.json');
    if (existsSync(f)) return JSON.parse(readFileSync(f, 'utf8')) as { validity: number; next: number; uids: Record<string, number> };
    return { validity: Math.floor(Date.now() / 1000), next: 1, uids: {} };
  }

  /** The messages, oldest first, each with its UID (new/ moved to cur/ as IMAP sees them). */
  scan(): { validity: number; next: number; mails: Mail[] } {
    const st = this.state();
    for (const f of readdirSync(join(this.root, 'new'))) renameSync(join(this.root, 'new', f), join(this.root, 'cur', `${f}:2,`));
    const mails: Mail[] = [];
    for (const f of readdirSync(join(this.root, 'cur')).sort()) {
      const base = f.replace(/:2,[A-Z]*$/, '');
      st.uids[base] ??= st.next++;
      const s = statSync(join(this.root, 'cur', f));
      mails.push({ uid: st.uids[base]!, file: f, seen: /:2,[A-Z]*S/.test(f), size: s.size, date: s.mtime });
    }
    writeFileSync(join(this.root, 'uids.json'), JSON.stringify(st));
    mails.sort((a, b) => a.uid - b.uid);
    return { validity: st.validity, next: st.next, mails };
  }

  read(m: Mail): Buffer {
    return readFileSync(join(this.root, 'cur', m.file));
  }

  markSeen(m: Mail): void {
    if (m.seen) return;
    const to = `${m.file.replace(/:2,[A-Z]*$/, '')}:2,S`;
    renameSync(join(this.root, 'cur', m.file), join(this.root, 'cur', to));
    m.file = to;
    m.seen = true;
  }
}

// ---------------------------------------------------------------------------------------------
// A line-oriented connection that can turn to TLS

class Conn {
  private buf = Buffer.alloc(0);
  private waiting: ((line: string | null) => void) | null = null;
  private lines: Array<string | null> = [];
  constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  private attach(s: net.Socket): void {
    s.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (let i = this.buf.indexOf('\r\n'); i >= 0; i = this.buf.indexOf('\r\n')) {
        this.push(this.buf.subarray(0, i).toString('latin1'));
        this.buf = this.buf.subarray(i + 2);
      }
      if (this.buf.length > MAX_PENDING) s.destroy();
    });
    s.on('close', () => this.push(null));
    s.on('error', () => s.destroy());
    s.setTimeout(5 * 60_000, () => s.destroy());
  }

  private push(l: string | null): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(l);
    } else this.lines.push(l);
  }

  line(): Promise<string | null> {
    if (this.lines.length) return Promise.resolve(this.lines.shift()!);
    return new Promise((r) => (this.waiting = r));
  }

  write(s: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(s);
  }

  /** STARTTLS: nothing the client sent in clear after the command is kept. */
  async upgrade(o: EmbeddedOperatorOptions): Promise<boolean> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    this.buf = Buffer.alloc(0);
    this.lines = [];
    const s = new tls.TLSSocket(plain, { isServer: true, secureContext: tls.createSecureContext(secure(o)) });
    const ok = await new Promise<boolean>((res) => {
      s.once('secure', () => res(true));
      s.once('error', () => res(false));
    });
    if (!ok) {
      s.destroy();
      return false;
    }
    this.socket = s;
    this.attach(s);
    return true;
  }
}

function serve(handler: (c: Conn) => Promise<void>): net.Server {
  return net.createServer((socket) => {
    const c = new Conn(socket);
    handler(c).catch(() => socket.destroy()).finally(() => socket.end());
  });
}

// ---------------------------------------------------------------------------------------------
// SMTP submission

async function smtp(c: Conn, o: EmbeddedOperatorOptions): Promise<void> {
  let secured = false;
  let user: string | null = null;
  let from: string | null = null;
  let rcpts: string[] = [];
  c.write('220 localhost ESMTP opérateur MSSanté local (démonstration)\r\n');
  for (;;) {
    const line = await c.line();
    if (line === null) return;
    const [verb = '', ...rest] = line.split(' ');
    const arg = rest.join(' ');
    switch (verb.toUpperCase()) {
      case 'EHLO':
        c.write(secured ? '250-localhost\r\n250-SIZE 20000000\r\n250-8BITMIME\r\n250 AUTH XOAUTH2\r\n' : '250-localhost\r\n250-SIZE 20000000\r\n250 STARTTLS\r\n');
        break;
      case 'STARTTLS':
        if (secured) { c.write('503 5.5.1 already secured\r\n'); break; }
        c.write('220 2.0.0 Ready to start TLS\r\n');
        if (!(await c.upgrade(o))) return;
        secured = true;
        break;
      case 'AUTH': {
        if (!secured) { c.write('530 5.7.0 Must issue a STARTTLS command first\r\n'); break; }
        const [mech = '', ir = ''] = arg.split(' ');
        const creds = mech.toUpperCase() === 'XOAUTH2' ? xoauth2(ir) : null;
        const owner = creds ? await o.checkToken(creds.token) : null;
        if (creds && owner && owner.toLowerCase() === creds.user) {
          user = creds.user;
          c.write('235 2.7.0 Authentication successful\r\n');
        } else {
          c.write(`334 ${XOAUTH2_ERROR}\r\n`);
          await c.line();
          c.write('535 5.7.8 Authentication credentials invalid\r\n');
        }
        break;
      }
      case 'MAIL': {
        if (!user) { c.write('530 5.7.0 Authentication required\r\n'); break; }
        const a = /^FROM:<([^<>\s]+)>/i.exec(arg)?.[1]?.toLowerCase();
        if (a !== user) { c.write('553 5.7.1 Sender address rejected: not owned by user\r\n'); break; }
        from = a;
        rcpts = [];
        c.write('250 2.1.0 Ok\r\n');
        break;
      }
      case 'RCPT': {
        const a = /^TO:<([^<>\s]+)>/i.exec(arg)?.[1]?.toLowerCase();
        if (!from || !a) { c.write('503 5.5.1 Error: need MAIL command\r\n'); break; }
        if (!o.domains.includes(a.slice(a.lastIndexOf('@') + 1))) { c.write(`550 5.7.1 <${a}>: domain outside the MSSante trust space of this demo operator\r\n`); break; }
        rcpts.push(a);
        c.write('250 2.1.5 Ok\r\n');
        break;
      }
      case 'DATA': {
        if (!from || rcpts.length === 0) { c.write('554 5.5.1 Error: no valid recipients\r\n'); break; }
        c.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        const body: string[] = [];
        let size = 0;
        for (;;) {
          const l = await c.line();
          if (l === null) return;
          if (l === '.') break;
          size += l.length + 2;
          if (size <= MAX_MESSAGE) body.push(l.startsWith('.') ? l.slice(1) : l);
        }
        if (size > MAX_MESSAGE) { c.write('552 5.3.4 Message too big\r\n'); break; }
        const raw = Buffer.from(`Return-Path: <${from}>\r\n${body.join('\r\n')}\r\n`, 'latin1');
        for (const r of rcpts) new Mailbox(o.dir, r).deliver(raw);
        from = null;
        rcpts = [];
        c.write(`250 2.0.0 Ok: queued as ${randomUUID().slice(0, 12)}\r\n`);
        break;
      }
      case 'RSET':
        from = null;
        rcpts = [];
        c.write('250 2.0.0 Ok\r\n');
        break;
      case 'NOOP':
        c.write('250 2.0.0 Ok\r\n');
        break;
      case 'QUIT':
        c.write('221 2.0.0 Bye\r\n');
        return;
      default:
        c.write('502 5.5.2 Error: command not recognized\r\n');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// IMAP

const imapDate = (d: Date): string => {
  const M = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()]!;
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}-${M}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
};

function uidSet(set: string, all: readonly Mail[]): Mail[] {
  const max = all.length ? all[all.length - 1]!.uid : 0;
  const want = new Set<number>();
  for (const part of set.split(',')) {
    const [a, b] = part.split(':');
    const lo = a === '*' ? max : Number(a);
    const hi = b === undefined ? lo : b === '*' ? max : Number(b);
    for (const m of all) if (m.uid >= Math.min(lo, hi) && m.uid <= Math.max(lo, hi)) want.add(m.uid);
  }
  return all.filter((m) => want.has(m.uid));
}

function headerFields(raw: Buffer, names: readonly string[]): Buffer {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = end < 0 ? text : text.slice(0, end);
  const out: string[] = [];
  let keep = false;
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      if (keep) out.push(line);
      continue;
    }
    keep = names.includes(line.slice(0, line.indexOf(':')).trim().toUpperCase());
    if (keep) out.push(line);
  }
  return Buffer.from(`${out.join('\r\n')}\r\n\r\n`, 'latin1');
}

async function imap(c: Conn, o: EmbeddedOperatorOptions): Promise<void> {
  let secured = false;
  let user: string | null = null;
  let box: Mailbox | null = null;
  let mails: Mail[] = [];
  const caps = (): string => (secured ? 'IMAP4rev1 SASL-IR AUTH=XOAUTH2' : 'IMAP4rev1 STARTTLS LOGINDISABLED');
  c.write(`* OK [CAPABILITY ${caps()}] opérateur MSSanté local (démonstration)\r\n`);
  for (;;) {
    const line = await c.line();
    if (line === null) return;
    const m = /^(\S+) (UID )?(\S+)(?: (.*))?$/.exec(line);
    if (!m) { c.write('* BAD malformed command\r\n'); continue; }
    const [, tag, uid, cmd = '', args = ''] = m;
    const C = cmd.toUpperCase();
    if (C === 'CAPABILITY') { c.write(`* CAPABILITY ${caps()}\r\n${tag} OK CAPABILITY completed\r\n`); continue; }
    if (C === 'NOOP' && !box) { c.write(`${tag} OK NOOP completed\r\n`); continue; }
    if (C === 'LOGOUT') { c.write(`* BYE Logging out\r\n${tag} OK Logout completed\r\n`); return; }
    if (C === 'STARTTLS') {
      if (secured) { c.write(`${tag} BAD already secured\r\n`); continue; }
      c.write(`${tag} OK Begin TLS negotiation now\r\n`);
      if (!(await c.upgrade(o))) return;
      secured = true;
      continue;
    }
    if (C === 'AUTHENTICATE') {
      const [mech = '', ir] = args.split(' ');
      if (!secured || mech.toUpperCase() !== 'XOAUTH2' || !ir) { c.write(`${tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n`); continue; }
      const creds = xoauth2(ir);
      const owner = creds ? await o.checkToken(creds.token) : null;
      if (creds && owner && owner.toLowerCase() === creds.user) {
        user = creds.user;
        c.write(`${tag} OK [CAPABILITY ${caps()}] Logged in\r\n`);
      } else {
        c.write(`+ ${XOAUTH2_ERROR}\r\n`);
        await c.line();
        c.write(`${tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n`);
      }
      continue;
    }
    if (!user) { c.write(`${tag} NO not authenticated\r\n`); continue; }
    if (C === 'SELECT' || C === 'EXAMINE') {
      if (args.replace(/"/g, '').toUpperCase() !== 'INBOX') { c.write(`${tag} NO no such mailbox\r\n`); continue; }
      box = new Mailbox(o.dir, user);
      const s = box.scan();
      mails = s.mails;
      c.write(`* ${mails.length} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen)\r\n* OK [UIDVALIDITY ${s.validity}] UIDs valid\r\n* OK [UIDNEXT ${s.next}] Predicted next UID\r\n${tag} OK [${C === 'SELECT' ? 'READ-WRITE' : 'READ-ONLY'}] ${C} completed\r\n`);
      continue;
    }
    if (!box) { c.write(`${tag} BAD no mailbox selected\r\n`); continue; }
    if (C === 'NOOP') {
      mails = box.scan().mails;
      c.write(`* ${mails.length} EXISTS\r\n${tag} OK NOOP completed\r\n`);
      continue;
    }
    if (uid && C === 'SEARCH') {
      let found = mails;
      if (args.toUpperCase() !== 'ALL') {
        const id = /HEADER Message-ID "([^"]*)"/i.exec(args)?.[1];
        const from = /FROM "([^"]*)"/i.exec(args)?.[1]?.toLowerCase();
        found = mails.filter((x) => {
          const h = headerFields(box!.read(x), ['MESSAGE-ID', 'FROM']).toString('latin1');
          return (!id || h.includes(id)) && (!from || h.toLowerCase().includes(from));
        });
      }
      c.write(`* SEARCH${found.map((x) => ` ${x.uid}`).join('')}\r\n${tag} OK SEARCH completed\r\n`);
      continue;
    }
    if (uid && C === 'FETCH') {
      const fm = /^([\d:,*]+) \((.*)\)$/.exec(args);
      if (!fm) { c.write(`${tag} BAD malformed FETCH\r\n`); continue; }
      const items = fm[2]!;
      for (const x of uidSet(fm[1]!, mails)) {
        const seq = mails.indexOf(x) + 1;
        const parts: Array<string | Buffer> = [`* ${seq} FETCH (UID ${x.uid}`];
        const raw = /BODY|RFC822/i.test(items) ? box.read(x) : null;
        if (/RFC822\.SIZE/i.test(items)) parts.push(` RFC822.SIZE ${raw!.length}`);
        if (/INTERNALDATE/i.test(items)) parts.push(` INTERNALDATE "${imapDate(x.date)}"`);
        const hf = /BODY\.PEEK\[HEADER\.FIELDS \(([^)]*)\)\]/i.exec(items);
        if (hf) {
          const b = headerFields(raw!, hf[1]!.toUpperCase().split(' '));
          parts.push(` BODY[HEADER.FIELDS (${hf[1]!.toUpperCase()})] {${b.length}}\r\n`, b);
        }
        if (/BODY(\.PEEK)?\[\]/i.test(items)) {
          if (/BODY\[\]/i.test(items)) box.markSeen(x);
          parts.push(` BODY[] {${raw!.length}}\r\n`, raw!);
        }
        if (/FLAGS/i.test(items)) parts.push(` FLAGS (${x.seen ? '\\Seen' : ''})`);
        parts.push(')\r\n');
        c.write(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))));
      }
      c.write(`${tag} OK FETCH completed\r\n`);
      continue;
    }
    if (uid && C === 'STORE') {
      const sm = /^([\d:,*]+) ([+-])FLAGS(\.SILENT)? \(([^)]*)\)$/i.exec(args);
      if (!sm) { c.write(`${tag} BAD malformed STORE\r\n`); continue; }
      for (const x of uidSet(sm[1]!, mails)) {
        if (sm[2] === '+' && /\\Seen/i.test(sm[4]!)) box.markSeen(x);
        if (!sm[3]) c.write(`* ${mails.indexOf(x) + 1} FETCH (UID ${x.uid} FLAGS (${x.seen ? '\\Seen' : ''}))\r\n`);
      }
      c.write(`${tag} OK STORE completed\r\n`);
      continue;
    }
    c.write(`${tag} BAD command not supported by this demo operator\r\n`);
  }
}

/** Starts the two listeners on loopback (ports chosen by the system). */
export async function startEmbeddedOperator(o: EmbeddedOperatorOptions): Promise<EmbeddedOperator> {
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const a = serve((c) => smtp(c, o));
  const b = serve((c) => imap(c, o));
  const listen = (s: net.Server): Promise<number> => new Promise((res) => s.listen(0, '127.0.0.1', () => res((s.address() as net.AddressInfo).port)));
  const [submissionPort, imapPort] = await Promise.all([listen(a), listen(b)]);
  return {
    submissionPort, imapPort,
    close: () => Promise.all([a, b].map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
  };
}

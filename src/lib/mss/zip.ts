/**
 * ZIP for the XDM attachments of MSSanté messages: written with fflate (deterministic), read
 * by our own bounded reader, because a received zip is hostile until proven otherwise:
 * - the central directory is the index, and every entry's local header must agree with it;
 * - no encryption, no ZIP64, no multi-disk, methods stored and deflate only;
 * - names: UTF-8 or ASCII, relative, no "..", ".", "\\", ":", control character, empty segment,
 *   symbolic link or duplicate (case-insensitively) — nothing that could escape a folder;
 * - bounds on the archive, the entry count, each entry, the total, the compression ratio;
 *   entries whose data overlap (the "overlapping files" bomb) are refused;
 * - inflation is streamed and stopped the moment it passes the declared size; the CRC-32 and
 *   the size must then match exactly.
 */
import { Inflate, zipSync } from 'fflate';
import { MssError } from './errors.js';

export interface ZipLimits {
  maxArchiveBytes: number;
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
  /** Uncompressed ÷ compressed, for entries above 64 KiB. */
  maxRatio: number;
}

/** An MSSanté message is at most 10 MB encoded: these bounds leave room and no more. */
export const ZIP_LIMITS: ZipLimits = {
  maxArchiveBytes: 10 * 1024 * 1024,
  maxEntries: 500,
  maxEntryBytes: 20 * 1024 * 1024,
  maxTotalBytes: 50 * 1024 * 1024,
  maxRatio: 100,
};

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

const SIG_EOCD = 0x06054b50;
const SIG_CEN = 0x02014b50;
const SIG_LOC = 0x04034b50;

const refuse = (code: 'zip_malformed' | 'zip_unsupported' | 'zip_too_large' | 'zip_too_many_entries' | 'zip_path_refused' | 'zip_ratio_refused', message: string): never => {
  throw new MssError(code, message);
};

let CRC_TABLE: Uint32Array | undefined;
export function crc32(data: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A path safe to use as a folder-relative name, or a refusal saying why. */
export function checkEntryName(name: string): void {
  const bad = (why: string): never => refuse('zip_path_refused', `Nom refusé dans l’archive (« ${name.slice(0, 80)} ») : ${why}.`);
  if (name.length === 0 || name.length > 255) bad('longueur');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) bad('caractère de contrôle');
  if (name.includes('\\')) bad('barre oblique inverse');
  if (name.includes(':')) bad('deux-points (lecteur ou flux)');
  if (name.startsWith('/')) bad('chemin absolu');
  const segs = (name.endsWith('/') ? name.slice(0, -1) : name).split('/');
  for (const s of segs) {
    if (s === '') bad('segment vide');
    if (s === '.' || s === '..') bad('remontée de dossier');
  }
}

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

interface Central {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compSize: number;
  size: number;
  localOffset: number;
  dir: boolean;
}

function decodeName(raw: Uint8Array, utf8: boolean): string {
  if (!utf8 && raw.some((b) => b > 0x7f)) refuse('zip_path_refused', 'Nom de fichier non UTF-8 dans l’archive.');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return refuse('zip_path_refused', 'Nom de fichier illisible (UTF-8 invalide) dans l’archive.');
  }
}

function inflateBounded(data: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let n = 0;
  const inf = new Inflate((chunk) => {
    if (n + chunk.length > size) refuse('zip_malformed', 'Une entrée de l’archive se décompresse au-delà de sa taille déclarée.');
    out.set(chunk, n);
    n += chunk.length;
  });
  try {
    inf.push(data, true);
  } catch (e) {
    if (e instanceof MssError) throw e;
    refuse('zip_malformed', 'Données compressées invalides dans l’archive.');
  }
  if (n !== size) refuse('zip_malformed', 'Une entrée de l’archive ne fait pas sa taille déclarée.');
  return out;
}

/** Reads every file of an archive (folders skipped), within the limits, or refuses. */
export function readZip(bytes: Uint8Array, limits: ZipLimits = ZIP_LIMITS): ZipEntry[] {
  if (bytes.length > limits.maxArchiveBytes) refuse('zip_too_large', `Archive trop volumineuse (maximum ${limits.maxArchiveBytes} octets).`);
  // End of central directory: within the last 22 + 65535 bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (u32(bytes, i) === SIG_EOCD && i + 22 + u16(bytes, i + 20) === bytes.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) refuse('zip_malformed', 'Ce fichier n’est pas une archive ZIP lisible.');
  const disk = u16(bytes, eocd + 4);
  const cdDisk = u16(bytes, eocd + 6);
  const onDisk = u16(bytes, eocd + 8);
  const total = u16(bytes, eocd + 10);
  const cdSize = u32(bytes, eocd + 12);
  const cdOffset = u32(bytes, eocd + 16);
  if (total === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) refuse('zip_unsupported', 'Archive ZIP64 non admise.');
  if (disk !== 0 || cdDisk !== 0 || onDisk !== total) refuse('zip_unsupported', 'Archive sur plusieurs volumes non admise.');
  if (total > limits.maxEntries) refuse('zip_too_many_entries', `Trop d’entrées dans l’archive (${total}, maximum ${limits.maxEntries}).`);
  if (cdOffset + cdSize > eocd) refuse('zip_malformed', 'Répertoire central de l’archive hors du fichier.');

  const entries: Central[] = [];
  let p = cdOffset;
  for (let i = 0; i < total; i++) {
    if (p + 46 > cdOffset + cdSize || u32(bytes, p) !== SIG_CEN) refuse('zip_malformed', 'Répertoire central de l’archive mal formé.');
    const madeBy = u16(bytes, p + 4) >> 8;
    const flags = u16(bytes, p + 8);
    const method = u16(bytes, p + 10);
    const crc = u32(bytes, p + 16);
    const compSize = u32(bytes, p + 20);
    const size = u32(bytes, p + 24);
    const nameLen = u16(bytes, p + 28);
    const extraLen = u16(bytes, p + 30);
    const commentLen = u16(bytes, p + 32);
    const external = u32(bytes, p + 38);
    const localOffset = u32(bytes, p + 42);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdOffset + cdSize) refuse('zip_malformed', 'Répertoire central de l’archive tronqué.');
    if (compSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) refuse('zip_unsupported', 'Archive ZIP64 non admise.');
    if (flags & 0x1 || flags & 0x40) refuse('zip_unsupported', 'Archive chiffrée non admise.');
    if (method !== 0 && method !== 8) refuse('zip_unsupported', `Méthode de compression non admise (${method}).`);
    const name = decodeName(bytes.subarray(p + 46, p + 46 + nameLen), (flags & 0x800) !== 0);
    checkEntryName(name);
    if (madeBy === 3 && ((external >>> 16) & 0xf000) === 0xa000) refuse('zip_path_refused', `Lien symbolique refusé dans l’archive (« ${name} »).`);
    entries.push({ name, flags, method, crc, compSize, size, localOffset, dir: name.endsWith('/') });
    p = end;
  }

  const seen = new Set<string>();
  let totalBytes = 0;
  const ranges: Array<[number, number]> = [];
  for (const e of entries) {
    const key = e.name.toLowerCase();
    if (seen.has(key)) refuse('zip_path_refused', `Nom en double dans l’archive (« ${e.name} »).`);
    seen.add(key);
    if (e.size > limits.maxEntryBytes) refuse('zip_too_large', `Entrée trop volumineuse (« ${e.name} », ${e.size} octets).`);
    totalBytes += e.size;
    if (totalBytes > limits.maxTotalBytes) refuse('zip_too_large', 'Contenu décompressé de l’archive trop volumineux.');
    if (e.size > 65536 && e.size > e.compSize * limits.maxRatio) refuse('zip_ratio_refused', `Taux de compression anormal (« ${e.name} ») : archive refusée.`);
    if (e.method === 0 && e.compSize !== e.size) refuse('zip_malformed', `Entrée stockée de taille incohérente (« ${e.name} »).`);
    const lo = e.localOffset;
    if (lo + 30 > cdOffset || u32(bytes, lo) !== SIG_LOC) refuse('zip_malformed', `En-tête local absent (« ${e.name} »).`);
    const lNameLen = u16(bytes, lo + 26);
    const lExtraLen = u16(bytes, lo + 28);
    const lName = bytes.subarray(lo + 30, lo + 30 + lNameLen);
    if (decodeName(lName, true) !== e.name || u16(bytes, lo + 8) !== e.method) refuse('zip_malformed', `En-tête local incohérent avec le répertoire central (« ${e.name} »).`);
    const dataStart = lo + 30 + lNameLen + lExtraLen;
    const dataEnd = dataStart + e.compSize;
    if (dataEnd > cdOffset) refuse('zip_malformed', `Données hors de l’archive (« ${e.name} »).`);
    ranges.push([lo, dataEnd]);
    (e as Central & { dataStart: number }).dataStart = dataStart;
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]![0] < ranges[i - 1]![1]) refuse('zip_malformed', 'Entrées de l’archive qui se chevauchent : refusée.');
  }

  const out: ZipEntry[] = [];
  for (const e of entries) {
    if (e.dir) continue;
    const start = (e as Central & { dataStart: number }).dataStart;
    const raw = bytes.subarray(start, start + e.compSize);
    const data = e.method === 0 ? raw.slice() : inflateBounded(raw, e.size);
    if (crc32(data) !== e.crc) refuse('zip_malformed', `Somme de contrôle invalide (« ${e.name} »).`);
    out.push({ name: e.name, data });
  }
  return out;
}

/** Writes an archive (deflate; a fixed date, so the same files give the same bytes). */
export function writeZip(entries: readonly ZipEntry[], mtime = new Date('2026-01-01T00:00:00Z')): Uint8Array {
  const files: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const e of entries) {
    checkEntryName(e.name);
    if (files[e.name]) throw new MssError('zip_path_refused', `Nom en double dans l’archive (« ${e.name} »).`);
    files[e.name] = [e.data, { mtime }];
  }
  return zipSync(files, { level: 6 });
}

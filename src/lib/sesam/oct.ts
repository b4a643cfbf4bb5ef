/**
 * The OCT single file (docs/domain/transmission.md §8 way 2, docs/domain/workflow.md): FSE lots and/or DRE lots
 * concatenated, without regard to the grouping criterion, framed by a header and a trailer
 * specific to the OCT. The documents name only these fields:
 *   header  group 12: field 2 file name, field 5 application `TO`, field 6 recipient type `OT`,
 *                     field 7 recipient number (the OCT's identifier)
 *   trailer group 14: field 3 message zone (free, set by the software)
 *
 * The real byte layout of norm B2/DR groups is produced by the proprietary SSV library and is
 * not public. `OctFramer` is the seam: the SSV adapter will provide the real framer, and
 * `simulatorOctFramer` below is OUR SIMULATOR'S OWN FORMAT, not the norm. Nothing outside this
 * file may depend on its layout.
 *
 * Simulator format "TELETRANS-OCT-SIM 1" (CRLF after every text line):
 *   #TELETRANS-OCT-SIM 1
 *   12|2=<file name>|5=TO|6=OT|7=<OCT number>
 *   LOT|FSE|<byte length>          one per lot, in the order given
 *   <the lot's bytes, verbatim>    followed by CRLF
 *   14|3=<message zone>|LOTS=<number of lots>
 * Byte lengths make lots binary-safe (the real lots are not text files).
 */
import { SesamFieldError, SesamMessageError } from './errors.js';

export type LotKind = 'FSE' | 'DRE';

export interface OctLot {
  kind: LotKind;
  data: Uint8Array;
}

export interface OctHeader {
  /** Group 12 field 2: file name, different for every file. */
  fileName: string;
  /** Group 12 field 5, always `TO`. */
  application: 'TO';
  /** Group 12 field 6, always `OT` (OCT). */
  recipientType: 'OT';
  /** Group 12 field 7: the OCT's unique identifier (SIREN-based) or association number. */
  recipientNumber: string;
}

export interface OctFile {
  header: OctHeader;
  lots: OctLot[];
  /** Group 14 field 3. */
  messageZone: string;
}

export interface OctFramer {
  /** Identifies the layout (shown in logs and tests). */
  readonly format: string;
  frame(file: OctFile): Uint8Array;
  unframe(bytes: Uint8Array): OctFile;
}

export function checkOctFields(file: Pick<OctFile, 'header' | 'messageZone' | 'lots'>): void {
  const h = file.header;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(h.fileName)) {
    throw new SesamFieldError('invalid_oct_field', 'fileName', `nom de fichier OCT invalide « ${h.fileName} » (groupe 12 champ 2 : lettres, chiffres, « . _ - », 64 au plus)`);
  }
  if (h.application !== 'TO' || h.recipientType !== 'OT') {
    throw new SesamFieldError('invalid_oct_field', 'header', 'en-tête OCT : application TO et type de destinataire OT attendus (groupe 12 champs 5 et 6)');
  }
  if (!/^[0-9A-Za-z]{1,20}$/.test(h.recipientNumber)) {
    throw new SesamFieldError('invalid_oct_field', 'recipientNumber', `numéro d'OCT invalide « ${h.recipientNumber} » (groupe 12 champ 7 : 1 à 20 lettres ou chiffres)`);
  }
  if (!/^[\x20-\x7b\x7d\x7e]{0,256}$/.test(file.messageZone)) {
    throw new SesamFieldError('invalid_oct_field', 'messageZone', 'zone message invalide (groupe 14 champ 3 : ASCII imprimable sans « | », 256 caractères au plus)');
  }
  if (file.lots.length === 0) throw new SesamFieldError('invalid_lot', 'lots', 'le fichier OCT doit contenir au moins un lot FSE ou DRE');
  for (const lot of file.lots) {
    if (lot.kind !== 'FSE' && lot.kind !== 'DRE') throw new SesamFieldError('invalid_lot', 'lots', `type de lot inconnu « ${String(lot.kind)} »`);
    if (lot.data.length === 0) throw new SesamFieldError('invalid_lot', 'lots', 'lot vide');
  }
}

const MAGIC = '#TELETRANS-OCT-SIM 1';
const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

function malformed(why: string): SesamMessageError {
  return new SesamMessageError('oct_frame_malformed', `fichier OCT (format du simulateur) illisible : ${why}`);
}

export const simulatorOctFramer: OctFramer = {
  format: 'teletrans-oct-sim-1',

  frame(file) {
    checkOctFields(file);
    const h = file.header;
    const chunks: Uint8Array[] = [enc(`${MAGIC}\r\n12|2=${h.fileName}|5=${h.application}|6=${h.recipientType}|7=${h.recipientNumber}\r\n`)];
    for (const lot of file.lots) {
      chunks.push(enc(`LOT|${lot.kind}|${lot.data.length}\r\n`), lot.data, enc('\r\n'));
    }
    chunks.push(enc(`14|3=${file.messageZone}|LOTS=${file.lots.length}\r\n`));
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  },

  unframe(bytes) {
    let pos = 0;
    const line = (): string => {
      let end = pos;
      while (end + 1 < bytes.length && !(bytes[end] === 13 && bytes[end + 1] === 10)) {
        if (end - pos > 1024) throw malformed('ligne de texte trop longue');
        end++;
      }
      if (end + 1 >= bytes.length) throw malformed('fin de fichier inattendue');
      const text = String.fromCharCode(...bytes.subarray(pos, end));
      pos = end + 2;
      return text;
    };
    if (line() !== MAGIC) throw malformed('signature de format absente');
    const head = /^12\|2=([^|]*)\|5=([^|]*)\|6=([^|]*)\|7=([^|]*)$/.exec(line());
    if (!head) throw malformed('en-tête (groupe 12) attendu');
    const lots: OctLot[] = [];
    for (;;) {
      const l = line();
      const lot = /^LOT\|(FSE|DRE)\|(\d{1,10})$/.exec(l);
      if (lot) {
        const n = Number(lot[2]);
        if (pos + n + 2 > bytes.length) throw malformed('lot tronqué');
        lots.push({ kind: lot[1] as LotKind, data: bytes.slice(pos, pos + n) });
        pos += n;
        if (bytes[pos] !== 13 || bytes[pos + 1] !== 10) throw malformed('fin de lot attendue');
        pos += 2;
        continue;
      }
      const trailer = /^14\|3=([^|]*)\|LOTS=(\d+)$/.exec(l);
      if (!trailer) throw malformed('lot ou pied (groupe 14) attendu');
      if (Number(trailer[2]) !== lots.length) throw malformed(`le pied annonce ${trailer[2]} lots, ${lots.length} trouvés`);
      if (pos !== bytes.length) throw malformed('données après le pied');
      const file: OctFile = {
        header: { fileName: head[1] ?? '', application: head[2] as 'TO', recipientType: head[3] as 'OT', recipientNumber: head[4] ?? '' },
        lots,
        messageZone: trailer[1] ?? '',
      };
      try {
        checkOctFields(file);
      } catch (e) {
        throw malformed((e as Error).message);
      }
      return file;
    }
  },
};

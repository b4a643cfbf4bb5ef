/** Human-readable French report of a validation result, for the terminal. */
import type { VerifyIssue, VerifyResult } from '../pki/types.js';

export interface ReportContext {
  at?: string;
  profile: string;
  email?: string;
}

function issueLine(i: VerifyIssue): string {
  const where =
    i.cert !== undefined || i.subject
      ? ` (certificat${i.cert !== undefined ? ` n° ${i.cert}` : ''}${i.subject ? ` : ${i.subject}` : ''})`
      : '';
  return `  - [${i.code}] ${i.message}${where}`;
}

export function frenchReport(r: VerifyResult, c: ReportContext): string {
  const lines: string[] = [];
  const status = r.valid
    ? r.warnings.length
      ? 'Chaîne valide, avec avertissement(s)'
      : 'Chaîne valide'
    : 'Chaîne invalide';
  lines.push(`${status}`);
  lines.push(
    `Profil : ${c.profile}${c.email ? ` (adresse attendue : ${c.email})` : ''} — date de vérification : ${c.at ?? 'maintenant'}`,
  );
  if (r.path.length) {
    lines.push('', r.valid ? 'Chemin de certification (feuille → ancre) :' : 'Meilleur chemin trouvé (feuille → ancre) :');
    r.path.forEach((p, n) => {
      lines.push(`  [${n}] ${p.subject}${p.anchor ? '  (ancre de confiance)' : ''}`);
      lines.push(`      émetteur : ${p.issuer}`);
      lines.push(`      n° de série : ${p.serial} ; validité : du ${p.notBefore} au ${p.notAfter}`);
      lines.push(`      SHA-256 : ${p.sha256}`);
    });
  } else {
    lines.push('', 'Aucun chemin de certification construit.');
  }
  if (r.errors.length) lines.push('', `Erreurs (${r.errors.length}) :`, ...r.errors.map(issueLine));
  if (r.warnings.length) lines.push('', `Avertissements (${r.warnings.length}) :`, ...r.warnings.map(issueLine));
  return lines.join('\n');
}

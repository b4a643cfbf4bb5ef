import { describe, expect, it } from 'vitest';
import {
  buildVerifyInput,
  describeError,
  errorRow,
  inputKey,
  missingInput,
  parseLocalDateTime,
  removeRow,
  rowsFromDecoded,
  setRole,
  type CertificateRow,
  type Row,
  type VerifyOptions
} from '$lib/client/certificates';

const der = (byte: number) => new Uint8Array([0x30, byte]);
const NOW: VerifyOptions = { profile: 'rfc5280', email: '', at: '' };

function sampleRows(): Row[] {
  return [
    ...rowsFromDecoded('root.crt', [{ kind: 'certificate', der: der(1), label: 'CN=Root' }]),
    ...rowsFromDecoded('bundle.pem', [
      { kind: 'certificate', der: der(2), label: 'CN=CA' },
      { kind: 'certificate', der: der(3), label: 'CN=Leaf' },
      { kind: 'crl', der: der(4), label: 'CN=Root' }
    ])
  ];
}

const cert = (rows: Row[], label: string) =>
  rows.find((row): row is CertificateRow => row.kind === 'certificate' && row.label === label)!;

describe('certificates page state', () => {
  it('lists decoded items with their source; certificates start as intermediates', () => {
    const rows = sampleRows();
    expect(rows.map((row) => [row.source, row.kind])).toEqual([
      ['root.crt', 'certificate'],
      ['bundle.pem', 'certificate'],
      ['bundle.pem', 'certificate'],
      ['bundle.pem', 'crl']
    ]);
    expect(new Set(rows.map((row) => row.id)).size).toBe(4);
    expect(rows.filter((row) => row.kind === 'certificate').every((row) => row.role === 'intermediate')).toBe(true);
  });

  it('pre-fills the roles the core suggests, with at most one leaf', () => {
    const rows = rowsFromDecoded('chain.pem', [
      { kind: 'certificate', der: der(1), label: 'CN=Root', suggestedRole: 'anchor' },
      { kind: 'certificate', der: der(2), label: 'CN=CA', suggestedRole: 'intermediate' },
      { kind: 'certificate', der: der(3), label: 'CN=Leaf', suggestedRole: 'leaf' },
      { kind: 'certificate', der: der(5), label: 'CN=Other', suggestedRole: 'leaf' }
    ]);
    expect(['CN=Root', 'CN=CA', 'CN=Leaf', 'CN=Other'].map((l) => cert(rows, l).role)).toEqual(['anchor', 'intermediate', 'leaf', 'intermediate']);
    const more = rowsFromDecoded('again.pem', [{ kind: 'certificate', der: der(6), label: 'CN=Again', suggestedRole: 'leaf' }], rows);
    expect(cert(more, 'CN=Again').role).toBe('intermediate');
  });

  it('keeps exactly one leaf', () => {
    let rows = sampleRows();
    rows = setRole(rows, cert(rows, 'CN=Leaf').id, 'leaf');
    rows = setRole(rows, cert(rows, 'CN=CA').id, 'leaf');
    expect(cert(rows, 'CN=CA').role).toBe('leaf');
    expect(cert(rows, 'CN=Leaf').role).toBe('intermediate');
  });

  it('says in French what is missing before verification', () => {
    let rows = sampleRows();
    expect(missingInput(rows)).toBe('Indiquez le certificat à vérifier et au moins une ancre de confiance.');
    rows = setRole(rows, cert(rows, 'CN=Leaf').id, 'leaf');
    expect(missingInput(rows)).toBe('Indiquez au moins une ancre de confiance.');
    rows = setRole(rows, cert(rows, 'CN=Root').id, 'anchor');
    expect(missingInput(rows)).toBeNull();
    rows = removeRow(rows, cert(rows, 'CN=Leaf').id);
    expect(missingInput(rows)).toBe('Indiquez le certificat à vérifier.');
  });

  it('builds the core input from the roles and options', () => {
    let rows = sampleRows();
    rows = setRole(rows, cert(rows, 'CN=Leaf').id, 'leaf');
    rows = setRole(rows, cert(rows, 'CN=Root').id, 'anchor');
    rows = [...rows, errorRow('broken.der', new Error('boom'))];
    expect(buildVerifyInput(rows, NOW)).toEqual({
      leaf: der(3),
      anchors: [der(1)],
      intermediates: [der(2)],
      crls: [der(4)],
      profile: 'rfc5280'
    });
    const sesam = buildVerifyInput(rows, {
      profile: 'sesam-vitale-attachment',
      email: ' ps@exemple.mssante.fr ',
      at: '2020-06-01T12:30'
    });
    expect(sesam.email).toBe('ps@exemple.mssante.fr');
    expect(sesam.at).toEqual(new Date(2020, 5, 1, 12, 30, 0));
    // The e-mail address only matters to the SESAM-Vitale profile.
    expect(buildVerifyInput(rows, { ...NOW, email: 'ps@exemple.fr' }).email).toBeUndefined();
  });

  it('parses datetime-local values as local time', () => {
    expect(parseLocalDateTime('')).toBeUndefined();
    expect(parseLocalDateTime('not a date')).toBeUndefined();
    expect(parseLocalDateTime('2011-01-01T00:00:05')).toEqual(new Date(2011, 0, 1, 0, 0, 5));
  });

  it('keeps the code and French message of core errors, and hides others', () => {
    const pkiLike = Object.assign(new Error('Le fichier n’est ni DER ni PEM.'), { code: 'input_unrecognised' });
    expect(describeError(pkiLike)).toEqual({ code: 'input_unrecognised', message: 'Le fichier n’est ni DER ni PEM.' });
    expect(describeError(new TypeError('x is undefined'))).toEqual({
      code: 'unexpected_error',
      message: 'Erreur inattendue lors de la lecture du fichier.'
    });
    expect(errorRow('a.pem', pkiLike)).toMatchObject({ kind: 'error', source: 'a.pem', code: 'input_unrecognised' });
  });

  it('changes the input key when anything verification depends on changes', () => {
    let rows = sampleRows();
    const key = inputKey(rows, NOW);
    expect(inputKey(rows, NOW)).toBe(key);
    rows = setRole(rows, cert(rows, 'CN=Root').id, 'anchor');
    expect(inputKey(rows, NOW)).not.toBe(key);
    expect(inputKey(rows, { ...NOW, at: '2020-01-01T00:00' })).not.toBe(inputKey(rows, NOW));
  });
});

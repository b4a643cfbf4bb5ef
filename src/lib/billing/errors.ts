/**
 * The billing domain's one error type. `code` is stable and machine-readable (callers, tests
 * and the UI branch on it); `message` is French, for the practitioner; `field` says which input
 * was refused (a path such as "acts[2].coefficient") so a form can point at it.
 *
 * Messages never carry a NIR or a patient's name: errors end up in logs (docs/domain/security.md EL1).
 */
export type BillingErrorCode =
  // model: practitioner
  | 'rpps_format'
  | 'rpps_key'
  | 'profession_unknown'
  | 'specialty_format'
  | 'name_invalid'
  | 'billing_number_format'
  | 'sector_invalid'
  | 'tariff_zone_format'
  | 'situation_not_on_card'
  // model: beneficiary
  | 'nir_format'
  | 'nir_key'
  | 'birth_date_format'
  | 'rank_invalid'
  | 'beneficiary_not_on_card'
  | 'quality_unknown'
  | 'scheme_format'
  | 'fund_format'
  | 'centre_format'
  | 'period_invalid'
  | 'exemption_unknown'
  | 'amc_identifier_format'
  | 'amc_contract_format'
  | 'amc_cover_invalid'
  // model: invoice and acts
  | 'invoice_id_invalid'
  | 'date_invalid'
  | 'time_invalid'
  | 'act_code_format'
  | 'coefficient_invalid'
  | 'distance_invalid'
  | 'amount_invalid'
  | 'billing_context_unknown'
  | 'nature_unknown'
  | 'care_pathway_unknown'
  | 'prescriber_invalid'
  | 'state_unknown'
  | 'transition_forbidden'
  // catalogue
  | 'catalogue_invalid'
  // checks before signing (checks.ts) and pricing
  | 'no_acts'
  | 'rights_closed'
  | 'amc_rights_closed'
  | 'act_in_future'
  | 'code_unknown'
  | 'code_not_in_force'
  | 'code_not_for_profession'
  | 'coefficient_out_of_range'
  | 'fse_dre_incompatible'
  | 'dre_without_amc'
  | 'third_party_not_allowed'
  | 'duplicate_act'
  | 'duplicate_invoice'
  | 'prescriber_required'
  | 'prescription_after_act'
  | 'care_pathway_required'
  | 'exemption_not_open'
  | 'overrun_not_allowed'
  | 'sector_unsupported'
  | 'checks_failed'
  // numbering (numbering.ts)
  | 'counter_invalid'
  // NGAP combination rules, sector 3, yearly caps (pricing/checks)
  | 'combination_forbidden'
  // simulator format and the insurer's reader (ssv/sim-*.ts, reader.ts)
  | 'format_invalid'
  // lots, files and routing (lots.ts, routing-data.ts)
  | 'routing_unknown'
  // SSV engines (ssv/*.ts)
  | 'ssv_unavailable'
  // signatures (signing.ts)
  | 'signature_failed'
  // the JSON form of an invoice (invoice-json.ts)
  | 'json_invalid';

export class BillingError extends Error {
  readonly code: BillingErrorCode;
  /** The refused input, as a path into the value given (e.g. "acts[0].date"); '' for the whole. */
  readonly field: string;
  /** For `checks_failed`: every problem found, in order. */
  readonly issues: readonly BillingError[];
  constructor(code: BillingErrorCode, field: string, message: string, issues: readonly BillingError[] = []) {
    super(message);
    this.name = 'BillingError';
    this.code = code;
    this.field = field;
    this.issues = issues;
  }

  /** A plain object, e.g. to cross the Chromium page boundary or to print as JSON. */
  toJSON(): { code: BillingErrorCode; field: string; message: string; issues?: unknown[] } {
    const out: { code: BillingErrorCode; field: string; message: string; issues?: unknown[] } = {
      code: this.code,
      field: this.field,
      message: this.message
    };
    if (this.issues.length > 0) out.issues = this.issues.map((i) => i.toJSON());
    return out;
  }
}

export function fail(code: BillingErrorCode, field: string, message: string): never {
  throw new BillingError(code, field, message);
}

/**
 * Typed errors of the directory fetch. `code` is stable and machine-readable (the browser
 * switches on it); `message` is French, for the practitioner; `detail` is English, for the
 * relay's log only (never sent to the client, never contains personal data).
 */
export type DirectoryErrorCode =
  | 'url_invalid'
  | 'host_not_allowed'
  | 'scheme_not_allowed'
  | 'too_large'
  | 'timeout'
  | 'not_found'
  | 'upstream_error'
  // Endpoint-level refusals (never thrown by the fetchers themselves).
  | 'method_not_allowed'
  | 'origin_not_allowed'
  | 'rate_limited'
  | 'config_invalid';

/** HTTP status the endpoint answers with for each code. */
export const DIRECTORY_ERROR_STATUS: Readonly<Record<DirectoryErrorCode, number>> = {
  url_invalid: 400,
  host_not_allowed: 400,
  scheme_not_allowed: 400,
  too_large: 413,
  timeout: 504,
  not_found: 404,
  upstream_error: 502,
  method_not_allowed: 405,
  origin_not_allowed: 403,
  rate_limited: 429,
  config_invalid: 500
};

/** Default French message for each code, used when the thrower gives none. */
export const DIRECTORY_ERROR_MESSAGE: Readonly<Record<DirectoryErrorCode, string>> = {
  url_invalid: "L'adresse de l'annuaire est invalide.",
  host_not_allowed: "Ce serveur d'annuaire n'est pas autorisé.",
  scheme_not_allowed: "Ce protocole n'est pas autorisé (seuls ldap, ldaps, http et https le sont).",
  too_large: "La réponse de l'annuaire dépasse la taille autorisée.",
  timeout: "L'annuaire n'a pas répondu à temps.",
  not_found: "L'élément demandé est introuvable dans l'annuaire.",
  upstream_error: "L'annuaire a répondu par une erreur ou une réponse inattendue.",
  method_not_allowed: 'Méthode non autorisée : seule la lecture (GET) est acceptée.',
  origin_not_allowed: "Requête refusée : elle ne provient pas de l'application.",
  rate_limited: "Trop de demandes à l'annuaire : réessayez dans quelques instants.",
  config_invalid: "Le relais est mal configuré pour l'accès aux annuaires : contactez votre fournisseur."
};

export class DirectoryError extends Error {
  readonly code: DirectoryErrorCode;
  /** English technical detail for the relay's log; not sent to the client. */
  readonly detail: string | undefined;
  constructor(code: DirectoryErrorCode, message?: string, detail?: string) {
    super(message ?? DIRECTORY_ERROR_MESSAGE[code]);
    this.name = 'DirectoryError';
    this.code = code;
    this.detail = detail;
  }

  get status(): number {
    return DIRECTORY_ERROR_STATUS[this.code];
  }
}

export function isDirectoryError(e: unknown): e is DirectoryError {
  return e instanceof DirectoryError;
}

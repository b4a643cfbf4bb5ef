/** Machine-readable description of the relay API, served at /api/relay/openapi.json. */
const err = { $ref: '#/components/schemas/Error' };
const errResp = (d: string) => ({ description: d, content: { 'application/json': { schema: err } } });
const bearer = [{ session: [] }];

export const openapi = {
  openapi: '3.1.0',
  info: { title: 'Teletrans relay', version: '1.0.0',
    description: 'Durable intake of packaged (already encrypted) messages, SMTP delivery, and return pick-up. ' +
      'Authenticate with the CPS (Web eID style): get a nonce, sign SHA-256(origin) || SHA-256(nonce) with the card authentication key, exchange it for a session token (15 min idle, 4 h max; ended by logout or when the card is revoked). ' +
      'Only encrypted lots are accepted: the relay never sees plaintext.' },
  servers: [{ url: '/api/relay' }],
  components: {
    securitySchemes: { session: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: { type: 'object', required: ['error', 'detail'], properties: {
        error: { type: 'string', description: 'stable reason code' }, detail: { type: 'string' },
        reason: { type: 'string', description: 'intake refusals (422): profile-malformed, profile-multiple-attachments, profile-not-encrypted, profile-not-enveloped-data, profile-extra-part, profile-header-malformed' },
        cause: { type: ['string', 'null'], description: 'the core parser’s code behind a profile refusal' },
        reasons: { type: 'array', items: { type: 'string' }, description: 'certificate refusals: the pki core’s reason codes (e.g. key_usage_not_authentication, policy_not_authentication, issuer_not_card_ca, eku_not_client_auth, weak_key, weak_signature_algorithm, cert_revoked)' } } },
      Challenge: { type: 'object', required: ['nonce', 'origin', 'expiresAt'], properties: {
        nonce: { type: 'string' }, origin: { type: 'string' }, expiresAt: { type: 'integer', description: 'ms since epoch' } } },
      TokenRequest: { type: 'object', required: ['certificate', 'nonce', 'origin', 'algorithm', 'signature'], properties: {
        certificate: { type: 'string', contentEncoding: 'base64', description: 'DER of the CPS authentication certificate' },
        intermediates: { type: 'array', items: { type: 'string', contentEncoding: 'base64' } },
        nonce: { type: 'string' }, origin: { type: 'string' },
        algorithm: { enum: ['RS256', 'PS256', 'ES256', 'ES384'] },
        signature: { type: 'string', contentEncoding: 'base64', description: 'over SHA-256(origin) || SHA-256(nonce); ECDSA as r||s' } } },
      Token: { type: 'object', required: ['token', 'practitioner', 'from', 'expiresAt'], properties: {
        token: { type: 'string' }, practitioner: { type: 'string' }, from: { type: 'string', description: 'the mailbox a message must carry as its From' }, expiresAt: { type: 'integer' } } },
      Message: { type: 'object', required: ['id', 'idempotencyKey', 'status', 'size', 'to', 'attempts', 'duplicateRisk'], properties: {
        id: { type: 'string', format: 'uuid' }, idempotencyKey: { type: 'string' }, messageId: { type: ['string', 'null'] },
        subject: { type: ['string', 'null'] }, size: { type: 'integer' }, to: { type: 'array', items: { type: 'string' } },
        status: { enum: ['queued', 'sending', 'delivered', 'deferred', 'failed', 'bounced'] },
        attempts: { type: 'integer' }, nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
        lastReply: { type: ['string', 'null'], description: 'SMTP answer (delivered), reason (failed/deferred) or DSN status (bounced)' },
        duplicateRisk: { type: 'boolean', description: 'the server may have accepted an earlier attempt whose answer was lost; the copies share the Message-ID' },
        createdAt: { type: 'string', format: 'date-time' }, updatedAt: { type: 'string', format: 'date-time' } } },
      Return: { type: 'object', required: ['id', 'sourceKey', 'size', 'receivedAt'], properties: {
        id: { type: 'string' }, sourceKey: { type: 'string' }, messageId: { type: ['string', 'null'] }, subject: { type: ['string', 'null'] },
        size: { type: 'integer' }, receivedAt: { type: 'string', format: 'date-time' }, acknowledgedAt: { type: ['string', 'null'], format: 'date-time' },
        relatedMessage: { type: ['string', 'null'], description: 'our message a DSN refers to' } } },
    },
  },
  paths: {
    '/auth/challenge': { post: { summary: 'Fresh nonce bound to the request Origin (or `origin` in a JSON body of at most 1 KiB)', responses: {
      200: { description: 'challenge', content: { 'application/json': { schema: { $ref: '#/components/schemas/Challenge' } } } },
      403: errResp('origin not allowed'), 413: errResp('body over the cap'),
      429: errResp('too many authentication requests from this address (Retry-After)') } } },
    '/auth/token': { post: { summary: 'Exchange a signed challenge for a session',
      description: 'The certificate must be the card’s authentication certificate (keyUsage digitalSignature; not the nonRepudiation-only signature certificate), ' +
        'RSA ≥ 2048 or ECDSA, no SHA-1 in its path, valid and not revoked; the practitioner is named by its national identifier (RPPS) or the certificate’s issuer and serial.',
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/TokenRequest', maxLength: 32768 } } } },
      responses: { 200: { description: 'session', content: { 'application/json': { schema: { $ref: '#/components/schemas/Token' } } } },
        400: errResp('malformed'), 401: errResp('nonce, signature, certificate profile, chain or revocation rejected (`reasons`)'), 403: errResp('unknown practitioner'),
        413: errResp('body over the cap (32 KiB)'), 429: errResp('too many authentication requests from this address (Retry-After)') } } },
    '/auth/logout': { post: { summary: 'End this session (the token stops working at once)', security: bearer, responses: {
      200: { description: 'logged out', content: { 'application/json': { schema: { type: 'object', required: ['loggedOut', 'sessionEnded'], properties: {
        loggedOut: { const: true }, sessionEnded: { type: 'boolean', description: 'false when the session had already ended' } } } } } },
      401: errResp('no bearer token') } } },
    '/messages': {
      post: { summary: 'Queue a packaged message (stored durably before 2xx)', security: bearer,
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 8, maxLength: 128 },
          description: 'chosen by the client; a retry with the same key and bytes gets the same message back' }],
        requestBody: { required: true, content: { 'message/rfc822': { schema: { type: 'string', format: 'binary', maxLength: 10485760 } } } },
        responses: { 202: { description: 'stored (new, or replayed with header Idempotent-Replayed: true)',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Message' } } } },
        400: errResp('bad key or empty'), 401: errResp('no or expired session'), 409: errResp('key reused for other bytes'),
        413: errResp('too large'), 415: errResp('not message/rfc822'),
        422: errResp('envelope rejected (From, recipients, Message-ID), or not an encrypted SESAM-Vitale lot: one Application/EDI-consent entity, flag K, a CMS EnvelopedData (`reason`)') } },
      get: { summary: 'Recent messages and their status', security: bearer, responses: { 200: { description: 'list',
        content: { 'application/json': { schema: { type: 'object', properties: { messages: { type: 'array', items: { $ref: '#/components/schemas/Message' } } } } } } } } },
    },
    '/messages/{id}': { get: { summary: 'Status of one message', security: bearer,
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'message', content: { 'application/json': { schema: { $ref: '#/components/schemas/Message' } } } }, 404: errResp('unknown') } } },
    '/returns': { get: { summary: 'Returns not yet acknowledged (all=1: every return)', security: bearer,
      parameters: [{ name: 'all', in: 'query', schema: { enum: ['1'] } }],
      responses: { 200: { description: 'list', content: { 'application/json': { schema: { type: 'object', properties: { returns: { type: 'array', items: { $ref: '#/components/schemas/Return' } } } } } } } } } },
    '/audit/anchor': { post: { summary: 'Anchor a workstation audit journal head (device, journal, seq, head; previousJournal after a reset): no content, kept append-only; answers a signed receipt', security: bearer,
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['device', 'journal', 'seq', 'head'],
        properties: { device: { type: 'string', format: 'uuid' }, journal: { type: 'string', format: 'uuid' }, seq: { type: 'integer', minimum: -1 }, head: { type: 'string', pattern: '^[0-9a-f]{64}$' }, previousJournal: { type: 'string', format: 'uuid' } } } } } },
      responses: { 200: { description: 'receipt (ECDSA P-256 over "teletrans-audit-receipt v1\\n" + canonical JSON, IEEE P1363 signature)' }, 400: errResp('malformed'),
        409: errResp('anchor-continuity (send continuity: your record at the latest anchored point), anchor-regressed (earlier point of the same journal), anchor-forked (same point or continuity with another hash), anchor-journal-changed (another journal, not a reset of this one)') } } },
    '/audit/receipt-key': { get: { summary: 'The public key (SPKI DER, base64) anchor receipts are signed with', responses: { 200: { description: 'key' } } } },
    '/returns/pickup': { post: { summary: 'Pick up returns from the mailbox now', security: bearer, responses: { 200: { description: 'counts' } } } },
    '/returns/{id}': { get: { summary: 'Raw return message', security: bearer,
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'message', content: { 'message/rfc822': { schema: { type: 'string', format: 'binary' } } } }, 404: errResp('unknown') } } },
    '/returns/{id}/ack': { post: { summary: 'Acknowledge a return (kept, no longer listed)', security: bearer,
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'acknowledged' }, 404: errResp('unknown') } } },
    '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
  },
} as const;

export type * from './types.js';
export { SqliteStore } from './sqlite.js';
export { PostgresStore } from './postgres.js';

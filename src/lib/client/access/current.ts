/**
 * Who the open card session makes on this device (access/roles.ts), for the adapters that act
 * outside the billing workspace (the trust store's pages): set by the workspace when its card
 * session opens and closes, read at the moment of each action. Null while locked.
 */
import { writable } from 'svelte/store';
import type { Actor } from '../../access/roles.js';

export const currentActor = writable<Actor | null>(null);

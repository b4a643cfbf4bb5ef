/**
 * Page side of the emulated Web Smart Card API (issue 17): `navigator.smartCard` with the WICG
 * draft's shapes, each call forwarded to the test process (`__smartcard`, Playwright
 * exposeFunction) where ../fixtures/smartcard-backend.ts runs it on the real pcscd + vpcd.
 * Errors come back as SmartCardError (a DOMException with `responseCode`), as the draft has them.
 */
import type { SmartCardConnectionLike, SmartCardContextLike, SmartCardDisposition, SmartCardReaderStateIn, SmartCardReaderStateOut, SmartCardResourceManagerLike } from '../../../src/lib/card/smartcard/transport.js';

type Bridge = (op: string, argsJson: string) => Promise<string>;

export class SmartCardError extends DOMException {
  readonly responseCode: string;
  constructor(message: string, options: { responseCode: string }) {
    super(message, 'SmartCardError');
    this.responseCode = options.responseCode;
  }
}

const hex = (b: ArrayBuffer | ArrayBufferView): string => {
  const u = b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return Array.from(u, (x) => x.toString(16).padStart(2, '0')).join('');
};
const buf = (h: string): ArrayBuffer => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16)).buffer;

async function call<T>(op: string, ...args: unknown[]): Promise<T> {
  try {
    return JSON.parse(await (globalThis as unknown as { __smartcard: Bridge }).__smartcard(op, JSON.stringify(args))) as T;
  } catch (e) {
    const m = /SmartCardError:([a-z-]+):(.*)/.exec((e as Error).message);
    if (m) throw new SmartCardError(m[2]!, { responseCode: m[1]! });
    throw e;
  }
}

/** The emulated API's own time for each transmit, measured in the page (the bench's reference). */
export const transmitMs: number[] = [];

function connection(name: string): SmartCardConnectionLike {
  return {
    disconnect: (d: SmartCardDisposition = 'leave') => call<void>('disconnect', name, d),
    transmit: async (b) => {
      const t0 = performance.now();
      try {
        return buf(await call<string>('transmit', name, hex(b)));
      } finally {
        transmitMs.push(performance.now() - t0);
      }
    },
    control: async (code, data) => buf(await call<string>('control', name, code, hex(data))),
    // pcsclite (the backend's binding) has no SCardBeginTransaction: the callback runs as is.
    startTransaction: async (cb) => {
      await cb();
    },
  };
}

const context: SmartCardContextLike = {
  listReaders: () => call<string[]>('listReaders'),
  getStatusChange: (states: SmartCardReaderStateIn[], options = {}) => {
    const p = call<Array<Omit<SmartCardReaderStateOut, 'answerToReset'> & { answerToReset?: string }>>('getStatusChange', states, options.timeout)
      .then((outs) => outs.map(({ answerToReset, ...o }): SmartCardReaderStateOut => ({ ...o, ...(answerToReset ? { answerToReset: buf(answerToReset) } : {}) })));
    const signal = options.signal as AbortSignal | undefined;
    if (!signal) return p;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        void call('cancelWaits');
        reject(new DOMException('aborted', 'AbortError'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  },
  connect: async (name) => {
    const { protocol } = await call<{ protocol: 'raw' | 't0' | 't1' }>('connect', name);
    return { connection: connection(name), activeProtocol: protocol };
  },
};

export const emulatedSmartCard: SmartCardResourceManagerLike = { establishContext: async () => context };

/** Installs `navigator.smartCard` as an isolated context would have it. */
export function installEmulatedSmartCard(): void {
  Object.defineProperty(navigator, 'smartCard', { value: emulatedSmartCard, configurable: true });
}

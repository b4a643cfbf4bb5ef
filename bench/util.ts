/** Small helpers the benchmarks share. */

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** `until(what, f)`: polls `f` every `pollMs` until true; after `waitMs`, fails naming the bench and `what`. */
export function waiter(bench: string, waitMs: number, pollMs: number): (what: string, f: () => Promise<boolean>) => Promise<void> {
  return async (what, f) => {
    const end = Date.now() + waitMs;
    while (!(await f())) {
      if (Date.now() > end) throw new Error(`bench ${bench}: ${what}: not within ${waitMs} ms`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  };
}

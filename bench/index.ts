/**
 * Benchmarks: `npm run bench` runs every group, `npm run bench -- pki [other…]` only those.
 * Each row is printed as one JSON line on stdout as soon as it exists; progress goes to stderr.
 *
 * A benchmark is `(emit?) => Promise<object[]>`: it may emit rows early through `emit`
 * (printed at once) and returns its rows (those not emitted yet are printed on return).
 * Modules are imported lazily, so a broken or missing module fails its own part only.
 */
type Row = object;
type Bench = (emit?: (row: Row) => void) => Promise<Row[]>;

interface Part {
  name: string;
  load: () => Promise<Bench>;
}

const groups: Record<string, Part[]> = {
  pki: [
    { name: 'chain-validate', load: async () => (await import('./chain-validate.js')).benchChainValidate },
    { name: 'crl-parse', load: async () => (await import('./crl-parse.js')).benchCrlParse },
  ],
  cms: [{ name: 'cms-encrypt', load: async () => (await import('./cms.js')).benchCms }],
  crl: [{ name: 'crl', load: async () => (await import('./crl.js')).benchCrl }],
  relay: [{ name: 'relay', load: async () => (await import('./relay.js')).benchRelay }],
  bridge: [{ name: 'bridge', load: async () => (await import('./bridge.js')).benchBridge }],
  transports: [{ name: 'transports', load: async () => (await import('./transports.js')).benchTransports }],
  billing: [{ name: 'billing-day', load: async () => (await import('./billing.js')).benchBilling }],
  returns: [{ name: 'returns', load: async () => (await import('./returns.js')).benchReturns }],
  kiosk: [{ name: 'kiosk', load: async () => (await import('./kiosk.js')).benchKiosk }],
  mssante: [{ name: 'mssante', load: async () => (await import('./mssante.js')).benchMssante }],
  app: [
    { name: 'app', load: async () => (await import('./app.js')).benchApp },
    { name: 'app-flow', load: async () => (await import('./app-flow.js')).benchAppFlow },
  ],
};

async function main(argv: string[]): Promise<number> {
  const wanted = argv.length ? argv : Object.keys(groups);
  const unknown = wanted.filter((g) => !Object.hasOwn(groups, g));
  if (unknown.length) {
    process.stderr.write(`bench: unknown group(s) ${unknown.join(', ')}; known: ${Object.keys(groups).join(', ')}\n`);
    return 2;
  }
  let failures = 0;
  for (const group of wanted) {
    for (const part of groups[group]!) {
      process.stderr.write(`bench: ${group}/${part.name}…\n`);
      const printed = new Set<Row>();
      const emit = (row: Row): void => {
        printed.add(row);
        process.stdout.write(JSON.stringify(row) + '\n');
      };
      try {
        const bench = await part.load();
        const rows = await bench(emit);
        for (const row of rows) if (!printed.has(row)) emit(row);
      } catch (e) {
        failures++;
        process.stderr.write(`bench: ${group}/${part.name} failed: ${(e as Error)?.stack ?? String(e)}\n`);
      }
    }
  }
  return failures ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));

export {};

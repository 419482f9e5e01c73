// Kubernetes resource quantities ("500m", "1Gi", "2e3") as plain numbers.

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** Parses a quantity; throws on malformed input. */
export function parseQuantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^([+-]?[0-9.]+)(?:[eE]([+-]?[0-9]+))?([a-zA-Z]*)$/.exec(q.trim());
  if (!m || !(m[3] in SUFFIX)) throw new Error(`invalid quantity ${JSON.stringify(q)}`);
  const base = Number(m[1]) * (m[2] ? 10 ** Number(m[2]) : 1);
  if (Number.isNaN(base)) throw new Error(`invalid quantity ${JSON.stringify(q)}`);
  return base * SUFFIX[m[3]];
}

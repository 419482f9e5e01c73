// The metric and label names a PromQL expression uses, so the chart's alerts and dashboard can
// be checked against what the operator exports. Not a parser (promtool checks syntax): it drops
// strings, numbers, ranges and keywords, and whatever identifier is left and not followed by "("
// (a function or aggregation) is a metric name.

const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "atan2", "inf", "nan"]);
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

const withoutStrings = (expr: string): string => expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
const withoutComments = (expr: string): string => expr.replace(/#[^\n]*/g, " ");

/** Metric names an expression selects, in order of first use. */
export function metricNamesIn(expr: string): string[] {
  const s = withoutComments(withoutStrings(expr))
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(GROUPING, " ")
    .replace(/\boffset\s+-?\w+/gi, " ")
    .replace(/@\s*(?:start|end)\s*\(\s*\)|@\s*[0-9.]+/g, " ")
    .replace(/\b0x[0-9a-f]+\b|(?<![\w:])(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?(?![\w:])/gi, " ");
  const names: string[] = [];
  for (const m of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = m[0];
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (/^\s*\(/.test(s.slice(m.index + name.length))) continue;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** Label names an expression matches on or groups by (inside {...} and by/on/... lists). */
export function labelNamesIn(expr: string): string[] {
  const s = withoutComments(withoutStrings(expr));
  const names: string[] = [];
  const add = (n: string): void => {
    if (n && !names.includes(n)) names.push(n);
  };
  for (const m of s.matchAll(/\{([^}]*)\}/g)) for (const part of m[1].split(",")) add(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/.exec(part)?.[1] ?? "");
  for (const m of s.matchAll(GROUPING)) for (const part of m[2].split(",")) add(part.trim());
  return names;
}

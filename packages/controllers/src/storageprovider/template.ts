// Pure: renders a StorageProvider's Go-style templates (the subset KubeBlocks 0.6's
// providers use): fields, variables, if/else if/else, pipelines and a few sprig
// functions. Anything else is a TemplateError naming the template and position.
import { Buffer } from "node:buffer";
import { parse as parseYaml } from "yaml";

export type TemplateValue = string | number | boolean | undefined | null | TemplateMap;
export interface TemplateMap {
  [key: string]: TemplateValue;
}

/** What a provider template sees: `.Parameters`, `.GeneratedStorageClassName`, `.CSIDriverSecretRef`. */
export interface TemplateValues extends TemplateMap {
  Parameters: Record<string, string>;
  GeneratedStorageClassName: string;
  CSIDriverSecretRef: { Name: string; Namespace: string };
}

export class TemplateError extends Error {
  constructor(
    readonly template: string,
    readonly line: number,
    readonly column: number,
    detail: string,
  ) {
    super(`template ${template} line ${line} column ${column}: ${detail}`);
    this.name = "TemplateError";
  }
}

/**
 * A template that renders, but not into what its field must hold (a YAML map): reported like a
 * template error (the repo Failed with TemplateError naming the field), never an uncaught throw.
 */
export class TemplateShapeError extends TemplateError {
  constructor(template: string, detail: string) {
    super(template, 0, 0, detail);
    this.message = `${template} ${detail}`;
  }
}

/** Parses a rendered template that must be a YAML map (empty: {}); `what` says what the map holds. */
export function parseRenderedMap(template: string, text: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(text) ?? {};
  } catch (e) {
    throw new TemplateShapeError(template, `renders invalid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new TemplateShapeError(template, `must render a YAML map of ${what}`);
  return parsed as Record<string, unknown>;
}

type Expr =
  | { t: "field"; base: "dot" | string; path: string[] }
  | { t: "lit"; v: TemplateValue }
  | { t: "ident"; name: string }
  | { t: "pipe"; cmds: Expr[][] };
type Node =
  | { t: "text"; s: string }
  | { t: "out"; pipe: Expr; pos: number }
  | { t: "set"; name: string; decl: boolean; pipe: Expr; pos: number }
  | { t: "if"; branches: Array<{ cond: Expr; body: Node[] }>; otherwise: Node[] };

interface Action { body: string; pos: number }

/** Parses `src` (no rendering): throws TemplateError on syntax or functions we do not support. */
export function checkTemplate(name: string, src: string): void {
  new Parser(name, src).parseAll();
}

/** Renders `src` with `values`; `name` is used in error messages (e.g. `StorageProvider "s3" .spec.storageClassTemplate`). */
export function renderTemplate(name: string, src: string, values: TemplateMap): string {
  const p = new Parser(name, src);
  const nodes = p.parseAll();
  const out: string[] = [];
  new Evaluator(name, src, values).run(nodes, out, new Map());
  return out.join("");
}

function lineCol(src: string, pos: number): [number, number] {
  const before = src.slice(0, pos).split("\n");
  return [before.length, before[before.length - 1].length + 1];
}

class Parser {
  private items: Array<{ text: string } | Action> = [];
  private i = 0;
  constructor(private readonly name: string, private readonly src: string) {}

  private fail(pos: number, detail: string): never {
    const [l, c] = lineCol(this.src, pos);
    throw new TemplateError(this.name, l, c, detail);
  }

  private lex(): void {
    let at = 0;
    let text = "";
    const src = this.src;
    while (at < src.length) {
      const open = src.indexOf("{{", at);
      if (open < 0) {
        text += src.slice(at);
        break;
      }
      text += src.slice(at, open);
      let start = open + 2;
      if (src[start] === "-" && /\s/.test(src[start + 1] ?? "")) {
        text = text.replace(/\s+$/, "");
        start++;
      }
      const close = findClose(src, start);
      if (close < 0) this.fail(open, "unclosed action: add }}");
      let end = close;
      let trimAfter = false;
      if (src[close - 1] === "-" && /\s/.test(src[close - 2] ?? "")) {
        end = close - 1;
        trimAfter = true;
      }
      this.items.push({ text });
      text = "";
      this.items.push({ body: src.slice(start, end).trim(), pos: open });
      at = close + 2;
      if (trimAfter) while (at < src.length && /\s/.test(src[at])) at++;
    }
    this.items.push({ text });
  }

  parseAll(): Node[] {
    this.lex();
    const { nodes, stop } = this.parseList();
    if (stop) this.fail(stop.pos, `unexpected {{${stop.body}}}`);
    return nodes;
  }

  // Parses nodes until else/end (returned as stop) or the end of input.
  private parseList(): { nodes: Node[]; stop?: Action } {
    const nodes: Node[] = [];
    while (this.i < this.items.length) {
      const it = this.items[this.i++];
      if ("text" in it) {
        if (it.text) nodes.push({ t: "text", s: it.text });
        continue;
      }
      const body = it.body;
      if (body.startsWith("/*")) {
        if (!body.endsWith("*/")) this.fail(it.pos, "unclosed comment");
        continue;
      }
      const word = body.split(/\s+/, 1)[0];
      if (word === "end" || word === "else") return { nodes, stop: it };
      if (word === "if") {
        nodes.push(this.parseIf(it, body.slice(2)));
        continue;
      }
      if (["range", "with", "define", "template", "block", "break", "continue", "include"].includes(word)) {
        this.fail(it.pos, `"${word}" is not supported in provider templates: use fields, variables, if/else and functions`);
      }
      const m = /^\$([A-Za-z_]\w*)\s*(:?=)(?!=)\s*([\s\S]*)$/.exec(body);
      if (m) nodes.push({ t: "set", name: m[1], decl: m[2] === ":=", pipe: this.parsePipe(m[3], it.pos), pos: it.pos });
      else nodes.push({ t: "out", pipe: this.parsePipe(body, it.pos), pos: it.pos });
    }
    return { nodes };
  }

  private parseIf(at: Action, cond: string): Node {
    const branches: Array<{ cond: Expr; body: Node[] }> = [];
    let condExpr = this.parsePipe(cond, at.pos);
    for (;;) {
      const { nodes, stop } = this.parseList();
      if (!stop) this.fail(at.pos, "if without {{ end }}");
      branches.push({ cond: condExpr, body: nodes });
      if (stop.body === "end") return { t: "if", branches, otherwise: [] };
      const rest = stop.body.slice(4).trim();
      if (rest.startsWith("if ")) {
        condExpr = this.parsePipe(rest.slice(3), stop.pos);
        continue;
      }
      if (rest) this.fail(stop.pos, `unexpected "else ${rest}"`);
      const tail = this.parseList();
      if (!tail.stop || tail.stop.body !== "end") this.fail(at.pos, "if without {{ end }}");
      return { t: "if", branches, otherwise: tail.nodes };
    }
  }

  private parsePipe(s: string, pos: number): Expr {
    const toks = tokenize(s, (d) => this.fail(pos, d));
    let k = 0;
    const parsePipeline = (): Expr => {
      const cmds: Expr[][] = [[]];
      while (k < toks.length && toks[k] !== ")") {
        const tok = toks[k++];
        if (tok === "|") {
          if (!cmds[cmds.length - 1].length) this.fail(pos, "empty command before |");
          cmds.push([]);
        } else if (tok === "(") {
          cmds[cmds.length - 1].push(parsePipeline());
          if (toks[k++] !== ")") this.fail(pos, "missing )");
        } else cmds[cmds.length - 1].push(operand(tok, (d) => this.fail(pos, d)));
      }
      if (!cmds[cmds.length - 1].length) this.fail(pos, "empty pipeline");
      return { t: "pipe", cmds };
    };
    const e = parsePipeline();
    if (k < toks.length) this.fail(pos, "unexpected )");
    return e;
  }
}

function findClose(src: string, from: number): number {
  let q: string | undefined;
  for (let j = from; j < src.length - 1; j++) {
    const ch = src[j];
    if (q) {
      if (ch === "\\" && q === '"') j++;
      else if (ch === q) q = undefined;
    } else if (ch === '"' || ch === "`") q = ch;
    else if (ch === "}" && src[j + 1] === "}") return j;
  }
  return -1;
}

function tokenize(s: string, fail: (d: string) => never): string[] {
  const toks: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\(|\)|\||[^\s()|]+)/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < s.length && (m = re.exec(s))) toks.push(m[1]);
  if (re.lastIndex < s.trimEnd().length) fail(`cannot read "${s.slice(re.lastIndex)}"`);
  return toks;
}

function operand(tok: string, fail: (d: string) => never): Expr {
  if (tok.startsWith('"')) return { t: "lit", v: JSON.parse(tok) as string };
  if (tok.startsWith("`")) return { t: "lit", v: tok.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(tok)) return { t: "lit", v: Number(tok) };
  if (tok === "true" || tok === "false") return { t: "lit", v: tok === "true" };
  if (tok === "nil") return { t: "lit", v: undefined };
  if (tok === ".") return { t: "field", base: "dot", path: [] };
  if (/^(\.[A-Za-z_]\w*)+$/.test(tok)) return { t: "field", base: "dot", path: tok.slice(1).split(".") };
  const v = /^\$([A-Za-z_]\w*)?((?:\.[A-Za-z_]\w*)*)$/.exec(tok);
  if (v) return { t: "field", base: v[1] ?? "", path: v[2] ? v[2].slice(1).split(".") : [] };
  if (/^[A-Za-z_]\w*$/.test(tok)) {
    if (!Object.hasOwn(functions, tok)) fail(`function "${tok}" is not supported (known: ${Object.keys(functions).join(", ")})`);
    return { t: "ident", name: tok };
  }
  return fail(`cannot read "${tok}"`);
}

const isMap = (v: TemplateValue): v is TemplateMap => typeof v === "object" && v !== null;

function truthy(v: TemplateValue): boolean {
  if (isMap(v)) return Object.keys(v).length > 0;
  return v !== undefined && v !== null && v !== false && v !== "" && v !== 0;
}

function str(v: TemplateValue): string {
  if (v === undefined || v === null) return "";
  if (isMap(v)) return JSON.stringify(v);
  return String(v);
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

function printf(format: string, args: TemplateValue[]): string {
  let n = 0;
  return format.replace(/%([-+ 0#]*\d*(?:\.\d+)?)?([svqdt%])/g, (_m, _flags: string | undefined, verb: string) => {
    if (verb === "%") return "%";
    const a = args[n++];
    if (verb === "q") return goQuote(str(a));
    if (verb === "d") return String(Math.trunc(Number(a)));
    return str(a);
  });
}

type Fn = (args: TemplateValue[]) => TemplateValue;
const functions: Record<string, Fn> = {
  index: ([m, ...keys]) => keys.reduce<TemplateValue>((acc, k) => (isMap(acc) ? acc[str(k)] : undefined), m),
  // sprig: `x | default "d"` -> default("d", x)
  default: ([d, v]) => (truthy(v) ? v : d),
  quote: (args) => args.map((a) => goQuote(str(a))).join(" "),
  squote: (args) => args.map((a) => `'${str(a)}'`).join(" "),
  b64enc: ([v]) => Buffer.from(str(v), "utf8").toString("base64"),
  b64dec: ([v]) => Buffer.from(str(v), "base64").toString("utf8"),
  printf: ([f, ...args]) => printf(str(f), args),
  print: (args) => args.map(str).join(""),
  not: ([v]) => !truthy(v),
  and: (args) => args.find((a) => !truthy(a)) ?? args[args.length - 1],
  or: (args) => args.find((a) => truthy(a)) ?? args[args.length - 1],
  eq: ([a, ...bs]) => bs.some((b) => str(a) === str(b)),
  ne: ([a, b]) => str(a) !== str(b),
  empty: ([v]) => !truthy(v),
  hasKey: ([m, k]) => isMap(m) && str(k) in m,
  trim: ([v]) => str(v).trim(),
  lower: ([v]) => str(v).toLowerCase(),
  upper: ([v]) => str(v).toUpperCase(),
  toString: (args: TemplateValue[]) => str(args[0]),
  trimSuffix: ([suf, v]) => (str(v).endsWith(str(suf)) ? str(v).slice(0, -str(suf).length) : str(v)),
  trimPrefix: ([pre, v]) => (str(v).startsWith(str(pre)) ? str(v).slice(str(pre).length) : str(v)),
};

class Evaluator {
  constructor(
    private readonly name: string,
    private readonly src: string,
    private readonly dot: TemplateMap,
  ) {}

  private fail(pos: number, detail: string): never {
    const [l, c] = lineCol(this.src, pos);
    throw new TemplateError(this.name, l, c, detail);
  }

  run(nodes: Node[], out: string[], vars: Map<string, TemplateValue>): void {
    for (const n of nodes) {
      if (n.t === "text") out.push(n.s);
      else if (n.t === "out") out.push(str(this.eval(n.pipe, vars, n.pos)));
      else if (n.t === "set") {
        if (!n.decl && !vars.has(n.name)) this.fail(n.pos, `variable $${n.name} is assigned before it is declared with :=`);
        vars.set(n.name, this.eval(n.pipe, vars, n.pos));
      } else {
        const hit = n.branches.find((b) => truthy(this.eval(b.cond, vars, 0)));
        // Variables declared inside a branch stay visible after it: assignments must carry over.
        this.run(hit ? hit.body : n.otherwise, out, vars);
      }
    }
  }

  private eval(e: Expr, vars: Map<string, TemplateValue>, pos: number): TemplateValue {
    switch (e.t) {
      case "lit":
        return e.v;
      case "field": {
        let v: TemplateValue;
        if (e.base === "dot" || e.base === "") v = this.dot;
        else if (vars.has(e.base)) v = vars.get(e.base);
        else this.fail(pos, `undefined variable $${e.base}`);
        for (const k of e.path) v = isMap(v) ? v[k] : undefined;
        return v;
      }
      case "ident":
        return this.call(e.name, [], pos);
      case "pipe": {
        let prev: TemplateValue | typeof NONE = NONE;
        for (const cmd of e.cmds) {
          const [head, ...rest] = cmd;
          const args = rest.map((a) => this.eval(a, vars, pos));
          if (prev !== NONE) args.push(prev);
          if (head.t === "ident") prev = this.call(head.name, args, pos);
          else {
            if (args.length) this.fail(pos, "only a function can take arguments");
            prev = this.eval(head, vars, pos);
          }
        }
        return prev === NONE ? undefined : prev;
      }
    }
  }

  private call(name: string, args: TemplateValue[], pos: number): TemplateValue {
    const fn = Object.hasOwn(functions, name) ? functions[name] : undefined;
    if (!fn) this.fail(pos, `function "${name}" is not supported (known: ${Object.keys(functions).join(", ")})`);
    return fn(args);
  }
}

const NONE = Symbol("none");

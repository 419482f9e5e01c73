// Pure: the fuzz generator (arbitraries.ts). Valid objects are valid, mutated ones are hostile in
// every announced way, runs are reproducible, and nothing generated can run a command or reach
// past loopback on the test's local node. No cluster: run with
//   npx mocha --config .mocharc.unit.json e2e/fuzz/arbitraries.test.ts e2e/fuzz/verdicts.test.ts
import { expect } from "chai";
import { kindInfo, validate, type Kind } from "@dataprotection/api";
import {
  COMMAND_FIELDS, DEFAULT_COUNTS, DEFAULT_FUZZ_SEED, KIND_ORDER, MAX_OBJECT_BYTES, RUN_LABEL, SAFE_COMMAND, SAFE_SCRIPT_PREFIX,
  capSize, commandsAndScripts, fuzzSeed, fuzzWorld, generateCases, jsonBytes, runPrefix, sampleValidBodies, worldNames, type FuzzCase, type MutationOp,
} from "./arbitraries.ts";

const prefix = runPrefix(DEFAULT_FUZZ_SEED);
const world = fuzzWorld(prefix, "fuzz-0a1b2c", "fuzz-xns-3d4e5f");

describe("fuzz generator (e2e/fuzz/arbitraries.ts)", function () {
  this.timeout(60_000);
  let cases: FuzzCase[];
  before(() => {
    cases = generateCases(DEFAULT_FUZZ_SEED, world);
  });

  it("reads FUZZ_SEED, defaulting to a fixed seed", () => {
    expect(fuzzSeed({})).to.equal(DEFAULT_FUZZ_SEED);
    expect(fuzzSeed({ FUZZ_SEED: "42" })).to.equal(42);
    expect(fuzzSeed({ FUZZ_SEED: " 7 " })).to.equal(7);
    for (const bad of ["-1", "1.5", "abc", "99999999999"]) expect(() => fuzzSeed({ FUZZ_SEED: bad }), bad).to.throw(/FUZZ_SEED/);
  });

  it("makes exactly the requested count of every kind, 1,000 by default, with distinct names", () => {
    expect(cases).to.have.length(1000);
    for (const kind of KIND_ORDER) expect(cases.filter((c) => c.kind === kind), kind).to.have.length(DEFAULT_COUNTS[kind]);
    const keys = cases.map((c) => `${c.kind}/${c.name}`);
    expect(new Set(keys).size).to.equal(keys.length);
    expect(cases.map((c) => c.kind)).to.deep.equal([...cases.map((c) => c.kind)].sort((a, b) => KIND_ORDER.indexOf(a) - KIND_ORDER.indexOf(b)));
  });

  it("is deterministic for a seed and differs for another", () => {
    const again = generateCases(DEFAULT_FUZZ_SEED, world);
    expect(JSON.stringify(again)).to.equal(JSON.stringify(cases));
    const other = generateCases(DEFAULT_FUZZ_SEED + 1, world);
    expect(JSON.stringify(other)).to.not.equal(JSON.stringify(cases));
  });

  it("builds valid objects of every kind from the schema: ajv (the CRD's rules, CEL twins included) accepts 150 of each", () => {
    for (const kind of KIND_ORDER) {
      const bodies = sampleValidBodies(kind, world, 7, 150);
      for (const b of bodies) {
        const errors = validate(kind, { ...b, metadata: { name: "x" } });
        expect(errors, `${kind}: ${JSON.stringify(b).slice(0, 400)}`).to.deep.equal([]);
      }
      // Not a constant: the walk reaches optional fields.
      expect(new Set(bodies.map((b) => JSON.stringify(b))).size, kind).to.be.greaterThan(40);
    }
  });

  it("mutates most objects, leaving about one in eight valid-looking for the operator to judge", () => {
    const unmutated = cases.filter((c) => c.mutations.length === 0).length;
    expect(unmutated).to.be.within(60, 200);
    const counts = new Map<number, number>();
    for (const c of cases) counts.set(c.mutations.length, (counts.get(c.mutations.length) ?? 0) + 1);
    expect([...counts.keys()].sort()).to.deep.equal([0, 1, 2, 3]);
    // Most mutated objects break the schema; ajv (the API server's rules, run locally) refuses them.
    const refused = cases.filter((c) => c.mutations.length > 0 && !ajvAccepts(c)).length;
    expect(refused).to.be.greaterThan(400);
  });

  it("uses every kind of hostility the issue names", () => {
    const ops = new Set<MutationOp>(cases.flatMap((c) => c.mutations.map((m) => m.op)));
    const wanted: MutationOp[] = [
      "wrongType", "dropRequired", "outOfRange", "conflict", "emptyString", "hugeString", "hugeList", "oddUnicode", "hostileText",
      "refMissing", "refCrossNamespace", "refInvalid", "patternBreak", "enumBreak", "formatBreak", "semantic", "overMaxLength", "overMaxItems",
      "wrongKind", "wrongApiVersion", "fakeStatus", "longName", "invalidName", "hugeAnnotation", "foreignFinalizer",
    ];
    for (const op of wanted) expect(ops.has(op), op).to.equal(true);
    // References to missing and cross-namespace objects also come from the valid walk itself.
    const w = worldNames(prefix);
    const text = JSON.stringify(cases.map((c) => c.body));
    expect(text).to.contain(`${prefix}-missing-`);
    for (const name of [w.xnsPolicy, w.xnsBackup, w.xnsSecret]) expect(text, name).to.contain(`"${name}"`);
    // Huge strings reach a few hundred KiB; odd Unicode (bidi override, NUL, lone surrogate) is there.
    expect(Math.max(...cases.map((c) => jsonBytes(c.body)))).to.be.greaterThan(200 << 10);
    expect(text).to.match(/\\u202e|\u202e/);
    expect(text).to.contain("\\u0000");
  });

  it("keeps every object under the size limit, trimming without breaking the safety prefixes", () => {
    for (const c of cases) expect(jsonBytes(c.body), `${c.kind} ${c.name}`).to.be.at.most(MAX_OBJECT_BYTES);
    const body = { spec: { backupStatusUpdates: [{ script: SAFE_SCRIPT_PREFIX + "\u0001".repeat(400_000) }], backupCommands: [SAFE_COMMAND, ...Array(50_000).fill("x".repeat(20))] } };
    expect(capSize(body)).to.equal(true);
    expect(jsonBytes(body)).to.be.at.most(MAX_OBJECT_BYTES);
    expect(body.spec.backupStatusUpdates[0]!.script.startsWith(SAFE_SCRIPT_PREFIX)).to.equal(true);
    expect(body.spec.backupCommands[0]).to.equal(SAFE_COMMAND);
  });

  it("never generates a command that does anything: every command list starts with false, every script with exit 1", () => {
    let lists = 0;
    let scripts = 0;
    for (const c of cases) {
      const found = commandsAndScripts(c.body);
      for (const cmd of found.commands) {
        lists++;
        if (cmd.length) expect(cmd[0], `${c.kind} ${c.name} ${JSON.stringify(c.mutations)}`).to.equal(SAFE_COMMAND);
      }
      for (const s of found.scripts) {
        scripts++;
        if (typeof s === "string" && s !== "") expect(s.startsWith(SAFE_SCRIPT_PREFIX), `${c.kind} ${c.name} ${JSON.stringify(c.mutations)}`).to.equal(true);
      }
    }
    expect(lists).to.be.greaterThan(100);
    expect(scripts).to.be.greaterThan(10);
    expect([...COMMAND_FIELDS]).to.include.members(["backupCommands", "restoreCommands", "preCommands"]);
  });

  it("gives a storage backend only the loopback endpoint", () => {
    for (const c of cases.filter((x) => x.kind === "StorageProvider")) {
      const t = (c.body.spec as { agentConfigTemplate?: unknown } | undefined)?.agentConfigTemplate;
      if (typeof t !== "string" || !/bucket\s*=/.test(t)) continue;
      expect(t, c.name).to.match(/endpoint=http:\/\/127\.0\.0\.1:9/);
    }
    expect(JSON.stringify(cases)).to.not.match(/169\.254\.169\.254|type=filesystem/);
  });

  it("labels every object with the run and keeps the run prefix on every cluster-scoped name", () => {
    for (const c of cases) {
      const meta = c.body.metadata as { labels?: Record<string, string> };
      expect(meta.labels?.[RUN_LABEL], c.name).to.equal(prefix);
      if (kindInfo(c.kind).scope === "Cluster") expect(c.name.startsWith(`${prefix}-`), c.name).to.equal(true);
    }
  });
});

function ajvAccepts(c: FuzzCase): boolean {
  try {
    return validate(c.kind as Kind, c.body).length === 0;
  } catch {
    // The client-side validator throws on some shapes (e.g. spec: null): refused all the same.
    return false;
  }
}

import { expect } from "chai";
import { validate, validateBackup, formatErrors, withDefaults } from "./validate.ts";
import { loadExamples, example } from "./testdata/examples.ts";
import { invalidCases } from "./testdata/invalid.ts";
import { kinds } from "./kinds.ts";
import { celCheck, isTransitionRule, type CelRule } from "./schemas/helpers.ts";
import type { JsonSchema } from "./gen/structural.ts";

describe("ajv validators", () => {
  for (const { file, obj } of loadExamples()) {
    it(`accepts examples/${file}`, () => {
      expect(formatErrors(validate(obj.kind, obj))).to.deep.equal([]);
    });
  }

  it("has one example per kind", () => {
    expect(loadExamples().map((e) => e.obj.kind).sort()).to.deep.equal(kinds.map((k) => k.kind).sort());
  });

  for (const c of invalidCases()) {
    it(`rejects ${c.kind}: ${c.name}, naming ${c.field}`, () => {
      const errors = formatErrors(validate(c.kind, c.obj));
      expect(errors.some((e) => e.includes(c.field)), errors.join("\n")).to.equal(true);
    });
  }

  it("rejects fields the schema does not declare", () => {
    const b = structuredClone(example("Backup"));
    (b.spec as Record<string, unknown>).backupPolicy = "typo";
    expect(formatErrors(validateBackup(b))).to.deep.equal(["spec.backupPolicy: field not declared in schema"]);
  });

  it("reports null where an object with CEL rules belongs as a type error, without running the rules", () => {
    const b = structuredClone(example("Backup"));
    (b as Record<string, unknown>).spec = null;
    const errors = formatErrors(validateBackup(b));
    expect(errors.length).to.be.greaterThan(0);
    expect(errors.join("\n")).to.match(/spec/);
  });

  it("applies defaults on a copy, like the API server", () => {
    const b = structuredClone(example("Backup"));
    delete (b.spec as Record<string, unknown>).backupType;
    expect(validateBackup(b)).to.deep.equal([]);
    expect(b.spec).not.to.have.property("backupType");
    expect(withDefaults("Backup", b).spec.backupType).to.equal("datafile");
  });

  it("gives every CEL rule that is not a transition rule a TypeScript twin", () => {
    const rules: CelRule[] = [];
    const walk = (n: JsonSchema): void => {
      rules.push(...((n["x-kubernetes-validations"] ?? []) as CelRule[]));
      for (const v of Object.values((n.properties ?? {}) as Record<string, JsonSchema>)) walk(v);
      if (typeof n.items === "object") walk(n.items as JsonSchema);
    };
    for (const k of kinds) walk(k.schema as unknown as JsonSchema);
    expect(rules.length).to.be.greaterThan(5);
    const missing = rules.filter((r) => !isTransitionRule(r) && !celCheck(r)).map((r) => r.rule);
    expect(missing).to.deep.equal([]);
  });
});

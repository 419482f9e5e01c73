// ajv validators built from the same schemas as the CRDs. CEL rules run through their
// TypeScript twins (see celRule), so messages match the API server's.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { TSchema } from "@sinclair/typebox";
import { PRIVATE_KEYWORDS, celCheck, isTransitionRule, type CelRule } from "./schemas/helpers.ts";
import { kinds } from "./kinds.ts";
import { QUANTITY_PATTERN } from "./schemas/k8s.ts";
import type { Kind } from "./constants.ts";

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (a: Ajv) => Ajv;

/** One problem, with the field path the API server would print (e.g. "spec.retention.ttl"). */
export interface ValidationError {
  path: string;
  message: string;
}

interface CelError {
  keyword: string;
  message: string;
  params: Record<string, unknown>;
  instancePath: string;
  schemaPath: string;
}

function celKeyword(rules: CelRule[], data: unknown, _parent?: unknown, cxt?: { instancePath: string }): boolean {
  const errors: CelError[] = [];
  // A value of the wrong type (null where an object belongs) fails the type keyword; as on the
  // API server, its rules are not evaluated (the TypeScript twins expect the schema's type).
  if (data === null || typeof data !== "object") {
    (celKeyword as unknown as { errors: CelError[] }).errors = errors;
    return true;
  }
  for (const r of rules) {
    if (isTransitionRule(r)) continue;
    const check = celCheck(r);
    if (!check) throw new Error(`CEL rule ${JSON.stringify(r.rule)} has no TypeScript twin (celRule(..., check))`);
    if (!check(data)) errors.push({ keyword: "x-kubernetes-validations", message: r.message, params: { rule: r.rule }, instancePath: (cxt?.instancePath ?? "") + (r.fieldPath ?? "").replace(/\./g, "/"), schemaPath: "" });
  }
  (celKeyword as unknown as { errors: CelError[] }).errors = errors;
  return errors.length === 0;
}

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTypes: false, strictRequired: false });
  addFormats(ajv);
  ajv.addVocabulary([
    ...PRIVATE_KEYWORDS,
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
  ]);
  ajv.addKeyword({ keyword: "x-kubernetes-validations", schemaType: "array", errors: true, validate: celKeyword });
  return ajv;
}

let ajv: Ajv | undefined;
const compiled = new Map<Kind, ValidateFunction>();

function validatorFor(kind: Kind): ValidateFunction {
  let v = compiled.get(kind);
  if (!v) {
    ajv ??= makeAjv();
    const info = kinds.find((k) => k.kind === kind);
    if (!info) throw new Error(`unknown kind ${kind}`);
    v = ajv.compile(info.schema as TSchema);
    compiled.set(kind, v);
  }
  return v;
}

function dotted(instancePath: string): string {
  return instancePath.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function toError(e: ErrorObject): ValidationError {
  const base = dotted(e.instancePath);
  const join = (child: string) => (base ? `${base}.${child}` : child);
  switch (e.keyword) {
    case "required":
      return { path: join(String(e.params.missingProperty)), message: "Required value" };
    case "additionalProperties":
      return { path: join(String(e.params.additionalProperty)), message: "field not declared in schema" };
    case "enum":
      return { path: base, message: `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}` };
    case "x-kubernetes-validations":
      return { path: base, message: e.message ?? "" };
    case "pattern":
      if (e.params.pattern === QUANTITY_PATTERN) return { path: base, message: "must be a quantity such as 10Gi, 500m or 1024" };
      return { path: base, message: e.message ?? "" };
    default:
      return { path: base, message: e.message ?? e.keyword };
  }
}

/** A copy of the object with the schema defaults applied, as the API server stores it. */
export function withDefaults<T>(kind: Kind, obj: T): T {
  const copy = structuredClone(obj);
  validatorFor(kind)(copy);
  return copy;
}

/**
 * Validates an object of the given kind as the API server would: defaults first (on a copy),
 * then schema and CEL rules. Returns readable errors (empty when valid).
 */
export function validate(kind: Kind, obj: unknown): ValidationError[] {
  const v = validatorFor(kind);
  if (v(structuredClone(obj))) return [];
  const seen = new Set<string>();
  const out: ValidationError[] = [];
  for (const e of v.errors ?? []) {
    // An int-or-string failing both branches also reports each branch; keep the anyOf summary only.
    if (e.schemaPath.includes("/anyOf/")) continue;
    const err = toError(e);
    const key = `${err.path}: ${err.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(err);
    }
  }
  return out;
}

/** "spec.retention.ttl: must match pattern ..." lines. */
export function formatErrors(errors: ValidationError[]): string[] {
  return errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
}

/** Validates any of our kinds by its `kind` field. */
export function validateObject(obj: { kind?: unknown }): ValidationError[] {
  const kind = kinds.find((k) => k.kind === obj.kind);
  if (!kind) return [{ path: "kind", message: `unknown kind ${JSON.stringify(obj.kind)}` }];
  return validate(kind.kind, obj);
}

export const validateBackup = (obj: unknown): ValidationError[] => validate("Backup", obj);
export const validateBackupPolicy = (obj: unknown): ValidationError[] => validate("BackupPolicy", obj);
export const validateBackupRepo = (obj: unknown): ValidationError[] => validate("BackupRepo", obj);
export const validateBackupTool = (obj: unknown): ValidationError[] => validate("BackupTool", obj);
export const validateRestoreJob = (obj: unknown): ValidationError[] => validate("RestoreJob", obj);
export const validateStorageProvider = (obj: unknown): ValidationError[] => validate("StorageProvider", obj);
export const validateAPIManagerBackup = (obj: unknown): ValidationError[] => validate("APIManagerBackup", obj);
export const validateAPIManagerRestore = (obj: unknown): ValidationError[] => validate("APIManagerRestore", obj);


// Small builders over TypeBox so every schema carries a description and the
// annotations the generators need (extension marker, Kubernetes type name, CEL rules).
import { Type, type TSchema, type TUnsafe, type TArray, type TString, type TInteger, type TBoolean, type TProperties, type TObject, type ObjectOptions } from "@sinclair/typebox";

/** Marks a field that is not in the upstream reference (rendered "(extension)" in the docs). */
export const EXTENSION = "x-dp-extension";
/** Names an embedded Kubernetes type (e.g. "core/v1.Volume"); the docs link to Kubernetes instead of a section. */
export const K8S_TYPE = "x-dp-k8s-type";
/** A named type's own documentation (the field's description overrides `description`). */
export const TYPE_DOC = "x-dp-doc";

/** Keywords that only our generators read; stripped from CRDs, declared to ajv. */
export const PRIVATE_KEYWORDS = [EXTENSION, K8S_TYPE, TYPE_DOC] as const;

export const EXT = { [EXTENSION]: true } as const;

/** One `x-kubernetes-validations` entry. */
export interface CelRule {
  rule: string;
  message: string;
  /** The field the API server reports the error on, relative to the rule's object (e.g. ".parentBackupName"). */
  fieldPath?: string;
}

type Check = (self: unknown) => boolean;
const checks = new Map<string, Check>();
const key = (r: CelRule): string => `${r.rule}\u0000${r.message}`;

/**
 * A CEL rule for the API server plus the same rule in TypeScript for ajv, so client-side
 * validation gives the server's message. Transition rules (oldSelf) need no check: ajv
 * never sees the old object.
 */
export function celRule<T>(rule: string, message: string, check?: (self: T) => boolean, fieldPath?: string): CelRule {
  const r: CelRule = fieldPath ? { rule, message, fieldPath } : { rule, message };
  if (check) checks.set(key(r), check as Check);
  return r;
}

/** The TypeScript twin of a CEL rule, if it has one. */
export function celCheck(r: CelRule): Check | undefined {
  return checks.get(key(r));
}

export function isTransitionRule(r: CelRule): boolean {
  return /\boldSelf\b/.test(r.rule);
}

type Extra = Record<string, unknown>;

export const str = (description: string, extra: Extra = {}): TString => Type.String({ description, ...extra });
export const bool = (description: string, extra: Extra = {}): TBoolean => Type.Boolean({ description, ...extra });
export const int32 = (description: string, extra: Extra = {}): TInteger => Type.Integer({ format: "int32", description, ...extra });
export const int64 = (description: string, extra: Extra = {}): TInteger => Type.Integer({ format: "int64", description, ...extra });
export const strArray = (description: string, extra: Extra = {}): TArray<TString> => Type.Array(Type.String(), { description, ...extra });

/** A string enum as `{type: string, enum}` (TypeBox unions of literals would become anyOf, which CRDs reject). */
export function stringEnum<const V extends readonly string[]>(title: string, values: V, doc: string): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: "string", enum: [...values], title, description: doc, [TYPE_DOC]: doc });
}

/** map[string]V as `additionalProperties`. */
export function mapOf<V extends TSchema>(value: V, description: string, extra: Extra = {}): TUnsafe<Record<string, V["static"]>> {
  return Type.Unsafe<Record<string, V["static"]>>({ type: "object", additionalProperties: value, description, ...extra });
}

export const stringMap = (description: string, extra: Extra = {}): TUnsafe<Record<string, string>> => mapOf(Type.String(), description, extra);

/**
 * A named object type. Unknown fields are rejected by ajv (like `kubectl --validate=strict`);
 * the CRD generator drops `additionalProperties: false` because the API server prunes instead.
 */
export function named<P extends TProperties>(title: string, doc: string, props: P, extra: ObjectOptions = {}): TObject<P> {
  return Type.Object(props, { title, description: doc, [TYPE_DOC]: doc, additionalProperties: false, ...extra });
}

/** An anonymous object field. */
export function object<P extends TProperties>(props: P, description: string, extra: ObjectOptions = {}): TObject<P> {
  return Type.Object(props, { description, additionalProperties: false, ...extra });
}

/** The same schema with a field-specific description (and extra annotations). Keeps TypeBox's symbols. */
export function describe<T extends TSchema>(schema: T, description: string, extra: Extra = {}): T {
  return { ...schema, description, ...extra };
}

/** `[]T` with a description on the array. */
export function arrayOf<T extends TSchema>(item: T, description: string, extra: Extra = {}): TArray<T> {
  return Type.Array(item, { description, ...extra });
}

/** Object names as Kubernetes accepts them (DNS-1123 subdomain). */
export const NAME_PATTERN = "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$";
export const nameRef = (description: string, extra: Extra = {}): TString =>
  Type.String({ description, pattern: NAME_PATTERN, maxLength: 253, ...extra });

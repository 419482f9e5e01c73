// Hostile objects of every kind for the fuzz e2e (hostile-objects.test.ts). fast-check builds a
// valid object by walking the kind's TypeBox schema (the one the CRDs are generated from), then
// applies 0-3 mutations at sites of that object: wrong types, missing required fields, numbers
// out of range, empty and huge strings (up to 300 KiB), long lists, odd Unicode, broken patterns,
// enums and formats, conflicting fields, values only the operator checks (cron, ttl, templates,
// paths), and references to missing or cross-namespace objects; or to the envelope (kind,
// apiVersion, name, labels, annotations, finalizers, a status the API server must drop).
//
// Everything here is pure and deterministic for a seed (FUZZ_SEED; fuzzSeed()), so a failing run is
// replayed with the same objects (only the two test namespaces' random suffixes differ).
//
// Safety: pods on the test's local node run as host processes. A generated object never carries a
// command that does anything: every command list starts with "false" (its arguments are ignored)
// and every status-update script starts with "exit 1" followed by a newline; mutations keep both
// (see `protectedSite`). Storage a generated repo could reach is loopback only (127.0.0.1:9).
// Cluster-scoped objects always carry the run's name prefix, so the test can find and delete them.
import { Buffer } from "node:buffer";
import fc from "fast-check";
import {
  AnnotationBackupDestination, AnnotationIsDefaultRepo, AnnotationPathPrefix, AnnotationRunAsRoot, AnnotationTargetPodName,
  LabelAutoBackup, LabelBackupPolicy, LabelBackupProtection, LabelBackupRepoName, QUANTITY_PATTERN, TTL_PATTERN, kindInfo, type Kind,
} from "@dataprotection/api";
import { K8S_TYPE, NAME_PATTERN, celCheck, isTransitionRule, type CelRule } from "../../packages/api/src/schemas/helpers.ts";
import { localPvcProvider } from "../../packages/controllers/src/storageprovider/builtin/index.ts";

/** A JSON schema node as TypeBox builds it (plain data plus TypeBox's symbols, which are ignored). */
type Schema = Record<string, unknown>;
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Seed, counts, names

/** The seed used when FUZZ_SEED is not set: every run of the suite sends the same objects. */
export const DEFAULT_FUZZ_SEED = 19_001;

/** FUZZ_SEED from the environment (an integer in [0, 2^31)), or DEFAULT_FUZZ_SEED. */
export function fuzzSeed(env: Record<string, string | undefined> = process.env): number {
  const raw = env.FUZZ_SEED?.trim();
  if (raw === undefined || raw === "") return DEFAULT_FUZZ_SEED;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n > 0x7fffffff) throw new Error(`FUZZ_SEED must be an integer in [0, 2147483647], not ${JSON.stringify(raw)}`);
  return n;
}

/** Creation order: what an object refers to is sent before it (providers before repos, policies before Backups...). */
export const KIND_ORDER: readonly Kind[] = [
  "StorageProvider", "BackupRepo", "BackupTool", "BackupPolicy", "Backup", "RestoreJob", "APIManagerBackup", "APIManagerRestore",
];

/** How many objects of each kind a run sends by default: 1,000 in all. */
export const DEFAULT_COUNTS: Readonly<Record<Kind, number>> = {
  StorageProvider: 110, BackupRepo: 100, BackupTool: 130, BackupPolicy: 160, Backup: 180, RestoreJob: 140, APIManagerBackup: 90, APIManagerRestore: 90,
};

const ABBREVIATION: Readonly<Record<Kind, string>> = {
  StorageProvider: "sp", BackupRepo: "repo", BackupTool: "tool", BackupPolicy: "bp", Backup: "bk", RestoreJob: "rj", APIManagerBackup: "amb", APIManagerRestore: "amr",
};

/** The label every generated object carries (value: the run prefix); mutations never touch it. */
export const RUN_LABEL = "fuzz.dataprotection.test/run";

/** The name the run gives object `index` of `kind` (before any name mutation). */
export function caseName(prefix: string, kind: Kind, index: number): string {
  return `${prefix}-${ABBREVIATION[kind]}-${index}`;
}

/** A run prefix from the seed: a DNS label, short enough to leave room in every name. */
export function runPrefix(seed: number): string {
  return `fz${seed.toString(36)}`;
}

/** Objects the test creates itself before the fuzz objects, valid, so references to them resolve. */
export function worldNames(prefix: string) {
  return {
    /** Cluster-scoped: a Ready StorageProvider (the test node's local-path PVCs). */
    provider: `${prefix}-world-sp`,
    /** Cluster-scoped: a valid job tool whose commands are `false`. */
    tool: `${prefix}-world-tool`,
    /** Main namespace: a valid datafile policy selecting pods that never exist. */
    policy: `${prefix}-world-policy`,
    /** Main namespace: a Secret with username, password, passphrase and S3 keys. */
    secret: `${prefix}-world-secret`,
    /** Main namespace: a ConfigMap whose persistentVolume template does not parse. */
    configMap: `${prefix}-world-cm`,
    /** Other namespace only: what a cross-namespace reference names. */
    xnsPolicy: `${prefix}-xns-policy`,
    xnsBackup: `${prefix}-xns-backup`,
    xnsSecret: `${prefix}-xns-secret`,
    xnsConfigMap: `${prefix}-xns-cm`,
  };
}

// ---------------------------------------------------------------------------------------------
// The world references point into

/** What a reference field names. */
export type RefType =
  | "policy" | "backup" | "tool" | "repo" | "provider" | "apiManagerBackup" | "apiManager"
  | "secret" | "configMap" | "namespace" | "serviceAccount" | "pvc" | "pv" | "storageClass" | "csiDriver" | "pod";

export interface RefPool {
  /** Objects that exist for the whole run (created by the test). */
  world: readonly string[];
  /** Names the run sends (they exist only if the API server accepted them). */
  generated: readonly string[];
  /** Names that exist only in the other namespace (a namespaced reference must not find them). */
  crossNamespace: readonly string[];
}

export interface FuzzWorld {
  prefix: string;
  namespace: string;
  otherNamespace: string;
  refs: Record<RefType, RefPool>;
}

/** A name nothing has: `<prefix>-missing-<type>-<n>`. */
export function missingName(prefix: string, type: RefType, n: number): string {
  return `${prefix}-missing-${type.toLowerCase()}-${n}`;
}

export function fuzzWorld(prefix: string, namespace: string, otherNamespace: string, counts: Readonly<Record<Kind, number>> = DEFAULT_COUNTS): FuzzWorld {
  if (!/^[a-z][a-z0-9]{0,15}$/.test(prefix)) throw new Error(`run prefix ${JSON.stringify(prefix)} must be a short DNS label`);
  const w = worldNames(prefix);
  const gen = (kind: Kind) => Array.from({ length: counts[kind] }, (_, i) => caseName(prefix, kind, i));
  const pool = (world: string[], generated: string[] = [], crossNamespace: string[] = []): RefPool => ({ world, generated, crossNamespace });
  return {
    prefix, namespace, otherNamespace,
    refs: {
      policy: pool([w.policy], gen("BackupPolicy"), [w.xnsPolicy]),
      backup: pool([], gen("Backup"), [w.xnsBackup]),
      tool: pool([w.tool], gen("BackupTool")),
      repo: pool([], gen("BackupRepo")),
      provider: pool([w.provider], gen("StorageProvider")),
      apiManagerBackup: pool([], gen("APIManagerBackup")),
      apiManager: pool([]),
      secret: pool([w.secret], [], [w.xnsSecret]),
      configMap: pool([w.configMap, "kube-root-ca.crt"], [], [w.xnsConfigMap]),
      namespace: pool([namespace, otherNamespace, "default", "kube-system"]),
      serviceAccount: pool(["default"]),
      pvc: pool([]),
      pv: pool([]),
      storageClass: pool(["local-path"]),
      csiDriver: pool([]),
      pod: pool([]),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Field knowledge: references, protected fields, values only the operator checks

/** Reference fields by kind and dotted path (array steps left out); "*." matches any prefix. */
const REFS: ReadonlyArray<[Kind | "*", string, RefType]> = [
  ["Backup", "spec.backupPolicyName", "policy"],
  ["Backup", "spec.parentBackupName", "backup"],
  ["BackupPolicy", "*.backupToolName", "tool"],
  ["BackupPolicy", "*.backupRepoName", "repo"],
  ["BackupPolicy", "*.persistentVolumeClaim.name", "pvc"],
  ["BackupPolicy", "*.persistentVolumeConfigMap.name", "configMap"],
  ["BackupPolicy", "*.persistentVolumeConfigMap.namespace", "namespace"],
  ["BackupPolicy", "*.persistentVolumeClaim.storageClassName", "storageClass"],
  ["BackupRepo", "spec.storageProviderRef", "provider"],
  ["BackupRepo", "spec.credential.name", "secret"],
  ["BackupRepo", "spec.credential.namespace", "namespace"],
  ["BackupRepo", "spec.encryption.keySecretRef.name", "secret"],
  ["BackupRepo", "spec.encryption.keySecretRef.namespace", "namespace"],
  ["BackupTool", "spec.serviceAccountName", "serviceAccount"],
  ["RestoreJob", "spec.backupJobName", "backup"],
  ["RestoreJob", "*.persistentVolumeClaim.claimName", "pvc"],
  ["StorageProvider", "spec.csiDriverName", "csiDriver"],
  ["APIManagerBackup", "spec.apiManagerName", "apiManager"],
  ["APIManagerBackup", "*.backupRepo.name", "repo"],
  ["APIManagerBackup", "*.persistentVolumeClaim.volumeName", "pv"],
  ["APIManagerBackup", "*.persistentVolumeClaim.storageClass", "storageClass"],
  ["APIManagerRestore", "*.claimSource.claimName", "pvc"],
  ["APIManagerRestore", "*.apiManagerBackup.name", "apiManagerBackup"],
  ["*", "*.target.secret.name", "secret"],
  ["*", "*.secretKeyRef.name", "secret"],
  ["*", "*.secretRef.name", "secret"],
  ["*", "*.configMapKeyRef.name", "configMap"],
  ["*", "*.configMapRef.name", "configMap"],
];

function refTypeOf(kind: Kind, path: readonly string[]): RefType | undefined {
  const dotted = path.filter((p) => p !== "[]").join(".");
  for (const [k, pattern, type] of REFS) {
    if (k !== "*" && k !== kind) continue;
    if (pattern.startsWith("*.") ? dotted.endsWith(pattern.slice(1)) || dotted === pattern.slice(2) : dotted === pattern) return type;
  }
  return undefined;
}

/** Lists of commands a pod may run: always led by "false", whose arguments are ignored. */
export const COMMAND_FIELDS: ReadonlySet<string> = new Set(["backupCommands", "incrementalBackupCommands", "restoreCommands", "incrementalRestoreCommands", "preCommands", "postCommands"]);
export const SAFE_COMMAND = "false";
/** backupStatusUpdates[].script runs in `sh -c`: it exits before anything generated after it. */
export const SAFE_SCRIPT_PREFIX = "exit 1\n";

const TEMPLATE_FIELDS: ReadonlySet<string> = new Set(["storageClassTemplate", "persistentVolumeClaimTemplate", "csiDriverSecretTemplate", "agentConfigTemplate"]);

/** Repo backend config that can only reach loopback: a refused port. */
const LOOPBACK_ENDPOINT = "http://127.0.0.1:9";

const VALID_TEMPLATES: Readonly<Record<string, readonly string[]>> = {
  storageClassTemplate: [
    localPvcProvider().spec.storageClassTemplate!,
    "provisioner: fuzz.example.com/never-provisions\nvolumeBindingMode: Immediate\n",
  ],
  persistentVolumeClaimTemplate: [
    "spec:\n  storageClassName: local-path\n  accessModes:\n    - ReadWriteOnce\n",
    "spec:\n  storageClassName: {{ .Parameters.class | default \"local-path\" | quote }}\n  accessModes:\n    - ReadWriteOnce\n",
  ],
  csiDriverSecretTemplate: ["accessKey: {{ .Parameters.accessKey | default \"none\" }}\n"],
  // Every rendering names the loopback endpoint: no generated repo probes real storage.
  agentConfigTemplate: [
    `type=s3\nbucket={{ .Parameters.bucket | default "fz-bucket" }}\nregion=us-east-1\nforcePathStyle=true\nendpoint=${LOOPBACK_ENDPOINT}\n`,
    "type=no-such-backend\n",
  ],
};

const BAD_TEMPLATES: readonly string[] = [
  "{{",
  "{{ .Parameters.bucket ",
  "{{ range .Parameters }}x{{ end }}",
  "{{ .Parameters.x | nosuchfunc }}",
  "{{ if }}{{ end }}",
  "{{ template \"other\" }}",
  "{{ else }}",
  "{{ end }}",
  `${"{{ if true }}".repeat(3000)}x${"{{ end }}".repeat(3000)}`,
  "provisioner: {{ .Parameters.p }}\nparameters: [unclosed",
  "kind: Secret\nmetadata:\n  name: ../../etc\n",
  "{{ .GeneratedStorageClassName | quote | quote | quote }}",
  "{{ $x := .Parameters }}{{ $x.a.b.c.d.e }}",
  "type=no-such-backend\nroot=/\n",
];

/** Values the API server accepts but the operator must refuse, by field name. */
const SEMANTIC: Readonly<Record<string, readonly Json[]>> = {
  cronExpression: ["* * *", "61 * * * *", "0 0 30 2 *", "*/0 * * * *", "@every 1s", "* * * * * * *", "0 0 31 2 *", "   ", "0 0 1 1 * ; echo x"],
  ttl: ["0d", "0H", "100001d", "99999999999999999999d", "000h"],
  image: ["", " ", "UPPER/Case:tag", "a@sha256:nothex", "registry.invalid/../../etc:latest"],
  mountPath: ["relative/path", "/data/../../etc", "/with\u0000nul", `/${"a".repeat(1100)}`, "C:\\data", "/"],
  subPath: ["/abs", "../up", "a/../../b", "with\u0000nul"],
  key: ["no-such-key", "../passphrase", ""],
  usernameKey: ["no-such-key", ""],
  passwordKey: ["no-such-key", ""],
  path: ["..", "status.phase", "metadata.finalizers", "manifests.backupLog.startTime.deeper", "__proto__.polluted", "constructor.prototype"],
  credentialFields: [["x".repeat(300)], ["", ""], ["a b", "accessKeyId"]],
  name: ["BACKUP_DIR", "DP_REPO_PATH", "DP_ENCRYPTION_KEY", "AWS_SECRET_ACCESS_KEY", "DATA_DIR", "1BAD", "with space"],
  value: ["../../etc", "relative/dir", "/ok/../../up", "/with\u0000nul", "$(BACKUP_DIR)/../x"],
  containerName: ["no-such-container", ""],
  openAPIV3Schema: [
    { type: "nonsense" },
    { type: "object", properties: { x: { type: "string", pattern: "(" } } },
    { $ref: "#/definitions/missing" },
    { type: "object", required: ["bucket", "missing"] },
    nested(120),
  ],
  config: [{ basePath: "../../etc" }, { bucket: "" }, { "": "x" }, { bucket: "a\nendpoint=http://127.0.0.1:9" }, { class: "no-such-class" }],
  restoreTime: ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-02-29T12:00:00+14:00", "1970-01-01T00:00:00Z"],
  startingDeadlineMinutes: [0],
  backupsHistoryLimit: [0],
};

function nested(depth: number): Json {
  let s: Json = { type: "string" };
  for (let i = 0; i < depth; i++) s = { type: "object", properties: { x: s } };
  return s;
}

// ---------------------------------------------------------------------------------------------
// Hostile payloads

/** Odd Unicode: bidi overrides, zero-width and NUL-adjacent control characters, emoji, combining marks, lone surrogates. */
export const ODD_UNICODE: readonly string[] = [
  "\u202e\u0645\u0631\u062d\u0628\u0627\u202c", "\u200f\u200e", "a\u200d\u200db", "\ufeffbom", "\u0001\u0002\u001f\u007f", "\u0000", "nul\u0000inside",
  "\u0085\u2028\u2029", "\u{1F469}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}", "\u{1F4A5}\u{1F525}", `e${"\u0301".repeat(64)}`, "Z\u0351\u0352\u0353\u0354\u0355",
  "\ud800", "\udfff", "\u{10FFFF}", "\uFFFE\uFFFF", "ａｂｃ", "İıſ", "\t\r\n", "\u00a0\u3000",
];

/** Strings that mean something somewhere else: paths, shell, templates, numbers, YAML, names. */
export const HOSTILE_TEXTS: readonly string[] = [
  "../../../etc/passwd", "/", "//", ".", "..", "$(BACKUP_DIR)", "${HOME}", "`id`", "$(id)", "'; DROP TABLE backups; --", "{{ .Parameters }}", "%s%n%x",
  "\\", "\"", "<script>alert(1)</script>", "null", "true", "0", "-1", "NaN", "Infinity", "1e309", "0x10", " padded ", "a\nb: c", "- yaml\n- list",
  "kube-system", "default", "*", "?", "#", "~", "C:\\Windows", "%00", "\\u0000", "@yearly", "__proto__", "constructor", "a".repeat(64), "A".repeat(254),
];

const HUGE_SIZES = [1 << 10, 16 << 10, 64 << 10, 256 << 10, 300 << 10] as const;
const HUGE_UNITS = ["a", "\u00e9", "\u{1F600}", "\u202e", "x\u0301", "\u0001"] as const;
const HUGE_LISTS = [257, 1000, 3000] as const;

const WRONG_TYPED: Readonly<Record<string, readonly Json[]>> = {
  string: [7, true, {}, ["x"], -1.5],
  integer: ["7", true, {}, [], 1.5, "0x10"],
  number: ["7", true, {}, []],
  boolean: ["true", 1, {}, "yes"],
  object: ["x", 7, [], true],
  array: ["x", 7, {}, true],
  quantity: [true, {}, [], 1.5],
};

const BAD_TIMES = ["yesterday", "2024-13-45T00:00:00Z", "2024-01-01", "2024-01-01T25:00:00Z", "0000-00-00T00:00:00Z", "2024-01-01T00:00:00", "\u0662\u0660\u0662\u0664-01-01T00:00:00Z", "1e9"];
const BAD_QUANTITIES = ["10 Gi", "1e1000", "-", "Infinity", "0x10", "1Gb", "\uff11\uff10Gi", `${"9".repeat(100)}Ei`, "1.5.5", "", "NaN"];

// ---------------------------------------------------------------------------------------------
// Valid values, by walking the schema

interface Ctx {
  kind: Kind;
  /** Property names from the object root, "[]" for an array item, "{}" for a map value. */
  path: string[];
  depth: number;
  world: FuzzWorld;
}

const str = (s: Schema, k: string): string | undefined => (typeof s[k] === "string" ? (s[k] as string) : undefined);
const num = (s: Schema, k: string): number | undefined => (typeof s[k] === "number" ? (s[k] as number) : undefined);
const last = (path: readonly string[]): string => [...path].reverse().find((p) => p !== "[]" && p !== "{}") ?? "";

/** CEL rules of an object that ajv (and so the generator) can check. */
function checkedRules(s: Schema): CelRule[] {
  const rules = (s["x-kubernetes-validations"] as CelRule[] | undefined) ?? [];
  return rules.filter((r) => !isTransitionRule(r) && celCheck(r) !== undefined);
}

/** Objects of which exactly one optional field may be set: a Volume's source, a destination, a restore source. */
function exactlyOne(s: Schema): boolean {
  return s[K8S_TYPE] === "core/v1.Volume" || checkedRules(s).some((r) => /==\s*1\s*$/.test(r.rule));
}

function refArb(type: RefType, w: FuzzWorld): fc.Arbitrary<string> {
  const p = w.refs[type];
  const options: Array<fc.WeightedArbitrary<string>> = [];
  if (p.world.length) options.push({ weight: 30, arbitrary: fc.constantFrom(...p.world) });
  if (p.generated.length) options.push({ weight: 35, arbitrary: fc.constantFrom(...p.generated) });
  options.push({ weight: 25, arbitrary: fc.integer({ min: 0, max: 9 }).map((n) => missingName(w.prefix, type, n)) });
  if (p.crossNamespace.length) options.push({ weight: 10, arbitrary: fc.constantFrom(...p.crossNamespace) });
  return fc.oneof(...options);
}

const commandArb = (emptyWeight: number): fc.Arbitrary<string[]> => fc.oneof(
  { weight: emptyWeight, arbitrary: fc.constant<string[]>([]) },
  { weight: 100 - emptyWeight, arbitrary: fc.array(fc.constantFrom("-c", "exit 0", "dp-agent", "--flag=1", "$(BACKUP_DIR)", "; echo never-run"), { maxLength: 3 }).map((args) => [SAFE_COMMAND, ...args]) },
);

const wordArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
const dnsNameArb = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/);
const timeArb = fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2099-12-31T23:59:59Z"), noInvalidDate: true })
  .map((d) => d.toISOString().replace(/\.\d{3}Z$/, "Z"));
const quantityArb: fc.Arbitrary<string | number> = fc.oneof(fc.constantFrom("1Gi", "100Mi", "500m", "10", "1.5Gi", "2e3", "0"), fc.integer({ min: 0, max: 1_000_000 }));
const MAP_KEYS = ["app", "app.kubernetes.io/name", "tier", "role", "fuzz.example.com/key"] as const;

/** Valid-value overrides by field, before the generic walk. */
function hint(s: Schema, c: Ctx): fc.Arbitrary<unknown> | undefined {
  const key = last(c.path);
  const dotted = c.path.filter((p) => p !== "[]" && p !== "{}").join(".");
  const ref = refTypeOf(c.kind, c.path);
  if (ref && s.type === "string") return refArb(ref, c.world);
  if (COMMAND_FIELDS.has(key) && s.type === "array") return commandArb(key === "backupCommands" ? 10 : 25);
  if (key === "script" && s.type === "string") return fc.constantFrom("echo '{}'", "cat /data/status.json", "").map((x) => SAFE_SCRIPT_PREFIX + x);
  if (key === "cronExpression") return fc.constantFrom("0 3 1 1 *", "0 0 1 1 *", "30 2 29 2 *", "@yearly", "59 23 31 12 *");
  if (TEMPLATE_FIELDS.has(key)) return fc.constantFrom(...VALID_TEMPLATES[key]!);
  if (key === "openAPIV3Schema") return fc.constantFrom(localPvcProvider().spec.parametersSchema!.openAPIV3Schema as Json, { type: "object" }, { type: "object", properties: { class: { type: "string" }, bucket: { type: "string" } } });
  if (key === "credentialFields") return fc.uniqueArray(fc.constantFrom("accessKeyId", "secretAccessKey", "accessKey"), { maxLength: 2 });
  if (key === "image" && s.type === "string") return fc.constantFrom("busybox", "registry.example.com/fz/tool:1", "");
  if (c.kind === "BackupRepo" && dotted === "spec.config") {
    return fc.dictionary(fc.constantFrom("basePath", "bucket", "class", "accessKey", "prefix"), fc.constantFrom("/data", "fz-bucket", "local-path", "none", "backups"), { maxKeys: 3 });
  }
  if (c.kind === "BackupTool" && dotted === "spec.env.name") return fc.constantFrom("DB_OPTS", "FZ_VAR", "TOOL_DIR", "LOG_FILE");
  if (c.kind === "BackupTool" && dotted === "spec.env.value") return fc.constantFrom("1", "/data", "$(DB_HOST)", "/var/log/tool.log");
  if (key === "mountPath") return fc.constantFrom("/data", "/backupdata/x", "/var/lib/db");
  if (key === "subPath" || key === "subPathExpr") return fc.constantFrom("data", "a/b");
  if (key === "mountPropagation") return fc.constantFrom("None", "HostToContainer");
  if (key === "recursiveReadOnly") return fc.constant("Disabled");
  if (dotted.endsWith("keySecretRef.key")) return fc.constantFrom("passphrase", "no-such-key");
  if (key === "usernameKey") return fc.constant("username");
  if (key === "passwordKey") return fc.constant("password");
  if (key === "containerName" && c.kind === "BackupPolicy") return fc.constantFrom("db", "main");
  if (key === "path" && dotted.includes("backupStatusUpdates")) return fc.constantFrom("manifests.backupLog", "manifests.userContext", "");
  if (c.kind === "RestoreJob" && key === "path" && dotted.includes("hostPath")) return fc.constantFrom("/tmp/fz-restore", "/");
  return undefined;
}

/** Probability that an optional field is set, by depth (deep Volume sources stay small). */
const KEEP_PERCENT = [60, 50, 35, 20, 10, 5] as const;

function validArbitrary(s: Schema, c: Ctx): fc.Arbitrary<unknown> {
  if (c.depth > 14) throw new Error(`fuzz: schema too deep at ${c.path.join(".")}`);
  const h = hint(s, c);
  if (h) return h;
  if ("const" in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  if (s["x-kubernetes-int-or-string"]) return quantityArb;
  switch (s.type) {
    case "string": return stringArb(s);
    case "integer": return fc.integer({ min: num(s, "minimum") ?? 0, max: num(s, "maximum") ?? (num(s, "minimum") ?? 0) + 10 });
    case "number": return fc.integer({ min: 0, max: 100 });
    case "boolean": return fc.boolean();
    case "array": return arrayArb(s, c);
    case "object": return objectArb(s, c);
  }
  throw new Error(`fuzz: no generator for the schema at ${c.kind}.${c.path.join(".")} (keys ${Object.keys(s).join(", ")})`);
}

function stringArb(s: Schema): fc.Arbitrary<string> {
  const pattern = str(s, "pattern");
  if (str(s, "format") === "date-time") return timeArb;
  if (pattern === NAME_PATTERN) return dnsNameArb;
  if (pattern === TTL_PATTERN) return fc.oneof(fc.constantFrom("7d", "12h", "1D", "36H", "30d"), fc.integer({ min: 1, max: 1000 }).map((n) => `${n}d`));
  if (pattern === QUANTITY_PATTERN) return fc.constantFrom("1Gi", "100Mi", "500m", "10");
  const min = num(s, "minLength") ?? 0;
  const max = num(s, "maxLength") ?? 64;
  if (pattern) return fc.stringMatching(new RegExp(pattern)).filter((x) => x.length >= min && x.length <= max);
  return wordArb.filter((x) => x.length >= min && x.length <= max);
}

function arrayArb(s: Schema, c: Ctx): fc.Arbitrary<unknown[]> {
  const item = validArbitrary(s.items as Schema, { ...c, path: [...c.path, "[]"], depth: c.depth + 1 });
  const minLength = num(s, "minItems") ?? 0;
  const maxLength = Math.max(minLength, Math.min(2, num(s, "maxItems") ?? 2));
  const listType = s["x-kubernetes-list-type"];
  if (listType === "map") {
    const keys = (s["x-kubernetes-list-map-keys"] as string[] | undefined) ?? [];
    return fc.uniqueArray(item, { minLength, maxLength, selector: (v) => keys.map((k) => JSON.stringify((v as Obj)[k])).join("\u0000") });
  }
  if (listType === "set") return fc.uniqueArray(item, { minLength, maxLength, selector: (v) => JSON.stringify(v) });
  return fc.array(item, { minLength, maxLength });
}

function mapArb(value: Schema, c: Ctx): fc.Arbitrary<Obj> {
  const v = validArbitrary(value, { ...c, path: [...c.path, "{}"], depth: c.depth + 1 });
  const keys = value["x-kubernetes-int-or-string"] ? fc.constantFrom("cpu", "memory", "ephemeral-storage") : fc.constantFrom(...MAP_KEYS);
  return fc.dictionary(keys, v, { maxKeys: 3 });
}

function objectArb(s: Schema, c: Ctx): fc.Arbitrary<unknown> {
  const props = (s.properties ?? {}) as Record<string, Schema>;
  const names = Object.keys(props);
  if (names.length === 0) {
    if (s["x-kubernetes-preserve-unknown-fields"]) return fc.constant({});
    if (s.additionalProperties && typeof s.additionalProperties === "object") return mapArb(s.additionalProperties as Schema, c);
    const pp = s.patternProperties as Record<string, Schema> | undefined;
    if (pp && Object.keys(pp).length) return mapArb(Object.values(pp)[0]!, c);
    return fc.constant({});
  }
  const required = new Set((s.required as string[] | undefined) ?? []);
  const child = (k: string) => validArbitrary(props[k]!, { ...c, path: [...c.path, k], depth: c.depth + 1 }).map((v) => [k, v] as [string, unknown]);
  const fixed = fc.tuple(...names.filter((k) => required.has(k)).map(child));
  const optional = names.filter((k) => !required.has(k));
  let arb: fc.Arbitrary<Obj>;
  if (exactlyOne(s) && optional.length) {
    arb = fc.tuple(fixed, fc.constantFrom(...optional).chain(child)).map(([f, one]) => Object.fromEntries([...f, one]));
  } else {
    const keep = KEEP_PERCENT[Math.min(c.depth, KEEP_PERCENT.length - 1)];
    const maybe = optional.map((k) => fc.oneof({ weight: 100 - keep, arbitrary: fc.constant(undefined) }, { weight: keep, arbitrary: child(k) }));
    arb = fc.tuple(fixed, fc.tuple(...maybe)).map(([f, o]) => Object.fromEntries([...f, ...o.filter((e): e is [string, unknown] => e !== undefined)]));
  }
  const rules = checkedRules(s);
  return rules.length ? arb.filter((v) => rules.every((r) => celCheck(r)!(v))) : arb;
}

function kindSchema(kind: Kind): { spec: Schema; status: Schema } {
  const props = (kindInfo(kind).schema as Schema).properties as Record<string, Schema>;
  return { spec: props.spec!, status: props.status! };
}

/** A valid object of `kind` without metadata: apiVersion, kind and a spec the CRD and ajv accept. */
export function validBodyArbitrary(kind: Kind, world: FuzzWorld): fc.Arbitrary<Obj> {
  const info = kindInfo(kind);
  const spec = validArbitrary(kindSchema(kind).spec, { kind, path: ["spec"], depth: 0, world });
  return spec.map((s) => ({ apiVersion: `${info.group}/${info.version}`, kind, spec: s }));
}

// ---------------------------------------------------------------------------------------------
// Mutations

export type MutationOp =
  | "wrongType" | "null" | "dropRequired" | "unknownField" | "conflict" | "emptyObject"
  | "emptyString" | "hugeString" | "oddUnicode" | "hostileText" | "overMaxLength" | "patternBreak" | "enumBreak" | "formatBreak" | "semantic"
  | "refMissing" | "refCrossNamespace" | "refInvalid" | "outOfRange"
  | "emptyList" | "hugeList" | "overMaxItems" | "duplicateItems" | "hugeMap" | "oddKeys"
  | "wrongKind" | "wrongApiVersion" | "fakeStatus" | "namespaceMismatch" | "longName" | "invalidName"
  | "hugeAnnotation" | "invalidLabel" | "hostileLabel" | "hostileAnnotation" | "foreignFinalizer" | "invalidFinalizer";

export interface Mutation {
  op: MutationOp;
  /** Where, e.g. "spec.datafile.backupToolName" or "metadata.name". */
  path: string;
}

/** The randomness of one mutation: which site, which operator, which payload. */
export interface MutationSeed {
  site: number;
  op: number;
  pick: number;
  text: string;
}

// Unbiased: fast-check's bias towards small numbers would pick the first site and operator most of the time.
const uniform = (): fc.Arbitrary<number> => fc.noBias(fc.nat());
const mutationSeedArb: fc.Arbitrary<MutationSeed> = fc.record({
  site: uniform(),
  op: uniform(),
  pick: uniform(),
  text: fc.oneof(fc.string({ unit: "grapheme", maxLength: 12 }), fc.string({ unit: "binary", maxLength: 12 })),
});

interface Site {
  path: Array<string | number>;
  /** Schema path for hints (property names, "[]", "{}"). */
  schemaPath: string[];
  schema: Schema;
  holder: Obj | unknown[];
  key: string | number;
  /** A command list (its first element stays "false") or a script (its prefix stays). */
  guard?: "commands" | "script";
}

function sitePath(p: ReadonlyArray<string | number>): string {
  return p.map((x, i) => (typeof x === "number" ? `[${x}]` : i === 0 ? x : `.${x}`)).join("");
}

function typeOf(s: Schema): string {
  if (s["x-kubernetes-int-or-string"]) return "quantity";
  return typeof s.type === "string" ? s.type : "object";
}

/** Every value of the spec with its schema (after earlier mutations: re-walked each time). */
function sites(body: Obj, kind: Kind): Site[] {
  const out: Site[] = [];
  const walk = (holder: Obj | unknown[], key: string | number, schema: Schema, path: Array<string | number>, schemaPath: string[]): void => {
    const value = (holder as Record<string | number, unknown>)[key];
    const name = last(schemaPath);
    const guard = COMMAND_FIELDS.has(name) && schema.type === "array" ? "commands" : name === "script" ? "script" : undefined;
    const parentIsCommands = schemaPath[schemaPath.length - 1] === "[]" && COMMAND_FIELDS.has(schemaPath[schemaPath.length - 2] ?? "");
    if (parentIsCommands && key === 0) return; // "false" stays first
    out.push({ path, schemaPath, schema, holder, key, guard });
    if (value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      if (schema.type !== "array" || !schema.items) return;
      value.forEach((_, i) => walk(value, i, schema.items as Schema, [...path, i], [...schemaPath, "[]"]));
      return;
    }
    const props = schema.properties as Record<string, Schema> | undefined;
    if (props) {
      for (const k of Object.keys(value)) if (props[k]) walk(value as Obj, k, props[k], [...path, k], [...schemaPath, k]);
      return;
    }
    const ap = (schema.additionalProperties ?? Object.values((schema.patternProperties as Record<string, Schema> | undefined) ?? {})[0]) as Schema | boolean | undefined;
    if (ap && typeof ap === "object") for (const k of Object.keys(value)) walk(value as Obj, k, ap, [...path, k], [...schemaPath, "{}"]);
  };
  walk(body, "spec", kindSchema(kind).spec, ["spec"], ["spec"]);
  return out;
}

const pickFrom = <T>(xs: readonly T[], n: number): T => xs[n % xs.length]!;

function hugeString(pick: number): string {
  const size = pickFrom(HUGE_SIZES, pick);
  const unit = pickFrom(HUGE_UNITS, Math.floor(pick / HUGE_SIZES.length));
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

/** A sample of `arb` for a seed: how mutations get fresh valid values outside fast-check's run. */
function sampleOne<T>(arb: fc.Arbitrary<T>, seed: number): T {
  return fc.sample(arb, { seed: seed | 0, numRuns: 1 })[0]!;
}

interface MutateCtx {
  kind: Kind;
  world: FuzzWorld;
  body: Obj;
}

/** The operators that apply at a site. */
function opsFor(site: Site): MutationOp[] {
  const s = site.schema;
  const t = typeOf(s);
  const value = (site.holder as Record<string | number, unknown>)[site.key];
  const name = last(site.schemaPath);
  const ops: MutationOp[] = ["wrongType", "null"];
  // An earlier mutation may have left a value of another type here: replace it, do not look inside.
  const shape = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  if ((t === "object" && shape !== "object") || (t === "array" && shape !== "array")) return ops;
  if (t === "object") {
    const props = s.properties as Record<string, Schema> | undefined;
    if (props) {
      const required = (s.required as string[] | undefined) ?? [];
      if (required.some((k) => value !== null && typeof value === "object" && k in (value as Obj))) ops.push("dropRequired");
      ops.push("unknownField", "conflict", "emptyObject");
    } else if (s["x-kubernetes-preserve-unknown-fields"]) {
      ops.push("semantic");
    } else {
      ops.push("hugeMap", "oddKeys", "emptyObject");
    }
  } else if (t === "array") {
    ops.push("emptyList", "hugeList", "duplicateItems");
    if (num(s, "maxItems") !== undefined) ops.push("overMaxItems");
    if (SEMANTIC[name]) ops.push("semantic");
  } else if (t === "string") {
    ops.push("emptyString", "hugeString", "oddUnicode", "hostileText");
    if (site.guard === "script") return ["wrongType", "emptyString", "hugeString", "oddUnicode", "hostileText"];
    if (num(s, "maxLength") !== undefined) ops.push("overMaxLength");
    if (str(s, "pattern")) ops.push("patternBreak");
    if (Array.isArray(s.enum)) ops.push("enumBreak");
    if (str(s, "format") === "date-time") ops.push("formatBreak");
    // What only the operator judges (cron, ttl, templates, paths, env names) is drawn more often.
    if (SEMANTIC[name] || TEMPLATE_FIELDS.has(name)) ops.push("semantic", "semantic", "semantic");
  } else if (t === "integer" || t === "number") {
    ops.push("outOfRange", "outOfRange");
    if (SEMANTIC[name]) ops.push("semantic");
  } else if (t === "quantity") {
    ops.push("formatBreak", "formatBreak", "hugeString");
  } else if (t === "boolean") {
    ops.push("wrongType");
  }
  return ops;
}

function set(site: Site, v: unknown): void {
  (site.holder as Record<string | number, unknown>)[site.key] = v;
}

/** Applies one operator at a site; returns what it did (undefined: not applicable after all). */
function mutateSite(site: Site, op: MutationOp, seed: MutationSeed, m: MutateCtx): MutationOp | undefined {
  const s = site.schema;
  const value = (site.holder as Record<string | number, unknown>)[site.key];
  const name = last(site.schemaPath);
  const script = site.guard === "script";
  const text = (x: string): string => (script ? SAFE_SCRIPT_PREFIX + x : x);
  switch (op) {
    case "wrongType": {
      const t = typeOf(s);
      set(site, structuredClone(pickFrom(WRONG_TYPED[t] ?? WRONG_TYPED.object!, seed.pick)));
      return op;
    }
    case "null":
      if (site.guard) return undefined; // a pruned command list or script is merely absent: nothing hostile left
      set(site, null);
      return op;
    case "dropRequired": {
      const o = value as Obj;
      const present = ((s.required as string[] | undefined) ?? []).filter((k) => k in o);
      if (!present.length) return undefined;
      delete o[pickFrom(present, seed.pick)];
      return op;
    }
    case "unknownField":
      (value as Obj)[`fuzzUnknown${seed.pick % 3}`] = pickFrom(HOSTILE_TEXTS, seed.pick);
      return op;
    case "conflict":
      return conflict(site, seed, m) ? op : undefined;
    case "emptyObject":
      set(site, {});
      return op;
    case "emptyString":
      set(site, "");
      return op;
    case "hugeString":
      set(site, text(hugeString(seed.pick)));
      return op;
    case "oddUnicode": {
      const odd = seed.pick % 4 === 0 && seed.text ? seed.text : pickFrom(ODD_UNICODE, seed.pick);
      const base = typeof value === "string" ? value : "";
      const at = base.length ? seed.pick % (base.length + 1) : 0;
      set(site, script ? SAFE_SCRIPT_PREFIX + odd + base.slice(SAFE_SCRIPT_PREFIX.length) : base.slice(0, at) + odd + base.slice(at));
      return op;
    }
    case "hostileText":
      set(site, text(pickFrom(HOSTILE_TEXTS, seed.pick)));
      return op;
    case "overMaxLength": {
      const max = num(s, "maxLength")!;
      set(site, "a".repeat(max + 1 + (seed.pick % 3)));
      return op;
    }
    case "patternBreak": {
      const base = typeof value === "string" && value ? value : "name";
      set(site, pickFrom([base.toUpperCase() + "_X", ` ${base}`, `${base}.`, `-${base}`, `${base}/..`, `${base}\u0301`, `${base} d`, `${base}w`], seed.pick));
      return op;
    }
    case "enumBreak": {
      const base = typeof value === "string" ? value : "x";
      set(site, pickFrom([base.toUpperCase(), `${base} `, "nonsense", "", base.charAt(0).toUpperCase() + base.slice(1)].filter((x) => x !== base), seed.pick));
      return op;
    }
    case "formatBreak":
      set(site, pickFrom(typeOf(s) === "quantity" ? BAD_QUANTITIES : BAD_TIMES, seed.pick));
      return op;
    case "semantic": {
      const pool = TEMPLATE_FIELDS.has(name) ? BAD_TEMPLATES : SEMANTIC[name];
      if (!pool) return undefined;
      set(site, structuredClone(pickFrom(pool, seed.pick)));
      return op;
    }
    case "refMissing":
    case "refCrossNamespace":
    case "refInvalid": {
      const ref = refTypeOf(m.kind, site.schemaPath);
      if (!ref) return undefined;
      const pool = m.world.refs[ref];
      if (op === "refMissing") set(site, missingName(m.world.prefix, ref, 100 + (seed.pick % 10)));
      else if (op === "refCrossNamespace") {
        if (!pool.crossNamespace.length) return undefined;
        set(site, pickFrom(pool.crossNamespace, seed.pick));
      } else set(site, pickFrom(["../etc", "UPPER", "a b", "x".repeat(254), "-lead", "trail-", "dots..dots", "\u0430dmin", "ns/name"], seed.pick));
      return op;
    }
    case "outOfRange": {
      const min = num(s, "minimum");
      const max = num(s, "maximum");
      const int32 = str(s, "format") === "int32";
      const candidates = [
        ...(min !== undefined ? [min - 1] : []), ...(max !== undefined ? [max + 1] : []),
        ...(int32 ? [2 ** 31, -(2 ** 31) - 1] : [2 ** 53, -(2 ** 63)]), 1e308, -1e308, -1,
      ];
      set(site, pickFrom(candidates, seed.pick));
      return op;
    }
    case "emptyList":
      set(site, []);
      return op;
    case "hugeList":
    case "overMaxItems": {
      const arr = Array.isArray(value) ? value : [];
      const n = op === "overMaxItems" ? num(s, "maxItems")! + 1 : pickFrom(HUGE_LISTS, seed.pick);
      const item = arr.length > (site.guard === "commands" ? 1 : 0) ? arr[arr.length - 1] : site.guard === "commands" ? "x" : freshItem(site, seed, m);
      const items = Array.from({ length: n }, () => structuredClone(item));
      if (site.guard === "commands") items[0] = SAFE_COMMAND;
      set(site, items);
      return op;
    }
    case "duplicateItems": {
      const arr = Array.isArray(value) ? value : [];
      if (!arr.length) return undefined;
      arr.push(structuredClone(arr[arr.length - 1]));
      return op;
    }
    case "hugeMap": {
      const n = pickFrom([300, 2000], seed.pick);
      set(site, Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}.fuzz.example.com/key-${i}`, typeOf((s.additionalProperties as Schema | undefined) ?? {}) === "boolean" ? true : `v${i}`])));
      return op;
    }
    case "oddKeys": {
      const o = (value && typeof value === "object" ? value : {}) as Obj;
      const key = pickFrom(["", "a/b/c", "\u043a\u043b\u044e\u0447", "\u202ekey", "x".repeat(300), "kube-system", "..", "with space", "__proto__", "constructor", seed.text], seed.pick);
      const v = typeOf((s.additionalProperties as Schema | undefined) ?? {}) === "boolean" ? true : "v";
      set(site, { ...o, [key]: v });
      return op;
    }
    default:
      return undefined;
  }
}

/** A valid item for an empty list, sampled for the mutation's seed. */
function freshItem(site: Site, seed: MutationSeed, m: MutateCtx): unknown {
  const arb = validArbitrary(site.schema.items as Schema, { kind: m.kind, path: [...site.schemaPath, "[]"], depth: 2, world: m.world });
  return sampleOne(arb, seed.pick);
}

/** Fields that contradict each other: every optional field set, a second "exactly one", known clashes. */
function conflict(site: Site, seed: MutationSeed, m: MutateCtx): boolean {
  const s = site.schema;
  const o = (site.holder as Record<string | number, unknown>)[site.key] as Obj;
  if (!o || typeof o !== "object" || Array.isArray(o)) return false;
  const title = str(s, "title");
  if (title === "BackupSpec") {
    o.backupType = pickFrom(["snapshot", "logfile"], seed.pick);
    o.parentBackupName = sampleOne(refArb("backup", m.world), seed.pick);
    return true;
  }
  if (title === "BackupToolSpec" && seed.pick % 2 === 0) {
    o.deployKind = o.type === "pitr" ? "job" : "statefulSet";
    return true;
  }
  const props = (s.properties ?? {}) as Record<string, Schema>;
  const absent = Object.keys(props).filter((k) => !(k in o));
  if (!absent.length) return false;
  // One more source for an exactly-one object, every absent field otherwise.
  const add = exactlyOne(s) ? [pickFrom(absent, seed.pick)] : absent;
  for (const k of add) {
    const arb = validArbitrary(props[k]!, { kind: m.kind, path: [...site.schemaPath, k], depth: 3, world: m.world });
    o[k] = sampleOne(arb, seed.pick + k.length);
  }
  return true;
}

/** Mutations of the envelope: kind, apiVersion, status, metadata. */
function mutateEnvelope(seed: MutationSeed, m: MutateCtx): Mutation {
  const body = m.body;
  const meta = body.metadata as Obj;
  const labels = (meta.labels ??= {}) as Record<string, string>;
  const namespaced = kindInfo(m.kind).scope === "Namespaced";
  const ops: MutationOp[] = [
    "wrongKind", "wrongApiVersion", "fakeStatus", "longName", "invalidName", "hugeAnnotation", "invalidLabel",
    "hostileLabel", "hostileAnnotation", "hostileAnnotation", "foreignFinalizer", "invalidFinalizer",
    ...(namespaced ? (["namespaceMismatch"] as const) : []),
  ];
  const op = pickFrom(ops, seed.op);
  const name = String(meta.name);
  switch (op) {
    case "wrongKind":
      body.kind = pickFrom(["Pod", m.kind === "Backup" ? "RestoreJob" : "Backup", m.kind.toLowerCase(), ""], seed.pick);
      return { op, path: "kind" };
    case "wrongApiVersion": {
      const info = kindInfo(m.kind);
      body.apiVersion = pickFrom([`${info.group}/v1beta1`, "v1", `${info.group}`, `example.com/${info.version}`], seed.pick);
      return { op, path: "apiVersion" };
    }
    case "fakeStatus": {
      // The status subresource: a create must drop it; the operator must not believe it.
      const arb = validArbitrary(kindSchema(m.kind).status, { kind: m.kind, path: ["status"], depth: 0, world: m.world });
      const status = sampleOne(arb, seed.pick) as Obj;
      status.phase = pickFrom(["Completed", "Ready", "Available", "Failed"], seed.pick);
      body.status = status;
      return { op, path: "status" };
    }
    case "namespaceMismatch":
      meta.namespace = m.world.otherNamespace;
      return { op, path: "metadata.namespace" };
    case "longName": {
      // Valid names up to 253 characters (label values, Job names and childName() see them).
      const len = pickFrom([64, 100, 253], seed.pick);
      meta.name = `${name}-${"x".repeat(Math.max(0, len - name.length - 1))}`.slice(0, len).replace(/-+$/, "x");
      return { op, path: "metadata.name" };
    }
    case "invalidName":
      meta.name = pickFrom([`${name}-UPPER`, `${name}_under`, `${name}..dots`, `${name}-${"x".repeat(260)}`, `${name}-\u00e9`, `${name}-`, `${name}/slash`, `${name} space`, `${name}\u0000`], seed.pick);
      return { op, path: "metadata.name" };
    case "hugeAnnotation":
      meta.annotations = { ...(meta.annotations as Obj | undefined), "fuzz.example.com/huge": "a".repeat(pickFrom([200 << 10, 300 << 10], seed.pick)) };
      return { op, path: "metadata.annotations" };
    case "invalidLabel": {
      const [k, v] = pickFrom<[string, string]>([["bad key", "v"], ["fuzz.example.com/long", "x".repeat(64)], ["app", "\u00fcnicode"], ["app", "-lead"], ["a/b/c", "v"], ["", "v"]], seed.pick);
      labels[k] = v;
      return { op, path: `metadata.labels[${JSON.stringify(k)}]` };
    }
    case "hostileLabel": {
      const options: Array<Record<string, string>> = m.kind === "Backup"
        ? [
          { [LabelBackupRepoName]: sampleOne(refArb("repo", m.world), seed.pick) },
          { [LabelAutoBackup]: "true", [LabelBackupPolicy]: sampleOne(refArb("policy", m.world), seed.pick) },
          { [LabelBackupProtection]: "retain" },
        ]
        : [{ [LabelBackupRepoName]: sampleOne(refArb("repo", m.world), seed.pick) }, { app: "a".repeat(63) }, { "app.kubernetes.io/managed-by": "dataprotection" }];
      Object.assign(labels, pickFrom(options, seed.pick));
      return { op, path: "metadata.labels" };
    }
    case "hostileAnnotation": {
      const byKind: Partial<Record<Kind, Array<Record<string, string>>>> = {
        BackupPolicy: [
          { [AnnotationPathPrefix]: pickFrom(["../other-ns", "/etc", "a/../../b", "x".repeat(200), "ok/sub", "\u0000"], seed.pick) },
          { [AnnotationTargetPodName]: missingName(m.world.prefix, "pod", seed.pick % 10) },
        ],
        Backup: [
          { [AnnotationTargetPodName]: missingName(m.world.prefix, "pod", seed.pick % 10) },
          { [AnnotationBackupDestination]: pickFrom(["persistentVolumeClaim", "nonsense", ""], seed.pick) },
        ],
        BackupRepo: [{ [AnnotationIsDefaultRepo]: pickFrom(["true", "TRUE", "yes"], seed.pick) }],
        BackupTool: [{ [AnnotationRunAsRoot]: pickFrom(["true", "yes"], seed.pick) }],
      };
      const options = byKind[m.kind] ?? [{ "fuzz.example.com/note": pickFrom(HOSTILE_TEXTS, seed.pick) }];
      meta.annotations = { ...(meta.annotations as Obj | undefined), ...pickFrom(options, seed.pick) };
      return { op, path: "metadata.annotations" };
    }
    case "foreignFinalizer":
      // Accepted; nothing removes it but the test's cleanup (which strips every finalizer but the operator's).
      meta.finalizers = ["fuzz.example.com/hold"];
      return { op, path: "metadata.finalizers" };
    case "invalidFinalizer":
      meta.finalizers = [pickFrom(["not a finalizer", "UPPER/Case", "a/b/c", ""], seed.pick)];
      return { op, path: "metadata.finalizers" };
    default:
      throw new Error(`unreachable envelope op ${op}`);
  }
}

/** Reference operators join a site's other operators when the field is a reference. */
function opsWithRefs(site: Site, kind: Kind): MutationOp[] {
  const ops = opsFor(site);
  if (typeOf(site.schema) === "string" && refTypeOf(kind, site.schemaPath)) ops.push("refMissing", "refCrossNamespace", "refInvalid", "refMissing");
  return ops;
}

/** One mutation of `body` (in place): the envelope about one time in eight, else a site of the spec. */
function mutateOnce(seed: MutationSeed, m: MutateCtx): Mutation | undefined {
  if (seed.pick % 8 === 0) return mutateEnvelope(seed, m);
  const all = sites(m.body, m.kind);
  const site = pickFrom(all, seed.site);
  const ops = opsWithRefs(site, m.kind);
  // The drawn operator, else the next one that applies here (wrongType always does).
  for (let i = 0; i < ops.length; i++) {
    const done = mutateSite(site, pickFrom(ops, seed.op + i), seed, m);
    if (done) return { op: done, path: sitePath(site.path) };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Size cap

/** Largest object sent: below the API server's 3 MiB request and etcd's 1.5 MiB object limits. */
export const MAX_OBJECT_BYTES = 900 << 10;

export const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

/** Halves the largest string or list until the object fits; keeps command lists' first element and scripts' prefix. */
export function capSize(body: Obj, max = MAX_OBJECT_BYTES): boolean {
  let trimmed = false;
  for (let guard = 0; guard < 200 && jsonBytes(body) > max; guard++) {
    let best: { holder: Obj | unknown[]; key: string | number; size: number } | undefined;
    const visit = (holder: Obj | unknown[], key: string | number): void => {
      const v = (holder as Record<string | number, unknown>)[key];
      if (typeof v === "string" || Array.isArray(v) || (v && typeof v === "object")) {
        // Sizes as sent: a control character is six bytes of JSON. A list of one cannot shrink.
        const size = jsonBytes(v);
        const shrinkable = (typeof v === "string" && v.length > SAFE_SCRIPT_PREFIX.length) || (Array.isArray(v) && v.length > 1);
        if (shrinkable && (!best || size > best.size)) best = { holder, key, size };
        if (Array.isArray(v)) v.forEach((_, i) => visit(v, i));
        else if (v && typeof v === "object") for (const k of Object.keys(v)) visit(v as Obj, k);
      }
    };
    for (const k of Object.keys(body)) visit(body, k);
    if (!best) break;
    const v = (best.holder as Record<string | number, unknown>)[best.key];
    (best.holder as Record<string | number, unknown>)[best.key] = typeof v === "string" ? v.slice(0, Math.max(SAFE_SCRIPT_PREFIX.length, Math.floor(v.length / 2))) : (v as unknown[]).slice(0, Math.max(1, Math.ceil((v as unknown[]).length / 2)));
    trimmed = true;
  }
  return trimmed;
}

// ---------------------------------------------------------------------------------------------
// Cases

export interface FuzzCase {
  kind: Kind;
  index: number;
  /** The name sent (after any name mutation). */
  name: string;
  namespaced: boolean;
  /** The body POSTed (metadata without namespace: the URL gives it, unless a mutation set one). */
  body: Obj;
  mutations: Mutation[];
  /** POST with fieldValidation=Strict (unknown fields refused instead of pruned). */
  strict: boolean;
  /** capSize shortened something to stay under MAX_OBJECT_BYTES. */
  trimmed: boolean;
}

/** How many mutations an object gets: none (12%: valid-looking, for the operator to judge), 1 (48%), 2 (25%), 3 (15%). */
const mutationCount = (bucket: number): number => (bucket < 12 ? 0 : bucket < 60 ? 1 : bucket < 85 ? 2 : 3);

interface RawCase {
  body: Obj;
  count: number;
  seeds: MutationSeed[];
  strict: boolean;
}

function rawCaseArbitrary(kind: Kind, world: FuzzWorld): fc.Arbitrary<RawCase> {
  return fc.record({
    body: validBodyArbitrary(kind, world),
    count: fc.noBias(fc.integer({ min: 0, max: 99 })).map(mutationCount),
    seeds: fc.array(mutationSeedArb, { minLength: 3, maxLength: 3 }),
    strict: fc.noBias(fc.integer({ min: 0, max: 2 })).map((n) => n === 0),
  });
}

/** Builds case `index` of `kind` from its random draw: names it, labels it, mutates it, caps its size. */
function buildCase(kind: Kind, index: number, raw: RawCase, world: FuzzWorld): FuzzCase {
  const body = structuredClone(raw.body);
  body.metadata = { name: caseName(world.prefix, kind, index), labels: { [RUN_LABEL]: world.prefix } };
  const m: MutateCtx = { kind, world, body };
  const mutations: Mutation[] = [];
  for (const seed of raw.seeds.slice(0, raw.count)) {
    const done = mutateOnce(seed, m);
    if (done) mutations.push(done);
  }
  // The run label is how the test finds what it made: no mutation removes it.
  const meta = body.metadata as Obj;
  meta.labels = { ...((meta.labels as Obj | undefined) ?? {}), [RUN_LABEL]: world.prefix };
  const trimmed = capSize(body);
  return { kind, index, name: String(meta.name), namespaced: kindInfo(kind).scope === "Namespaced", body, mutations, strict: raw.strict, trimmed };
}

/** 32-bit seed of one kind's draw. */
function kindSeed(seed: number, kind: Kind): number {
  return (seed ^ Math.imul(KIND_ORDER.indexOf(kind) + 1, 0x9e3779b1)) | 0;
}

/** `counts[kind]` cases of every kind, in KIND_ORDER, deterministic for (seed, world). */
export function generateCases(seed: number, world: FuzzWorld, counts: Readonly<Record<Kind, number>> = DEFAULT_COUNTS): FuzzCase[] {
  const out: FuzzCase[] = [];
  for (const kind of KIND_ORDER) {
    const n = counts[kind];
    if (!n) continue;
    const raws = fc.sample(rawCaseArbitrary(kind, world), { seed: kindSeed(seed, kind), numRuns: n });
    raws.forEach((raw, i) => out.push(buildCase(kind, i, raw, world)));
  }
  return out;
}

/** `n` valid (unmutated) bodies of `kind`, for tests of the generator. */
export function sampleValidBodies(kind: Kind, world: FuzzWorld, seed: number, n: number): Obj[] {
  return fc.sample(validBodyArbitrary(kind, world), { seed, numRuns: n });
}

/** Every command list and script of a body, wherever it is (for the safety invariant). */
export function commandsAndScripts(v: unknown, found: { commands: unknown[][]; scripts: unknown[] } = { commands: [], scripts: [] }, key = ""): { commands: unknown[][]; scripts: unknown[] } {
  if (Array.isArray(v)) {
    if (COMMAND_FIELDS.has(key)) found.commands.push(v);
    v.forEach((x) => commandsAndScripts(x, found));
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (k === "script") found.scripts.push(x);
      commandsAndScripts(x, found, k);
    }
  }
  return found;
}

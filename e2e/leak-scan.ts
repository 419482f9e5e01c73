// The secret-leak scan over the whole e2e run. While the suites run, this records every version of
// every Event, every Job and Pod the operator made, every object of our kinds (their specs and
// statuses), and the operator's debug log. At the end (harness.ts registers the check) it looks
// for the values a user handed us in Secrets: repo secret access keys, encryption keys, database
// passwords (BackupPolicy target.secret) in every form we could print them (raw, base64).
// Secrets themselves are not searched: they are where those values belong.
import { Writable } from "node:stream";
import type { KubeConfig } from "@kubernetes/client-node";
import { Informer, KubeClient, type Kind, type KubeObject } from "@dataprotection/runtime";
import { Kinds } from "@dataprotection/controllers";
import { sensitiveRepoSecretKeys } from "@dataprotection/storage";

/** Shorter values ("test", "admin") would match by chance; counted, not searched. */
const MIN_SECRET_LENGTH = 8;
/** Every spelling of every repo backend's secret credential key (the storage registry's). */
const CREDENTIAL_KEYS = sensitiveRepoSecretKeys();
const MANAGED_BY = "app.kubernetes.io/managed-by";

type Obj = KubeObject & { spec?: Record<string, unknown>; data?: Record<string, string>; involvedObject?: unknown };

const SEARCHED: Kind[] = [
  Kinds.Event, Kinds.Job, Kinds.Pod, Kinds.Backup, Kinds.BackupPolicy, Kinds.BackupRepo, Kinds.BackupTool, Kinds.RestoreJob, Kinds.StorageProvider,
  Kinds.APIManagerBackup, Kinds.APIManagerRestore,
];

export interface LeakReport {
  values: number;
  skippedShort: number;
  texts: number;
  logLines: number;
  leaks: string[];
}

export class LeakRecorder {
  /** Operator log lines (JSON), written by the harness logger. */
  readonly log: string[] = [];
  readonly logStream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      const line = chunk.toString();
      this.log.push(line);
      if (process.env.DP_E2E_LOG) process.stderr.write(line);
      done();
    },
  });
  /** uid@resourceVersion -> "Kind ns/name" and the object's JSON. */
  private readonly texts = new Map<string, { what: string; json: string }>();
  /** ns/name -> every data value a Secret held (decoded). */
  private readonly secrets = new Map<string, Map<string, Set<string>>>();
  private readonly informers: Informer[] = [];

  async start(kc: KubeConfig): Promise<void> {
    const client = new KubeClient(kc);
    for (const kind of [...SEARCHED, Kinds.Secret]) {
      const inf = new Informer(client, kind, { optional: true });
      const seen = (o: KubeObject) => this.record(kind, o as Obj);
      inf.addHandler({ onAdd: seen, onUpdate: (_old, o) => seen(o), onDelete: seen });
      inf.start();
      this.informers.push(inf);
    }
    await Promise.all(this.informers.map((i) => i.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private record(kind: Kind, o: Obj): void {
    const ns = o.metadata.namespace ?? "";
    const name = o.metadata.name ?? "";
    if (kind === Kinds.Secret) {
      const keys = this.secrets.get(`${ns}/${name}`) ?? new Map<string, Set<string>>();
      for (const [k, v] of Object.entries(o.data ?? {})) {
        const set = keys.get(k) ?? new Set<string>();
        set.add(Buffer.from(v, "base64").toString("utf8"));
        keys.set(k, set);
      }
      this.secrets.set(`${ns}/${name}`, keys);
      return;
    }
    // Pods and Jobs the tests made themselves (database fixtures with literal passwords) are not ours.
    if ((kind === Kinds.Pod || kind === Kinds.Job) && o.metadata.labels?.[MANAGED_BY] !== "dataprotection") return;
    const { managedFields: _m, ...metadata } = o.metadata as KubeObject["metadata"] & { managedFields?: unknown };
    this.texts.set(`${o.metadata.uid}@${o.metadata.resourceVersion}`, { what: `${kind.kind} ${ns ? `${ns}/` : ""}${name}`, json: JSON.stringify({ ...o, metadata }) });
  }

  /** The secret values the recorded objects point at: repo credentials and keys, database passwords. */
  private secretValues(): { values: Map<string, string>; skippedShort: number } {
    const values = new Map<string, string>();
    let skippedShort = 0;
    const add = (ref: string, keys: string[] | undefined) => {
      for (const [k, set] of this.secrets.get(ref) ?? []) {
        if (keys && !keys.includes(k)) continue;
        for (const v of set) {
          if (v.length < MIN_SECRET_LENGTH) skippedShort++;
          else values.set(v, `Secret ${ref} key ${k}`);
        }
      }
    };
    for (const { json } of this.texts.values()) {
      const o = JSON.parse(json) as Obj;
      const spec = (o.spec ?? {}) as Record<string, { name?: string; namespace?: string; keySecretRef?: { name: string; namespace: string; key: string } } | undefined>;
      if (o.kind === "BackupRepo") {
        const cred = spec.credential;
        if (cred?.name) add(`${cred.namespace ?? "default"}/${cred.name}`, CREDENTIAL_KEYS);
        const key = spec.encryption?.keySecretRef;
        if (key) add(`${key.namespace}/${key.name}`, [key.key]);
      }
      if (o.kind === "BackupPolicy") {
        for (const section of ["datafile", "logfile", "snapshot"]) {
          const target = (spec[section] as { target?: { secret?: { name?: string; passwordKey?: string } } } | undefined)?.target;
          if (target?.secret?.name) add(`${o.metadata.namespace}/${target.secret.name}`, [target.secret.passwordKey ?? "password"]);
        }
      }
    }
    return { values, skippedShort };
  }

  scan(): LeakReport {
    const { values, skippedShort } = this.secretValues();
    const needles = [...values].flatMap(([v, from]) => [{ needle: v, from, form: "raw" }, { needle: Buffer.from(v).toString("base64"), from, form: "base64" }]);
    const leaks: string[] = [];
    for (const { what, json } of this.texts.values()) {
      for (const n of needles) if (json.includes(n.needle)) leaks.push(`${n.from} (${n.form}) in ${what}`);
    }
    for (const [i, line] of this.log.entries()) {
      for (const n of needles) if (line.includes(n.needle)) leaks.push(`${n.from} (${n.form}) in operator log line ${i + 1}: ${line.slice(0, 200)}`);
    }
    return { values: values.size, skippedShort, texts: this.texts.size, logLines: this.log.length, leaks: [...new Set(leaks)] };
  }
}

// The generated CRDs against a real kube-apiserver: they install, accept the examples,
// reject invalid objects with messages naming the field, and serve the printer columns.
import { expect } from "chai";
import { request } from "node:https";
import { randomBytes } from "node:crypto";
import { ApiextensionsV1Api, CoreV1Api, KubernetesObjectApi, dumpYaml, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { parse } from "yaml";
import { sharedControlPlane, installCrds } from "@dataprotection/testenv";
import { crdDocuments, kinds, kindInfo, type Kind } from "@dataprotection/api";
import { loadExamples, example, type Manifest } from "../src/testdata/examples.ts";
import { invalidCases } from "../src/testdata/invalid.ts";

const ns = `api-crds-${randomBytes(3).toString("hex")}`;
let kc: KubeConfig;
let objects: KubernetesObjectApi;

/** Places an example in the test namespace, or gives a cluster-scoped one a name no other suite uses. */
function placed(obj: Manifest): Manifest {
  const copy = structuredClone(obj);
  if (kindInfo(copy.kind).scope === "Namespaced") copy.metadata.namespace = ns;
  else copy.metadata.name = `${copy.metadata.name}-${ns}`;
  return copy;
}

/** The API server's message for a rejected request (fails the test if it was accepted). */
async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: number; body?: unknown };
    const body = typeof err.body === "string" ? (JSON.parse(err.body) as { message?: string }) : (err.body as { message?: string } | undefined);
    return { code: err.code ?? 0, message: body?.message ?? String(e) };
  }
  throw new Error("the API server accepted the object");
}

function getTable(path: string): Promise<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }> {
  return new Promise((resolveTable, reject) => {
    const url = new URL(path, kc.getCurrentCluster()?.server);
    const opts = { method: "GET", hostname: url.hostname, port: url.port, path: url.pathname, headers: { Accept: "application/json;as=Table;g=meta.k8s.io;v=v1" } };
    kc.applyToHTTPSOptions(opts).then(() => {
      const req = request(opts, (res) => {
        let data = "";
        res.on("data", (c: Buffer) => (data += c.toString()));
        res.on("end", () => (res.statusCode === 200 ? resolveTable(JSON.parse(data)) : reject(new Error(`${res.statusCode}: ${data}`))));
      });
      req.on("error", reject);
      req.end();
    }, reject);
  });
}

describe("api CRDs on a real API server", function () {
  this.timeout(180_000);

  before(async () => {
    const cp = await sharedControlPlane();
    kc = cp.kubeConfig;
    // client-node's typed serializer drops wire-format keys it does not map (x-kubernetes-*,
    // default), so hand it its model form; the test below checks nothing was lost.
    await installCrds(kc, crdDocuments() as KubernetesObject[]);
    objects = kc.makeApiClient(KubernetesObjectApi);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  });

  after(async () => {
    if (!kc) return;
    if (!objects) return;
    await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
    for (const { obj } of loadExamples()) {
      if (kindInfo(obj.kind).scope === "Cluster") await objects.delete(placed(obj)).catch(() => undefined);
    }
  });

  it("installs every CRD as structural, established and with accepted names", async () => {
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    for (const doc of crdDocuments()) {
      const crd = await ext.readCustomResourceDefinition({ name: doc.metadata.name });
      const conds = Object.fromEntries((crd.status?.conditions ?? []).map((c) => [c.type, c.status]));
      expect(conds, doc.metadata.name).to.include({ Established: "True", NamesAccepted: "True" });
      expect(conds, `${doc.metadata.name} must be structural`).not.to.have.property("NonStructuralSchema");
      expect(crd.spec.versions[0].subresources?.status, doc.metadata.name).to.deep.equal({});
      const stored = (parse(dumpYaml(crd)) as { spec: { versions: { schema: unknown }[] } }).spec.versions[0].schema;
      expect(stored, `${doc.metadata.name}: the stored schema differs from the generated one`)
        .to.deep.equal((doc.spec.versions as { schema: unknown }[])[0].schema);
    }
    expect(crdDocuments()).to.have.length(kinds.length);
  });

  it("accepts every example, applies the schema defaults, and deletes it", async () => {
    const examples = loadExamples();
    expect(examples.map((e) => e.obj.kind).sort()).to.deep.equal(kinds.map((k) => k.kind).sort());
    for (const { file, obj } of examples) {
      const created = await objects.create(placed(obj));
      expect(created.metadata?.uid, file).to.be.a("string");
      await objects.delete(created);
    }
    const bp = placed(example("BackupPolicy"));
    delete (bp.spec.datafile as { backupsHistoryLimit?: number }).backupsHistoryLimit;
    const stored = (await objects.create(bp)) as unknown as Manifest;
    const datafile = stored.spec.datafile as { backupsHistoryLimit: number; target: { secret: { usernameKey: string } } };
    expect(datafile.backupsHistoryLimit).to.equal(7);
    expect(datafile.target.secret.usernameKey).to.equal("username");
    await objects.delete(stored);
  });

  describe("rejects invalid objects with a message naming the field", () => {
    const cases = invalidCases();
    it("has at least 40 cases", () => expect(cases.length).to.be.at.least(40));
    for (const c of cases) {
      it(`${c.kind}: ${c.name} -> ${c.field}`, async () => {
        const { code, message } = await rejection(objects.create(placed(c.obj), undefined, "All"));
        expect(code, message).to.equal(422);
        expect(message).to.include(c.field);
      });
    }
  });

  it("serves the printer columns through the Table API", async () => {
    const expected: Partial<Record<Kind, string[]>> = {
      Backup: ["POLICY", "TYPE", "STATUS", "TOTAL-SIZE", "DURATION", "CREATION-TIME", "COMPLETION-TIME"],
      BackupPolicy: ["STATUS", "LAST-SCHEDULE"],
      BackupRepo: ["STATUS", "STORAGE-PROVIDER", "DEFAULT"],
      RestoreJob: ["STATUS", "BACKUP"],
      APIManagerBackup: ["COMPLETED", "PVC"],
    };
    for (const info of kinds) {
      const obj = placed(example(info.kind));
      await objects.create(obj);
      const base = `/apis/${info.group}/${info.version}`;
      const table = await getTable(info.scope === "Namespaced" ? `${base}/namespaces/${ns}/${info.plural}` : `${base}/${info.plural}`);
      const names = table.columnDefinitions.map((c) => c.name);
      expect(names[0]).to.equal("Name");
      expect(names.slice(1), info.kind).to.deep.equal(info.printerColumns.map((c) => c.name));
      for (const col of expected[info.kind] ?? []) expect(names, info.kind).to.include(col);
      const row = table.rows.find((r) => r.cells[0] === obj.metadata.name);
      expect(row, `${info.kind} row`).not.to.equal(undefined);
      if (info.kind === "Backup") expect(row?.cells.slice(1, 3)).to.deep.equal(["pg-cluster-postgresql-backup-policy", "datafile"]);
      if (info.kind === "BackupRepo") expect(row?.cells[2]).to.equal("local-pvc");
      if (info.kind === "RestoreJob") expect(row?.cells[2]).to.equal("pg-cluster-manual-20240101");
      await objects.delete(obj);
    }
  });

  it("rejects a change to a Backup's spec", async () => {
    const created = await objects.create(placed(example("Backup")));
    const changed = { ...created, spec: { backupPolicyName: "another-policy", backupType: "datafile" } };
    const { code, message } = await rejection(objects.replace(changed));
    expect(code).to.equal(422);
    expect(message).to.include("spec: is immutable");
    const labelled = await objects.replace({ ...created, metadata: { ...created.metadata, labels: { touched: "yes" } } });
    expect(labelled.metadata?.labels).to.deep.equal({ touched: "yes" });
    await objects.delete(created);
  });

  it("rejects a change to a BackupRepo's storageProviderRef", async () => {
    const created = (await objects.create(placed(example("BackupRepo")))) as unknown as Manifest;
    const changed = { ...created, spec: { ...created.spec, storageProviderRef: "s3-provider" } };
    const { code, message } = await rejection(objects.replace(changed as KubernetesObject));
    expect(code).to.equal(422);
    expect(message).to.include("spec.storageProviderRef: is immutable");
    await objects.delete(created);
  });
});

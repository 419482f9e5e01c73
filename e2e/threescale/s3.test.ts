// System FileStorage on S3 (versitygw): the bucket's objects are backed up with the credentials
// of the APIManager's configuration Secret and put back into the bucket on restore.
import { expect } from "chai";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { APIManagerBackupStatus, APIManagerRestoreStatus } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { backendFromConfig } from "@dataprotection/storage";
import { threescaleControllers } from "@dataprotection/threescale";
import { startS3Server, type S3Server } from "../../packages/storage/test/s3-server.ts";
import { e2eCluster, startTestOperator, testNamespace } from "../harness.ts";
import { hostPathOf, readTree } from "../backup/fixtures.ts";
import { G, StandIn3scale, V, apiManager, crStatus, installApiManagerCrd, seed3scale } from "./fixtures.ts";

const done = (s: { completed?: boolean; failureReason?: string }) => s.completed === true || !!s.failureReason;

describe("3scale: S3 System FileStorage", function () {
  this.timeout(300_000);
  let op: Operator;
  let kc: KubeConfig;
  let standIn: StandIn3scale;
  let s3: S3Server;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installApiManagerCrd(kc);
    s3 = await startS3Server(["threescale-files"]);
    standIn = new StandIn3scale(kc);
    standIn.start();
    op = await startTestOperator({ controllers: ["backup", "restorejob"], timeouts: { podStartMs: 60_000 } }, [threescaleControllers({ readyTimeoutSeconds: 30, env: [{ name: "THREESCALE_POLL_MS", value: "300" }] })]);
  });
  after(async () => {
    standIn?.stop();
    await op?.stop();
    await s3?.stop();
  });

  it("backs up the bucket's objects and restores them into the bucket, byte-identical", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const api = kc.makeApiClient(CustomObjectsApi);
    const bucket = backendFromConfig({ kind: "s3", bucket: "threescale-files", endpoint: s3.endpoint, forcePathStyle: true, region: "us-east-1", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    const objects = new Map<string, Buffer>([["logos/a.png", Buffer.from([0x89, 0x50, 0, 255, 7])], ["docs/nested/deep/readme.txt", Buffer.from("hello s3\n")], ["top.bin", Buffer.alloc(70_000, 0xab)]]);
    for (const [k, v] of objects) await bucket.put(k, v);
    const secret = { metadata: { name: "aws-auth" }, stringData: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_BUCKET: "threescale-files", AWS_REGION: "us-east-1", AWS_HOSTNAME: s3.endpoint, AWS_PATH_STYLE: "true" } };
    const ns = await testNamespace(kc, "apim-s3");
    try {
      standIn.namespaces.add(ns.name);
      await core.createNamespacedSecret({ namespace: ns.name, body: secret });
      await seed3scale(kc, ns.name, apiManager("s3-am", { simpleStorageService: { configurationSecretRef: { name: "aws-auth" } } }));
      await api.createNamespacedCustomObject({ group: G, version: V, namespace: ns.name, plural: "apimanagerbackups", body: { apiVersion: `${G}/${V}`, kind: "APIManagerBackup", metadata: { name: "b" }, spec: { backupDestination: { persistentVolumeClaim: { resources: { requests: "100Mi" } } } } } });
      const bs = await crStatus<APIManagerBackupStatus>(kc, "apimanagerbackups", ns.name, "b", done);
      expect(bs.failureReason).to.equal(undefined);
      const tree = await readTree(await hostPathOf(kc, ns.name, "b"));
      for (const [k, v] of objects) expect(tree.get(`system-filestorage-s3/${k}`)?.equals(v), k).to.equal(true);

      // Lose the bucket's contents and the APIManager, then restore into the same namespace.
      for (const k of objects.keys()) await bucket.delete(k);
      await api.deleteNamespacedCustomObject({ group: G, version: V, namespace: ns.name, plural: "apimanagers", name: "s3-am" });
      await api.createNamespacedCustomObject({ group: G, version: V, namespace: ns.name, plural: "apimanagerrestores", body: { apiVersion: `${G}/${V}`, kind: "APIManagerRestore", metadata: { name: "r" }, spec: { restoreSource: { apiManagerBackup: { name: "b" } } } } });
      const rs = await crStatus<APIManagerRestoreStatus>(kc, "apimanagerrestores", ns.name, "r", done);
      expect(rs.failureReason).to.equal(undefined);
      expect(rs.apiManagerToRestoreRef).to.deep.equal({ name: "s3-am" });
      for (const [k, v] of objects) {
        const chunks: Buffer[] = [];
        for await (const c of await bucket.get(k)) chunks.push(c as Buffer);
        expect(Buffer.concat(chunks).equals(v), k).to.equal(true);
      }
      expect(await standIn.resyncLog(ns.name)).to.have.length(1);
    } finally {
      await ns.cleanup();
    }
  });
});

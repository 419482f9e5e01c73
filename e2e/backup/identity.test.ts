// Tools with their own identity (BackupTool.spec.serviceAccountName) and tools without a target
// pod (spec.targetless), as the 3scale CLI tool needs: the pod gets the ServiceAccount's token,
// no DB_HOST, no target volumes; a missing ServiceAccount fails the Backup with a clear reason.
import { expect } from "chai";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { BatchV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, startTestOperator, testNamespace, untilEventReasons } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, hostPathOf, installShared, REPO, testTimeouts, tool } from "./fixtures.ts";

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const cliTool = tool("e2e-sa-cli", ["sh", "-c", [
  "set -e",
  `test -s ${SA_DIR}/token`,
  'mkdir -p "$BACKUP_DIR"',
  `{ echo "namespace=$(cat ${SA_DIR}/namespace)"; echo "db_host=\${DB_HOST:-none}"; } > "$BACKUP_DIR/identity.txt"`,
].join("\n")], { serviceAccountName: "threescale-cli", targetless: true });

describe("Backup: tools with their own ServiceAccount and no target pod", function () {
  this.timeout(180_000);
  let op: Operator;

  before(async () => {
    const { controlPlane } = await e2eCluster();
    await installShared(controlPlane.kubeConfig, [cliTool]);
    op = await startTestOperator({ controllers: ["backup"], timeouts: testTimeouts });
  });
  after(async () => op?.stop());

  it("runs a targetless tool with the ServiceAccount's token and no DB_HOST; without the ServiceAccount the Backup fails with ServiceAccountNotFound", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const ns = await testNamespace(kc, "bk-ident");
    try {
      const spec = { datafile: { backupToolName: cliTool.metadata!.name!, backupRepoName: REPO, target: { labelsSelector: {} } } };
      await createPolicy(kc, ns.name, "api", spec as never);

      await createBackup(kc, ns.name, "no-sa", "api");
      const failed = await backupInPhase(kc, ns.name, "no-sa", ["Failed"], 60_000);
      expect(failed.status!.failureReason).to.match(/^ServiceAccountNotFound: ServiceAccount ".*\/threescale-cli"/);
      // The Event is written in the background, after the Failed status.
      expect((await untilEventReasons(kc, ns.name, "no-sa", ["ServiceAccountNotFound"])).map((e) => e.reason)).to.include("ServiceAccountNotFound");

      await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: "threescale-cli" } } });
      await createBackup(kc, ns.name, "cli1", "api");
      const b = await backupInPhase(kc, ns.name, "cli1", ["Completed"], 120_000);
      expect(b.status!.manifests?.target).to.equal(undefined);
      expect((b.status!.manifests!.backupTool!.files ?? []).map((f) => f.name)).to.deep.equal(["identity.txt"]);

      const jobs = await batch.listNamespacedJob({ namespace: ns.name, labelSelector: "dataprotection.kubeblocks.io/backup-name=cli1" });
      const podSpec = jobs.items[0].spec!.template.spec!;
      expect(podSpec.serviceAccountName).to.equal("threescale-cli");
      expect(podSpec.automountServiceAccountToken).to.equal(true);
      expect(podSpec.affinity).to.equal(undefined);
      // Only the repo's volume: nothing of a target.
      expect(podSpec.volumes!.map((v) => v.persistentVolumeClaim?.claimName)).to.deep.equal([b.status!.persistentVolumeClaimName]);

      const dir = join(await hostPathOf(kc, ns.name, b.status!.persistentVolumeClaimName!), ns.name, "cli1");
      const out = await readFile(join(dir, "identity.txt"), "utf8");
      expect(out).to.contain(`namespace=${ns.name}\n`);
      expect(out).to.contain("db_host=none\n");
    } finally {
      await ns.cleanup();
    }
  });
});

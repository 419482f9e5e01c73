import { expect } from "chai";
import type { Backup, BackupPolicy } from "@dataprotection/api";
import { backupObject, generatedName, importObject, parseSecret, parseSelector, parseVolume, restoreJobObject } from "./objects.ts";
import { age, backupTable, formatTable, policyTable } from "./table.ts";
import { parseDuration } from "./wait.ts";

const NOW = new Date("2026-11-23T22:15:00Z");

const policy: BackupPolicy = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupPolicy", metadata: { name: "pg", namespace: "db" },
  spec: {
    datafile: { target: { labelsSelector: { matchLabels: { app: "pg" } }, secret: { name: "pg-cred", usernameKey: "user", passwordKey: "pw" } }, backupsHistoryLimit: 7, backupToolName: "pg-dump" },
    schedule: { datafile: { enable: true, cronExpression: "0 3 * * *" }, logfile: { enable: false, cronExpression: "*/5 * * * *" } },
  },
} as BackupPolicy;
const backup = (name: string, extra: Partial<Backup> = {}): Backup => ({
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup", metadata: { name, namespace: "db", creationTimestamp: "2026-11-23T21:00:00Z" },
  spec: { backupPolicyName: "pg", backupType: "datafile" }, status: { phase: "Completed", totalSize: "12Mi", duration: "4s" }, ...extra,
}) as Backup;

describe("kubectl-dp objects", () => {
  it("names a backup <policy>-<yyyymmddhhmmss>, cut to 63 characters", () => {
    expect(generatedName("pg", NOW)).to.equal("pg-20261123221500");
    const long = generatedName("a".repeat(70), NOW);
    expect(long).to.have.length(63);
    expect(long.endsWith("-20261123221500")).to.equal(true);
  });

  it("builds a Backup: type, parent, the PVC destination annotation; refuses bad input with the flag's name", () => {
    expect(backupObject({ policy: "pg", type: "datafile" }, "db", NOW)).to.deep.equal({
      apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup", metadata: { name: "pg-20261123221500", namespace: "db" },
      spec: { backupPolicyName: "pg", backupType: "datafile" },
    });
    const inc = backupObject({ policy: "pg", type: "datafile", name: "inc-1", parent: "full-1", toPvc: true }, "db", NOW);
    expect(inc.spec.parentBackupName).to.equal("full-1");
    expect(inc.metadata?.annotations).to.deep.equal({ "dataprotection.kubeblocks.io/backup-destination": "persistentVolumeClaim" });
    expect(() => backupObject({ policy: "pg", type: "snapshot", parent: "full-1" }, "db", NOW)).to.throw("only datafile backups");
    expect(() => backupObject({ policy: "pg", type: "datafile", name: "Bad_Name" }, "db", NOW)).to.throw('backup name "Bad_Name" is not a valid name');
  });

  it("builds an import: repo and path as given, named after the path's last name, filed under policy imported; refuses a path that climbs out", () => {
    expect(importObject({ repo: "s3", path: "/shop/Nightly_1" }, "dr", NOW)).to.deep.equal({
      apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup", metadata: { name: "nightly-1-20261123221500", namespace: "dr" },
      spec: { backupPolicyName: "imported", backupType: "datafile", importFrom: { backupRepoName: "s3", path: "/shop/Nightly_1" } },
    });
    expect(importObject({ repo: "s3", path: "shop/n1", name: "n1", policy: "shop" }, "dr", NOW).spec).to.deep.include({ backupPolicyName: "shop" });
    for (const bad of ["../etc", "/shop/../x", "a//b", "/"]) expect(() => importObject({ repo: "s3", path: bad }, "dr", NOW), bad).to.throw("is not a backup path");
    expect(() => importObject({ repo: "S3", path: "a/b" }, "dr", NOW)).to.throw('repo "S3" is not a valid name');
  });

  it("parses selectors, volumes and secrets, naming what is wrong", () => {
    expect(parseSelector("app=pg, role=primary")).to.deep.equal({ app: "pg", role: "primary" });
    expect(() => parseSelector("app")).to.throw('"app" is not key=value');
    expect(parseVolume("data:data-pg-0:/var/lib/pg")).to.deep.equal({ volume: { name: "data", persistentVolumeClaim: { claimName: "data-pg-0" } }, mount: { name: "data", mountPath: "/var/lib/pg" } });
    expect(() => parseVolume("data:/var/lib/pg")).to.throw("expected NAME:CLAIM:/MOUNT/PATH");
    expect(parseSecret("cred")).to.deep.equal({ name: "cred", usernameKey: "username", passwordKey: "password" });
    expect(parseSecret("cred:u:p")).to.deep.equal({ name: "cred", usernameKey: "u", passwordKey: "p" });
    expect(() => parseSecret("cred:u")).to.throw("NAME:USERNAME_KEY:PASSWORD_KEY");
  });

  it("restores to the policy's target by default, or to --selector/--secret; a restore time must be RFC 3339", () => {
    const rj = restoreJobObject({ backup: "b1", volumes: ["data:data-pg-0:/data"] }, backup("b1"), policy, "db", NOW);
    expect(rj.metadata?.name).to.equal("b1-restore-20261123221500");
    expect(rj.spec).to.deep.equal({
      backupJobName: "b1",
      target: { labelsSelector: { matchLabels: { app: "pg" } }, secret: { name: "pg-cred", usernameKey: "user", passwordKey: "pw" } },
      targetVolumes: [{ name: "data", persistentVolumeClaim: { claimName: "data-pg-0" } }],
      targetVolumeMounts: [{ name: "data", mountPath: "/data" }],
    });
    const elsewhere = restoreJobObject({ backup: "b1", name: "r1", selector: "app=pg2", volumes: [], restoreTime: "2026-11-23T10:00:00+01:00", onFailAttempted: 2 }, backup("b1"), policy, "db", NOW);
    expect(elsewhere.spec.target).to.deep.equal({ labelsSelector: { matchLabels: { app: "pg2" } } });
    expect(elsewhere.spec.restoreTime).to.equal("2026-11-23T09:00:00Z");
    expect(elsewhere.spec.onFailAttempted).to.equal(2);
    expect(() => restoreJobObject({ backup: "b1", volumes: [], restoreTime: "yesterday" }, backup("b1"), policy, "db", NOW)).to.throw("RFC 3339");
    expect(() => restoreJobObject({ backup: "b1", volumes: [] }, backup("b1"), undefined, "db", NOW)).to.throw("its policy pg is gone): pass --selector");
  });
});

describe("kubectl-dp tables", () => {
  it("prints ages like kubectl", () => {
    expect(age("2026-11-23T22:14:30Z", NOW)).to.equal("30s");
    expect(age("2026-11-23T22:10:00Z", NOW)).to.equal("5m");
    expect(age("2026-11-23T20:00:00Z", NOW)).to.equal("135m");
    expect(age("2026-11-23T17:00:00Z", NOW)).to.equal("5h15m");
    expect(age("2026-11-20T22:15:00Z", NOW)).to.equal("3d");
    expect(age(undefined, NOW)).to.equal("<unknown>");
  });

  it("lists backups oldest first with policy, type, phase, size, duration and parent; -A adds the namespace", () => {
    const older = backup("full", { metadata: { name: "full", namespace: "db", creationTimestamp: "2026-11-23T20:00:00Z" } } as Partial<Backup>);
    const inc = backup("inc", { spec: { backupPolicyName: "pg", backupType: "datafile", parentBackupName: "full" }, status: { phase: "InProgress" } } as Partial<Backup>);
    const t = backupTable([inc, older], false, NOW);
    expect(formatTable(t.header, t.rows).split("\n")).to.deep.equal([
      "NAME   POLICY   TYPE       PHASE        SIZE   DURATION   PARENT   AGE",
      "full   pg       datafile   Completed    12Mi   4s                  135m",
      "inc    pg       datafile   InProgress                     full     75m",
    ]);
    expect(backupTable([inc], true, NOW).rows[0]![0]).to.equal("db");
  });

  it("lists policies with their enabled schedules", () => {
    expect(policyTable([policy], false, NOW).rows[0]!.slice(0, 3)).to.deep.equal(["pg", "", "datafile: 0 3 * * *"]);
  });

  it("parses --timeout durations", () => {
    expect(parseDuration("90")).to.equal(90_000);
    expect(parseDuration("1h30m")).to.equal(5_400_000);
    expect(() => parseDuration("soon")).to.throw("not a duration");
  });
});

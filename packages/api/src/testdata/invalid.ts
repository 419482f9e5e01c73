// Invalid objects, each made by breaking one field of an example. `field` is what the
// rejection message must name. Shared by the ajv unit test and the API-server test.
import type { Kind } from "../constants.ts";
import { example, type Manifest } from "./examples.ts";

export interface InvalidCase {
  name: string;
  kind: Kind;
  field: string;
  obj: Manifest;
}

type Obj = Record<string, unknown>;
type Breaker = (spec: Obj) => void;

const o = (v: unknown): Obj => v as Obj;
const at = (spec: Obj, ...path: string[]): Obj => path.reduce((acc, p) => o(acc[p]), spec);

function make(kind: Kind, name: string, field: string, brk: Breaker): InvalidCase {
  const obj = structuredClone(example(kind));
  obj.metadata = { name: `invalid-${kind.toLowerCase()}` };
  brk(obj.spec);
  return { name, kind, field, obj };
}

export function invalidCases(): InvalidCase[] {
  return [
    // Backup
    make("Backup", "missing backupPolicyName", "spec.backupPolicyName", (s) => { delete s.backupPolicyName; }),
    make("Backup", "unknown backupType", "spec.backupType", (s) => { s.backupType = "full"; }),
    make("Backup", "backupPolicyName not a DNS name", "spec.backupPolicyName", (s) => { s.backupPolicyName = "Daily_Policy"; }),
    make("Backup", "parentBackupName on a snapshot", "spec.parentBackupName", (s) => { s.backupType = "snapshot"; s.parentBackupName = "base"; }),
    make("Backup", "parentBackupName not a DNS name", "spec.parentBackupName", (s) => { s.parentBackupName = "-base"; }),
    make("Backup", "backupPolicyName not a string", "spec.backupPolicyName", (s) => { s.backupPolicyName = 7; }),
    // BackupPolicy
    make("BackupPolicy", "ttl with a bad unit", "spec.retention.ttl", (s) => { at(s, "retention").ttl = "7w"; }),
    make("BackupPolicy", "ttl without a number", "spec.retention.ttl", (s) => { at(s, "retention").ttl = "d"; }),
    make("BackupPolicy", "negative startingDeadlineMinutes", "spec.schedule.startingDeadlineMinutes", (s) => { at(s, "schedule").startingDeadlineMinutes = -1; }),
    make("BackupPolicy", "startingDeadlineMinutes over a day", "spec.schedule.startingDeadlineMinutes", (s) => { at(s, "schedule").startingDeadlineMinutes = 1441; }),
    make("BackupPolicy", "schedule without cronExpression", "spec.schedule.datafile.cronExpression", (s) => { delete at(s, "schedule", "datafile").cronExpression; }),
    make("BackupPolicy", "schedule enable not a bool", "spec.schedule.datafile.enable", (s) => { at(s, "schedule", "datafile").enable = "yes"; }),
    make("BackupPolicy", "negative datafile backupsHistoryLimit", "spec.datafile.backupsHistoryLimit", (s) => { at(s, "datafile").backupsHistoryLimit = -1; }),
    make("BackupPolicy", "negative datafile onFailAttempted", "spec.datafile.onFailAttempted", (s) => { at(s, "datafile").onFailAttempted = -2; }),
    make("BackupPolicy", "negative snapshot onFailAttempted", "spec.snapshot.onFailAttempted", (s) => { at(s, "snapshot").onFailAttempted = -1; }),
    make("BackupPolicy", "negative logfile backupsHistoryLimit", "spec.logfile.backupsHistoryLimit", (s) => { at(s, "logfile").backupsHistoryLimit = -5; }),
    make("BackupPolicy", "datafile without backupToolName", "spec.datafile.backupToolName", (s) => { delete at(s, "datafile").backupToolName; }),
    make("BackupPolicy", "datafile without target", "spec.datafile.target", (s) => { delete at(s, "datafile").target; }),
    make("BackupPolicy", "target without labelsSelector", "spec.datafile.target.labelsSelector", (s) => { delete at(s, "datafile", "target").labelsSelector; }),
    make("BackupPolicy", "selector operator not in the enum", "spec.datafile.target.labelsSelector.matchExpressions[0].operator", (s) => {
      o((at(s, "datafile", "target", "labelsSelector").matchExpressions as unknown[])[0]).operator = "Like";
    }),
    make("BackupPolicy", "selector requirement without key", "spec.datafile.target.labelsSelector.matchExpressions[0].key", (s) => {
      delete o((at(s, "datafile", "target", "labelsSelector").matchExpressions as unknown[])[0]).key;
    }),
    make("BackupPolicy", "target secret without name", "spec.datafile.target.secret.name", (s) => { delete at(s, "datafile", "target", "secret").name; }),
    make("BackupPolicy", "unknown createPolicy", "spec.logfile.persistentVolumeClaim.createPolicy", (s) => { at(s, "logfile", "persistentVolumeClaim").createPolicy = "Always"; }),
    make("BackupPolicy", "initCapacity not a quantity", "spec.logfile.persistentVolumeClaim.initCapacity", (s) => { at(s, "logfile", "persistentVolumeClaim").initCapacity = "lots"; }),
    make("BackupPolicy", "persistentVolumeConfigMap with storageClassName", "spec.logfile.persistentVolumeClaim.persistentVolumeConfigMap", (s) => {
      at(s, "logfile", "persistentVolumeClaim").persistentVolumeConfigMap = { name: "pv-template", namespace: "default" };
    }),
    make("BackupPolicy", "persistentVolumeConfigMap without namespace", "spec.logfile.persistentVolumeClaim.persistentVolumeConfigMap.namespace", (s) => {
      const pvc = at(s, "logfile", "persistentVolumeClaim");
      delete pvc.storageClassName;
      pvc.persistentVolumeConfigMap = { name: "pv-template" };
    }),
    make("BackupPolicy", "unknown backupStatusUpdates updateStage", "spec.datafile.backupStatusUpdates[0].updateStage", (s) => {
      o((at(s, "datafile").backupStatusUpdates as unknown[])[0]).updateStage = "during";
    }),
    make("BackupPolicy", "backupRepoName not a DNS name", "spec.datafile.backupRepoName", (s) => { at(s, "datafile").backupRepoName = "Local Repo"; }),
    // BackupRepo
    make("BackupRepo", "missing storageProviderRef", "spec.storageProviderRef", (s) => { delete s.storageProviderRef; }),
    make("BackupRepo", "unknown pvReclaimPolicy", "spec.pvReclaimPolicy", (s) => { s.pvReclaimPolicy = "Recycle"; }),
    make("BackupRepo", "volumeCapacity not a quantity", "spec.volumeCapacity", (s) => { s.volumeCapacity = "big"; }),
    make("BackupRepo", "config value not a string", "spec.config.subPath", (s) => { at(s, "config").subPath = 3; }),
    make("BackupRepo", "encryption without keySecretRef", "spec.encryption.keySecretRef", (s) => { delete at(s, "encryption").keySecretRef; }),
    make("BackupRepo", "unknown encryption algorithm", "spec.encryption.algorithm", (s) => { at(s, "encryption").algorithm = "ROT13"; }),
    make("BackupRepo", "keySecretRef without namespace", "spec.encryption.keySecretRef.namespace", (s) => { delete at(s, "encryption", "keySecretRef").namespace; }),
    make("BackupRepo", "unknown accessMethod", "spec.accessMethod", (s) => { s.accessMethod = "Teleport"; }),
    // BackupTool
    make("BackupTool", "backupCommands not a list", "spec.backupCommands", (s) => { s.backupCommands = "pg_basebackup"; }),
    make("BackupTool", "missing backupCommands", "spec.backupCommands", (s) => { delete s.backupCommands; }),
    make("BackupTool", "missing image", "spec.image", (s) => { delete s.image; }),
    make("BackupTool", "unknown deployKind", "spec.deployKind", (s) => { s.deployKind = "daemonSet"; }),
    make("BackupTool", "unknown type", "spec.type", (s) => { s.type = "blob"; }),
    make("BackupTool", "unknown logical podScope", "spec.logical.podScope", (s) => { at(s, "logical").podScope = "Some"; }),
    make("BackupTool", "env var without name", "spec.env[0].name", (s) => { delete o((s.env as unknown[])[0]).name; }),
    make("BackupTool", "secretKeyRef without key", "spec.env[1].valueFrom.secretKeyRef.key", (s) => { delete at(o((s.env as unknown[])[1]), "valueFrom", "secretKeyRef").key; }),
    make("BackupTool", "resource limit not a quantity", "spec.resources.limits.memory", (s) => { at(s, "resources", "limits").memory = "a lot"; }),
    make("BackupTool", "relyOnLogfile not a bool", "spec.physical.relyOnLogfile", (s) => { at(s, "physical").relyOnLogfile = "sometimes"; }),
    // RestoreJob
    make("RestoreJob", "missing backupJobName", "spec.backupJobName", (s) => { delete s.backupJobName; }),
    make("RestoreJob", "missing target", "spec.target", (s) => { delete s.target; }),
    make("RestoreJob", "negative onFailAttempted", "spec.onFailAttempted", (s) => { s.onFailAttempted = -1; }),
    make("RestoreJob", "restoreTime not a date-time", "spec.restoreTime", (s) => { s.restoreTime = "yesterday noon"; }),
    make("RestoreJob", "missing targetVolumes", "spec.targetVolumes", (s) => { delete s.targetVolumes; }),
    make("RestoreJob", "volume without name", "spec.targetVolumes[0].name", (s) => { delete o((s.targetVolumes as unknown[])[0]).name; }),
    make("RestoreJob", "PVC volume without claimName", "spec.targetVolumes[0].persistentVolumeClaim.claimName", (s) => {
      delete at(o((s.targetVolumes as unknown[])[0]), "persistentVolumeClaim").claimName;
    }),
    make("RestoreJob", "ephemeral volume without volumeClaimTemplate.spec", "spec.targetVolumes[0].ephemeral.volumeClaimTemplate.spec", (s) => {
      (s.targetVolumes as unknown[])[0] = { name: "scratch", ephemeral: { volumeClaimTemplate: { metadata: { labels: { app: "restore" } } } } };
    }),
    make("RestoreJob", "ephemeral storage request not a quantity", "spec.targetVolumes[0].ephemeral.volumeClaimTemplate.spec.resources.requests.storage", (s) => {
      (s.targetVolumes as unknown[])[0] = { name: "scratch", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "lots" } } } } } };
    }),
    make("RestoreJob", "awsElasticBlockStore without volumeID", "spec.targetVolumes[0].awsElasticBlockStore.volumeID", (s) => {
      (s.targetVolumes as unknown[])[0] = { name: "ebs", awsElasticBlockStore: { fsType: "ext4" } };
    }),
    make("RestoreJob", "volume mount without mountPath", "spec.targetVolumeMounts[0].mountPath", (s) => { delete o((s.targetVolumeMounts as unknown[])[0]).mountPath; }),
    // StorageProvider
    make("StorageProvider", "credentialFields not a list", "spec.parametersSchema.credentialFields", (s) => { at(s, "parametersSchema").credentialFields = "accessKeyId"; }),
    make("StorageProvider", "csiDriverName not a string", "spec.csiDriverName", (s) => { s.csiDriverName = 42; }),
    // APIManagerBackup
    make("APIManagerBackup", "no destination", "spec.backupDestination", (s) => { s.backupDestination = {}; }),
    make("APIManagerBackup", "two destinations", "spec.backupDestination", (s) => { at(s, "backupDestination").backupRepo = { name: "local-repo" }; }),
    make("APIManagerBackup", "missing backupDestination", "spec.backupDestination", (s) => { delete s.backupDestination; }),
    make("APIManagerBackup", "requests not a quantity", "spec.backupDestination.persistentVolumeClaim.resources.requests", (s) => {
      at(s, "backupDestination", "persistentVolumeClaim", "resources").requests = "ten gigs";
    }),
    make("APIManagerBackup", "resources without requests", "spec.backupDestination.persistentVolumeClaim.resources.requests", (s) => {
      at(s, "backupDestination", "persistentVolumeClaim").resources = {};
    }),
    // APIManagerRestore
    make("APIManagerRestore", "no source", "spec.restoreSource", (s) => { s.restoreSource = {}; }),
    make("APIManagerRestore", "two sources", "spec.restoreSource", (s) => { at(s, "restoreSource").apiManagerBackup = { name: "example-apimanagerbackup-pvc" }; }),
    make("APIManagerRestore", "claimSource without claimName", "spec.restoreSource.persistentVolumeClaim.claimSource.claimName", (s) => {
      delete at(s, "restoreSource", "persistentVolumeClaim", "claimSource").claimName;
    }),
    make("APIManagerRestore", "readOnly not a bool", "spec.restoreSource.persistentVolumeClaim.claimSource.readOnly", (s) => {
      at(s, "restoreSource", "persistentVolumeClaim", "claimSource").readOnly = "yes";
    }),
  ];
}

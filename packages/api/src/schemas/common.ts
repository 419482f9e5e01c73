// Types shared by several dataprotection kinds: the target workload and its secret.
import { Type } from "@sinclair/typebox";
import { named, str, describe } from "./helpers.ts";
import { LabelSelector } from "./k8s.ts";

export const BackupPolicySecret = named("BackupPolicySecret", "BackupPolicySecret defines for the target database secret that backup tool can connect.", {
  name: str("the secret name", { maxLength: 253 }),
  usernameKey: str("usernameKey the map key of the user in the connection credential secret", { default: "username" }),
  passwordKey: str("passwordKey the map key of the password in the connection credential secret", { default: "password" }),
});

export const TargetCluster = named("TargetCluster", "TargetCluster selects the database pods a backup reads from or a restore writes to.", {
  labelsSelector: describe(LabelSelector,
    "labelsSelector is used to find matching pods. Pods that match this label selector are counted to determine the number of pods in their corresponding topology domain."),
  secret: Type.Optional(describe(BackupPolicySecret,
    "secret is used to connect to the target database cluster. If not set, secret will be inherited from backup policy template. if still not set, the controller will check if any system account for dataprotection has been created.")),
});

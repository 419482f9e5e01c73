// Public surface of @dataprotection/controllers.
export { createOperator, type Operator } from "./operator.ts";
export { defaultTimeouts, type OperatorOptions, type OperatorContext, type Timeouts, type ControllerName } from "./options.ts";
export { Kinds } from "./kinds.ts";
export { repoAccessFor, repoPVCName, mountAccess, BACKUP_MOUNT_PATH, type RepoAccess, type SecretCopy } from "./backuprepo/access.ts";
export { ensureRepoAccess, RepoAccessError } from "./backuprepo/ensure.ts";
export { localPvcProvider } from "./storageprovider/builtin/index.ts";

// dp-agent as a library (the CLI is cli.ts): tests and tools embed the same code paths.
export { Agent, processIo } from "./commands.ts";
export type { Io, CommandResult } from "./commands.ts";
export { configFromEnv } from "./env.ts";
export type { AgentConfig } from "./env.ts";
export { AgentError } from "./errors.ts";
export { writeObject } from "./object-writer.ts";
export { readObject } from "./object-reader.ts";
export { packDir } from "./archive/pack.ts";
export { unpackDir } from "./archive/unpack.ts";
export type { Manifest, ManifestFile } from "./manifest.ts";
export type { TerminationReport } from "./termination.ts";

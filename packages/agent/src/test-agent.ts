// Test support: dp-agent in process, as cli.ts runs it (configFromEnv, then one command on an
// Agent), with what it printed and warned collected.
import { Readable, Writable } from "node:stream";
import type { RepoBackend } from "@dataprotection/storage";
import { Agent, type Io } from "./commands.ts";
import { configFromEnv } from "./env.ts";

export interface Run {
  agent: Agent;
  out: string[];
  warnings: string[];
}

export function agent(env: Record<string, string>, backend?: RepoBackend): Run {
  const out: string[] = [];
  const warnings: string[] = [];
  const io: Io = {
    stdin: () => Readable.from([]),
    stdout: () => new Writable({ write: (_c, _e, cb) => cb() }),
    print: (l) => out.push(l),
    warn: (l) => warnings.push(l),
  };
  return { agent: new Agent(configFromEnv(env), io, backend), out, warnings };
}

/** What a command's promise came to: "succeeded", or its error as a string. */
export const failure = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "succeeded",
    (e: unknown) => String(e),
  );

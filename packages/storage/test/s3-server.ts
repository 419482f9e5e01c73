import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

/** A versitygw (posix backend) on 127.0.0.1, installed by `npm run setup`. */
export interface S3Server {
  endpoint: string;
  /** The posix backend's root: bucket b's object k is the file <dir>/<b>/<k>. */
  dir: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

export function versitygwPath(): string {
  return join(process.env.DP_CACHE ?? join(homedir(), ".cache/dataprotection"), "bin/versitygw");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function startS3Server(buckets: string[]): Promise<S3Server> {
  const bin = versitygwPath();
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run setup`);
  const dir = mkdtempSync(join(tmpdir(), "dp-s3-"));
  const { mkdirSync } = await import("node:fs");
  for (const b of buckets) mkdirSync(join(dir, b)); // posix backend: a bucket is a directory
  const port = await freePort();
  const accessKeyId = "dptestaccess";
  const secretAccessKey = "dptestsecret123";
  const proc: ChildProcess = spawn(bin, ["--access", accessKeyId, "--secret", secretAccessKey, "--port", `127.0.0.1:${port}`, "posix", dir], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`versitygw exited: ${stderr}`);
    const ok = await fetch(endpoint).then(() => true, () => false);
    if (ok) break;
    if (i > 100) throw new Error(`versitygw did not start on ${endpoint}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    dir,
    accessKeyId,
    secretAccessKey,
    async stop() {
      proc.kill("SIGTERM");
      if (proc.exitCode === null) await new Promise((r) => proc.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

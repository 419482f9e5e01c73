// Azurite's Blob service (the npm devDependency) on 127.0.0.1, for the Azure Blob tests and the
// e2e suite: a port the kernel picks (--blobPort 0; Azurite prints the one it listens on), data
// in memory, a random account key per run, no telemetry (it would call out to the internet).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export interface AzuriteServer {
  /** Blob service URL of the account: http://127.0.0.1:<port>/<account>. */
  endpoint: string;
  accountName: string;
  accountKey: string;
  /** Creates a container (the repo never creates one). */
  createContainer(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** azurite-blob's entry point in node_modules (installed by npm ci). */
export function azuriteBlobPath(): string {
  const pkg = createRequire(import.meta.url).resolve("azurite/package.json");
  return join(dirname(pkg), "dist/src/blob/main.js");
}

export async function startAzurite(containers: string[] = [], accountName = "dpaccount"): Promise<AzuriteServer> {
  const accountKey = randomBytes(64).toString("base64");
  const dir = mkdtempSync(join(tmpdir(), "dp-azurite-"));
  const args = [
    azuriteBlobPath(), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--extentMemoryLimit", "512",
    "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent",
  ];
  const proc: ChildProcess = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, AZURITE_ACCOUNTS: `${accountName}:${accountKey}` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`azurite-blob did not start within 30s: ${output}`)), 30_000);
      const seen = (c: Buffer) => {
        output += c.toString();
        const m = /successfully listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      proc.stdout?.on("data", seen);
      proc.stderr?.on("data", seen);
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`azurite-blob exited (${code}): ${output}`));
      });
    });
    const endpoint = `${base}/${accountName}`;
    const { ContainerClient, StorageSharedKeyCredential } = await import("@azure/storage-blob");
    const credential = new StorageSharedKeyCredential(accountName, accountKey);
    const createContainer = async (name: string) => void (await new ContainerClient(`${endpoint}/${name}`, credential).createIfNotExists());
    for (const c of containers) await createContainer(c);
    return { endpoint, accountName, accountKey, createContainer, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// A real S3-compatible server for the repo suites: moto_server with signature checking
// (INITIAL_NO_AUTH_ACTION_COUNT), an IAM user whose keys the tests use, and one bucket.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

// scripts/setup.sh installs moto (with boto3) into a venv in the cache; PATH is the fallback.
const venvBin = join(process.env.DP_CACHE || join(homedir(), ".cache", "dataprotection"), "moto", "bin");
const tool = (name: string) => (existsSync(join(venvBin, name)) ? join(venvBin, name) : name);

export interface S3Server {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

// Unauthenticated while the first 4 actions (IAM user, key, policy, bucket) run; signed after.
const SETUP = `
import boto3, json, sys
ep, bucket = sys.argv[1], sys.argv[2]
iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="dp")
k = iam.create_access_key(UserName="dp")["AccessKey"]
iam.put_user_policy(UserName="dp", PolicyName="all", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1", aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
s3.create_bucket(Bucket=bucket)
print(json.dumps({"id": k["AccessKeyId"], "secret": k["SecretAccessKey"]}))
`;

export async function startS3Server(bucket = "dp-e2e"): Promise<S3Server> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(tool("moto_server"), ["-H", "127.0.0.1", "-p", String(port)], {
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: "4" },
    stdio: "ignore",
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error("moto_server exited at start: is moto installed (scripts/setup.sh)?");
      const ok = await fetch(`${endpoint}/moto-api/`).then((r) => r.status < 500, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within 30s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const { stdout } = await run(tool("python3"), ["-c", SETUP, endpoint, bucket]);
    const keys = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { id: string; secret: string };
    return { endpoint, bucket, accessKeyId: keys.id, secretAccessKey: keys.secret, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Paths of the PKI a test control plane needs. */
export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  /** Service-account token signing key pair. */
  saKey: string;
  saPub: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run("openssl", args, { cwd });
}

async function ecKey(path: string, cwd: string): Promise<void> {
  // genpkey writes PKCS#8, which every kube component and Node's tls accept.
  await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path], cwd);
}

async function signedCert(
  cwd: string,
  name: string,
  subject: string,
  ext: string,
): Promise<void> {
  await ecKey(`${name}.key`, cwd);
  await openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], cwd);
  await writeFile(join(cwd, `${name}.ext`), ext);
  await openssl(
    ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
      "-days", "30", "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.crt`],
    cwd,
  );
}

/**
 * One ECDSA P-256 CA signs the API server's serving cert and the admin client cert
 * (CN admin, O system:masters); a separate key pair signs service-account tokens.
 */
export async function generatePki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  await ecKey("ca.key", dir);
  await openssl(
    ["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=dataprotection-testenv-ca", "-days", "30",
      "-sha256", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
      "-out", "ca.crt"],
    dir,
  );
  await signedCert(dir, "serving", "/CN=kube-apiserver",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" +
    "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default," +
    "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n");
  await signedCert(dir, "admin", "/O=system:masters/CN=admin",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
  await ecKey("sa.key", dir);
  await openssl(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  const p = (f: string) => join(dir, f);
  return {
    caCert: p("ca.crt"), caKey: p("ca.key"),
    servingCert: p("serving.crt"), servingKey: p("serving.key"),
    adminCert: p("admin.crt"), adminKey: p("admin.key"),
    saKey: p("sa.key"), saPub: p("sa.pub"),
  };
}

export async function readPem(path: string): Promise<string> {
  return readFile(path, "utf8");
}

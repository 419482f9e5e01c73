// Mocha root hooks: the shared control plane (and local node) start lazily on first use
// and stop once after the whole run, so no process outlives `npm test`.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stopSharedControlPlane } from "../src/shared.ts";
import { stopSharedNode } from "../src/node/shared-cluster.ts";

// Pod containers on the local node inherit this PATH: tools call `dp-agent` as they
// would in the operator's image.
const agentBin = resolve(dirname(fileURLToPath(import.meta.url)), "../../agent/bin");
if (!process.env.PATH?.split(":").includes(agentBin)) process.env.PATH = `${agentBin}:${process.env.PATH ?? ""}`;

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopSharedNode();
    await stopSharedControlPlane();
  },
};

// Mocha root hooks: the shared control plane (and local node) start lazily on first use
// and stop once after the whole run, so no process outlives `npm test`.
import { stopSharedControlPlane } from "../src/shared.ts";

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopSharedControlPlane();
  },
};

import { expect } from "chai";
import { CreatesInFlight } from "./in-flight.ts";

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe("backuppolicy/in-flight: a tick's records wait for its creates", () => {
  it("idle() resolves at once with nothing in flight, else once every create has settled (answered or failed)", async () => {
    const creates = new CreatesInFlight();
    const signal = new AbortController().signal;
    await creates.idle(signal);
    const a = deferred();
    const b = deferred();
    const ta = creates.track(() => a.promise);
    const tb = creates.track(() => b.promise).catch((e: Error) => e.message);
    expect(creates.size).to.equal(2);
    let idle = false;
    const waiting = creates.idle(signal).then(() => (idle = true));
    a.resolve();
    await ta;
    await Promise.resolve();
    expect(idle, "one create still in flight").to.equal(false);
    b.reject(new Error("409"));
    expect(await tb, "track() passes the create's failure on").to.equal("409");
    await waiting;
    expect(idle).to.equal(true);
    expect(creates.size).to.equal(0);
  });

  it("a waiter whose reconcile is aborted stops waiting", async () => {
    const creates = new CreatesInFlight();
    const held = deferred();
    void creates.track(() => held.promise);
    const ac = new AbortController();
    const waiting = creates.idle(ac.signal);
    ac.abort(new Error("stopping"));
    await waiting;
    expect(creates.size).to.equal(1);
    held.resolve();
  });
});

import http from "node:http";
import type net from "node:net";
import { getEventListeners } from "node:events";
import { expect } from "chai";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "./client.ts";
import { Kinds } from "./kinds.ts";
import { linkSignals } from "./signals.ts";

/** A loopback HTTP "API server" that answers paths under /ok and never answers the rest. */
async function hangingServer(): Promise<{ client: KubeClient; requests: string[]; closed: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const closed: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const line = `${req.method} ${req.url}`;
    requests.push(line);
    res.on("close", () => closed.push(line));
    if (req.url?.includes("/ok")) res.setHeader("Content-Type", "application/json").end(JSON.stringify({ metadata: { name: "ok" } }));
  });
  server.on("connection", (s) => sockets.add(s.on("close", () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: "u" }],
    contexts: [{ name: "c", cluster: "c", user: "u" }],
    currentContext: "c",
  });
  const client = new KubeClient(kc);
  return {
    client, requests, closed,
    close: async () => {
      client.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const until = async (what: string, cond: () => boolean): Promise<void> => {
  for (let i = 0; !cond(); i++) {
    if (i > 400) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const cm = { metadata: { name: "a", namespace: "ns", resourceVersion: "1" } };

describe("KubeClient cancellation", () => {
  it("an aborted signal ends a request in flight at once; the call rejects with the signal's reason", async () => {
    const s = await hangingServer();
    try {
      const ac = new AbortController();
      const call = s.client.replace(Kinds.ConfigMap, cm, undefined, { signal: ac.signal });
      await until("the request arrives", () => s.requests.length === 1);
      const reason = new Error("leadership lost");
      const t0 = Date.now();
      ac.abort(reason);
      const err = await call.then(() => undefined, (e: unknown) => e);
      expect(err).to.equal(reason);
      await until("the server sees the connection end", () => s.closed.length === 1);
      expect(Date.now() - t0, "ms from abort to the connection's end").to.be.below(500);
    } finally {
      await s.close();
    }
  });

  it("every call through a view from withSignal() ends with its signal, and nothing is sent once it aborted", async () => {
    const s = await hangingServer();
    try {
      const ac = new AbortController();
      const view = s.client.withSignal(ac.signal);
      expect(view).to.be.instanceOf(KubeClient);
      expect(view.signal).to.equal(ac.signal);
      const inFlight = [
        view.create(Kinds.ConfigMap, cm),
        view.list(Kinds.ConfigMap, { namespace: "ns" }),
        view.watch(Kinds.ConfigMap, { namespace: "ns" }, () => undefined),
      ].map((p) => p.then(() => "resolved", (e: unknown) => e));
      await until("three requests arrive", () => s.requests.length === 3);
      ac.abort(new Error("timeout"));
      for (const r of await Promise.all(inFlight)) expect((r as Error).message).to.equal("timeout");

      const after = [
        view.get(Kinds.ConfigMap, "ok", "ns"),
        view.replace(Kinds.ConfigMap, cm, "status"),
        view.patch(Kinds.ConfigMap, "a", "ns", { data: {} }),
        view.delete(Kinds.ConfigMap, "a", "ns"),
        view.listAll(Kinds.ConfigMap),
      ];
      for (const r of await Promise.all(after.map((p) => p.then(() => "resolved", (e: unknown) => e)))) expect((r as Error).message).to.equal("timeout");
      expect(s.requests, "no request after the abort").to.have.length(3);
      // The root client (and so the cache and the elector) is not bound to the view's signal.
      expect((await s.client.get(Kinds.ConfigMap, "ok", "ns")).metadata.name).to.equal("ok");
    } finally {
      await s.close();
    }
  });

  it("a per-call signal and the view's signal both end a call; a finished call leaves no listener behind", async () => {
    const s = await hangingServer();
    try {
      const viewSignal = new AbortController();
      const view = s.client.withSignal(viewSignal.signal);
      for (let i = 0; i < 3; i++) await view.get(Kinds.ConfigMap, "ok", "ns", { signal: new AbortController().signal });
      for (let i = 0; i < 3; i++) await view.get(Kinds.ConfigMap, "ok", "ns");
      // Node unhooks its own listener on the request's close, a moment after the answer.
      await until("no listener left on the view's signal", () => getEventListeners(viewSignal.signal, "abort").length === 0);
      const own = new AbortController();
      const call = view.get(Kinds.ConfigMap, "a", "ns", { signal: own.signal }).catch((e: unknown) => e);
      await until("the request arrives", () => s.requests.length === 7);
      own.abort(new Error("mine"));
      expect(((await call) as Error).message).to.equal("mine");
      expect(viewSignal.signal.aborted).to.equal(false);
    } finally {
      await s.close();
    }
  });

  it("linkSignals aborts with the first input's reason and dispose() unhooks it", () => {
    const a = new AbortController();
    const b = new AbortController();
    const link = linkSignals(a.signal, undefined, b.signal);
    b.abort("b first");
    a.abort("a later");
    expect(link.signal!.reason).to.equal("b first");
    const c = new AbortController();
    const link2 = linkSignals(c.signal, new AbortController().signal);
    link2.dispose();
    expect(getEventListeners(c.signal, "abort")).to.have.length(0);
    expect(linkSignals(c.signal).signal, "one input is passed through").to.equal(c.signal);
  });
});

describe("KubeClient bodies and lists", () => {
  /** A loopback "API server" that answers every GET with `pages[n]` for ?continue=n (as bytes, each split in two). */
  async function pagedServer(pages: Buffer[], onRequest: () => void = () => {}): Promise<{ client: KubeClient; close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      onRequest();
      const page = pages[Number(new URL(req.url ?? "/", "http://x").searchParams.get("continue") ?? 0)]!;
      res.setHeader("Content-Type", "application/json");
      // Split inside a multi-byte character where there is one: the client must not mangle it.
      const cut = page.indexOf(Buffer.from("€")) + 1 || page.length >> 1;
      res.write(page.subarray(0, cut));
      setTimeout(() => res.end(page.subarray(cut)), 5);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: "u" }],
      contexts: [{ name: "c", cluster: "c", user: "u" }],
      currentContext: "c",
    });
    const client = new KubeClient(kc);
    return { client, close: async () => (client.close(), await new Promise<void>((r) => server.close(() => r()))) };
  }

  it("decodes a UTF-8 body whose character spans two chunks", async () => {
    const s = await pagedServer([Buffer.from(JSON.stringify({ metadata: { name: "ok", annotations: { note: "5 € → ✓" } } }))]);
    try {
      const cm = await s.client.get(Kinds.ConfigMap, "ok", "ns");
      expect(cm.metadata.annotations).to.deep.equal({ note: "5 € → ✓" });
    } finally {
      await s.close();
    }
  });

  it("listAll hands each item to `each` as its page arrives, before the next page is asked for", async () => {
    const page = (names: string[], cont?: string) => Buffer.from(JSON.stringify({ metadata: { resourceVersion: "7", continue: cont }, items: names.map((name) => ({ metadata: { name, namespace: "ns" } })) }));
    const seen: string[] = [];
    const seenAtRequest: number[] = [];
    const s = await pagedServer([page(["a", "b"], "1"), page(["c"])], () => seenAtRequest.push(seen.length));
    try {
      const list = await s.client.listAll(Kinds.ConfigMap, { namespace: "ns" }, (o) => seen.push(o.metadata.name!));
      expect(seen).to.deep.equal(["a", "b", "c"]);
      expect(seenAtRequest, "items seen when each page was asked for").to.deep.equal([0, 2]);
      expect(list.items.map((o) => o.metadata.name)).to.deep.equal(["a", "b", "c"]);
      expect(list.metadata.resourceVersion).to.equal("7");
    } finally {
      await s.close();
    }
  });
});

describe("KubeClient credentials", () => {
  it("loads the kubeconfig's credentials once for concurrent requests and a second's worth of them, then again (a rotated token is picked up within it)", async () => {
    const s = await hangingServer();
    let loads = 0;
    let token = "t1";
    const kc = s.client.kubeConfig;
    kc.applyToHTTPSOptions = async (opts) => {
      loads++;
      opts.headers = { Authorization: `Bearer ${token}` };
    };
    try {
      await Promise.all([1, 2, 3].map(() => s.client.get(Kinds.ConfigMap, "ok", "ns")));
      await s.client.get(Kinds.ConfigMap, "ok", "ns");
      expect(loads, "one load for four requests within a second").to.equal(1);
      token = "t2";
      await new Promise((r) => setTimeout(r, 1_050));
      await s.client.get(Kinds.ConfigMap, "ok", "ns");
      expect(loads).to.equal(2);
      expect(s.requests).to.have.length(5);
    } finally {
      await s.close();
    }
  });
});

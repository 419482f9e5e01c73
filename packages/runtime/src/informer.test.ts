import { expect } from "chai";
import type { KubeClient, WatchEvent, WatchOptions } from "./client.ts";
import { Informer } from "./informer.ts";
import { Kinds } from "./kinds.ts";
import type { KubeObject } from "./object.ts";

// As the API server sends it (time is a string on the wire, a Date in client-node's type).
const managedFields = [{ manager: "kubectl", operation: "Update", apiVersion: "v1", time: "2026-01-01T00:00:00Z", fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:k": {} } } }] as unknown as KubeObject["metadata"]["managedFields"];

const cm = (name: string, rv: string): KubeObject & { data: Record<string, string> } => ({
  metadata: { name, namespace: "ns", resourceVersion: rv, labels: { app: "a" }, annotations: { note: "kept" }, managedFields },
  data: { k: name },
});

/**
 * A client whose list returns `listed` in pages of two (handing each item to `each` as its page
 * arrives, as KubeClient.listAll does) and whose one watch delivers `watched`, then waits for the
 * informer to stop. `pagesSeen` records, before each next page is read, whether every item read so
 * far had already lost its managedFields.
 */
function fakeClient(listed: KubeObject[], watched: WatchEvent[], pagesSeen: boolean[] = []): KubeClient {
  return {
    listAll: async (_kind: unknown, _o: unknown, each?: (item: KubeObject) => void) => {
      for (let i = 0; i < listed.length; i += 2) {
        if (i) pagesSeen.push(listed.slice(0, i).every((o) => !("managedFields" in o.metadata)));
        for (const it of listed.slice(i, i + 2)) each?.(it);
      }
      return { metadata: { resourceVersion: "10" }, items: listed };
    },
    watch: async (_kind: unknown, o: WatchOptions, onEvent: (e: WatchEvent) => void) => {
      o.signal?.throwIfAborted();
      for (const e of watched) onEvent(e);
      await new Promise((_, reject) => o.signal?.addEventListener("abort", () => reject(o.signal?.reason), { once: true }));
    },
  } as unknown as KubeClient;
}

describe("Informer: what is cached", () => {
  it("stores listed and watched objects without metadata.managedFields, keeping labels and annotations", async () => {
    const watched = cm("watched", "11");
    const informer = new Informer(fakeClient([cm("listed", "9")], [{ type: "ADDED", object: watched }]), Kinds.ConfigMap);
    const seen: KubeObject[] = [];
    informer.addHandler({ onAdd: (o) => seen.push(o) });
    informer.start();
    await informer.waitForSync();
    for (let i = 0; !informer.store.get("ns/watched"); i++) {
      if (i > 200) throw new Error("the watched object never arrived");
      await new Promise((r) => setTimeout(r, 5));
    }
    await informer.stop();
    for (const name of ["listed", "watched"]) {
      const o = informer.store.get(`ns/${name}`)!;
      expect(o.metadata, name).to.not.have.property("managedFields");
      expect(o.metadata.annotations, name).to.deep.equal({ note: "kept" });
      expect(o.metadata.labels, name).to.deep.equal({ app: "a" });
      expect((o as ReturnType<typeof cm>).data, name).to.deep.equal({ k: name });
      expect(o.kind, name).to.equal("ConfigMap");
    }
    expect(seen.map((o) => o.metadata.name)).to.deep.equal(["listed", "watched"]);
    expect(seen.every((o) => !("managedFields" in o.metadata)), "handlers get the stripped objects").to.equal(true);
  });

  it("strips a list page by page: no page's managedFields are still held while the next is read", async () => {
    const pagesSeen: boolean[] = [];
    const informer = new Informer(fakeClient(["a", "b", "c", "d", "e"].map((n) => cm(n, "9")), [], pagesSeen), Kinds.ConfigMap);
    informer.start();
    await informer.waitForSync();
    await informer.stop();
    expect(pagesSeen).to.deep.equal([true, true]);
    expect([...informer.store.values()].map((o) => "managedFields" in o.metadata)).to.deep.equal([false, false, false, false, false]);
  });

  it("hands onDelete a stripped object for a delete it had not cached", async () => {
    const informer = new Informer(fakeClient([], [{ type: "DELETED", object: cm("gone", "12") }]), Kinds.ConfigMap);
    const deleted: KubeObject[] = [];
    informer.addHandler({ onDelete: (o) => deleted.push(o) });
    informer.start();
    for (let i = 0; !deleted.length; i++) {
      if (i > 200) throw new Error("no delete delivered");
      await new Promise((r) => setTimeout(r, 5));
    }
    await informer.stop();
    expect(deleted[0].metadata).to.not.have.property("managedFields");
    expect(informer.resourceVersion).to.equal("12");
  });
});

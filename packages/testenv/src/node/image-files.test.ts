import { expect } from "chai";
import { imageMounts, imageRepository } from "./image-files.ts";

describe("image files", () => {
  it("takes the repository of a reference without its tag or digest, keeping a registry port", () => {
    expect(imageRepository("ghcr.io/dataprotection/operator:0.1.0")).to.equal("ghcr.io/dataprotection/operator");
    expect(imageRepository("ghcr.io/dataprotection/operator@sha256:abc")).to.equal("ghcr.io/dataprotection/operator");
    expect(imageRepository("localhost:5000/op")).to.equal("localhost:5000/op");
    expect(imageRepository("localhost:5000/op:v2")).to.equal("localhost:5000/op");
  });
  it("binds an image's files read-only where the image keeps them, for that repository only", () => {
    const images = [{ repository: "ghcr.io/dataprotection/operator", source: "/work/main", target: "/opt/dataprotection" }];
    expect(imageMounts(images, "ghcr.io/dataprotection/operator:1.2")).to.deep.equal([{ source: "/work/main", target: "/opt/dataprotection", readOnly: true, isDir: true }]);
    expect(imageMounts(images, "ghcr.io/dataprotection/operator-x:1.2")).to.deep.equal([]);
    expect(imageMounts(images, undefined)).to.deep.equal([]);
  });
});

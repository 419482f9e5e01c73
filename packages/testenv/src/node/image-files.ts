// Pure: the files a container's image would hold, as bind mounts (LocalNodeOptions.images).
import type { BindMount } from "./launch.ts";
import type { ImageFiles } from "./types.ts";

/** The repository of an image reference: without its tag or digest. */
export function imageRepository(image: string): string {
  const noDigest = image.split("@")[0]!;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** The image's own files (LocalNodeOptions.images), bound read-only where the image keeps them. */
export function imageMounts(images: ImageFiles[], image: string | undefined): BindMount[] {
  if (!image) return [];
  const repo = imageRepository(image);
  return images.filter((i) => i.repository === repo).map((i) => ({ source: i.source, target: i.target, readOnly: true, isDir: true }));
}

import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

type CreateConnection = (options: object, callback?: (err: Error | null, stream: Duplex) => void) => Duplex | null | undefined;

/**
 * A keep-alive agent for `endpoint` whose new connections fail with ETIMEDOUT when the TCP
 * connect takes longer than `ms`: an address that drops packets otherwise costs the kernel's
 * connect timeout (~2 min) per attempt. Only the connect is bounded, never a slow transfer.
 */
export function connectTimeoutAgent(endpoint: string, ms: number): HttpAgent {
  const agent = endpoint.startsWith("https:") ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const create = (agent.createConnection as CreateConnection).bind(agent);
  const timed: CreateConnection = (options, callback) => {
    const socket = create(options, callback) as Socket | null | undefined;
    if (!socket || ms <= 0) return socket;
    const { host, port } = options as { host?: string; port?: number | string };
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`connect ETIMEDOUT ${host ?? ""}:${port ?? ""}: no answer within ${ms} ms`), { code: "ETIMEDOUT" });
      socket.destroy(err);
    }, ms);
    const done = () => clearTimeout(timer);
    socket.once("connect", done);
    socket.once("close", done);
    return socket;
  };
  (agent as { createConnection: CreateConnection }).createConnection = timed;
  return agent;
}

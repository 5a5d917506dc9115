// The resource-server kit's example (docs/mcp.md "Resource-server kit"): an MCP server,
// built with the official SDK, protected by one subscription of auth-server. It
//  - publishes RFC 9728 protected-resource metadata naming the subscription's issuer,
//  - answers unauthenticated calls with 401 + WWW-Authenticate: Bearer resource_metadata=…,
//    scope="mcp" and tokens without `mcp` with 403 insufficient_scope (requireBearerAuth),
//  - steps up per tool: a `tools/call` of a tool that needs more than `mcp` (`write_note`
//    needs `notes:write`) with a token lacking it gets 403 + WWW-Authenticate: Bearer
//    error="insufficient_scope", scope="<all the tool needs>", resource_metadata=… before
//    the MCP transport sees it, so MCP clients re-authorize with that scope (MCP
//    authorization spec, "Scope challenge handling"),
//  - verifies tokens by introspection, accepting only tokens whose `aud` is this server's
//    URL (tokens for another MCP server or another subscription are refused),
//  - caches positive introspection answers for at most 5 s and never beyond `exp`.
// tests/node/mcp-sdk.mjs runs it, so the example is tested. Usage:
//   const rs = await startMcpServer({ issuer, clientId, clientSecret });  // rs.url, rs.close()
import express from "express";
import { once } from "node:events";
import { createHash } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";

const CACHE_MS = 5_000;

// Scopes a tool needs beyond the `mcp` every call needs; `scopes_supported` lists them all.
export const TOOL_SCOPES = { write_note: ["mcp", "notes:write"] };
const SCOPES = [...new Set(["mcp", ...Object.values(TOOL_SCOPES).flat()])];

// issuer: the subscription's issuer (https://auth.example.com/t/acme); clientId and
// clientSecret: a client of that subscription created with "introspection": true.
export async function startMcpServer({ issuer, clientId, clientSecret, host = "127.0.0.1", port = 0 }) {
  const app = express();
  app.use(express.json());
  const http = app.listen(port, host);
  await once(http, "listening");
  const origin = `http://${host}:${http.address().port}`;
  const resource = `${origin}/mcp`;
  const prm = `${origin}/.well-known/oauth-protected-resource/mcp`;
  const basic = "Basic " + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64");

  const cache = new Map(); // sha256(token) -> { info, until }
  async function introspect(token) {
    const key = createHash("sha256").update(token).digest("hex");
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.info;
    cache.delete(key);
    const r = await fetch(`${issuer}/introspect`, {
      method: "POST",
      headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token }),
    });
    if (r.status !== 200) throw new Error(`introspection answered ${r.status}`);
    const info = await r.json();
    if (info.active) cache.set(key, { info, until: Math.min(Date.now() + CACHE_MS, info.exp * 1000) });
    return info;
  }

  const verifier = {
    async verifyAccessToken(token) {
      const i = await introspect(token);
      if (!i.active) throw new InvalidTokenError("token is not active");
      const aud = Array.isArray(i.aud) ? i.aud : [i.aud];
      if (!aud.includes(resource)) throw new InvalidTokenError("token is not meant for this MCP server");
      return { token, clientId: i.client_id, scopes: (i.scope || "").split(" ").filter(Boolean), expiresAt: i.exp, resource: new URL(resource) };
    },
  };
  const metadata = { resource, authorization_servers: [issuer], scopes_supported: SCOPES, bearer_methods_supported: ["header"] };
  app.get("/.well-known/oauth-protected-resource/mcp", (_req, res) => res.json(metadata));
  app.get("/.well-known/oauth-protected-resource", (_req, res) => res.json(metadata));
  const auth = requireBearerAuth({ verifier, requiredScopes: ["mcp"], resourceMetadataUrl: prm, expectedResource: new URL(resource) });
  // Per-tool step-up: requireBearerAuth checks one scope set per route, but the tool is
  // named inside the JSON-RPC body, so the check sits between it and the transport. The
  // challenge names every scope the tool needs (not only the missing one), because the
  // new token replaces the old one rather than adding to it.
  const toolScopes = (req, res, next) => {
    const messages = Array.isArray(req.body) ? req.body : [req.body];
    for (const m of messages) {
      const needed = m?.method === "tools/call" ? TOOL_SCOPES[m.params?.name] : undefined;
      if (needed && !needed.every((s) => req.auth.scopes.includes(s))) {
        const description = `the tool ${m.params.name} needs the scope ${needed.join(" ")}`;
        res.set("WWW-Authenticate", `Bearer error="insufficient_scope", error_description="${description}", scope="${needed.join(" ")}", resource_metadata="${prm}"`);
        return res.status(403).json({ error: "insufficient_scope", error_description: description });
      }
    }
    next();
  };
  app.post("/mcp", auth, toolScopes, async (req, res) => {
    const mcp = new McpServer({ name: "example-mcp", version: "1.0.0" });
    mcp.registerTool("whoami", { description: "the caller's client id" }, async (extra) => ({
      content: [{ type: "text", text: JSON.stringify({ client_id: extra.authInfo?.clientId }) }],
    }));
    mcp.registerTool("write_note", { description: "needs notes:write (step-up example)" }, async (extra) => ({
      content: [{ type: "text", text: JSON.stringify({ client_id: extra.authInfo?.clientId, scopes: extra.authInfo?.scopes }) }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      transport.close();
      mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  app.get("/mcp", (_req, res) => res.status(405).set("allow", "POST").end());
  return { url: resource, origin, close: () => http.close() };
}

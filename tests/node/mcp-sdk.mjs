// The official MCP TypeScript SDK against auth-server: an SDK MCP server protects a tool
// with requireBearerAuth (tokens verified through our introspection, `aud` checked with
// expectedResource); SDK clients reach it (1) with the subscription's minted client via
// client credentials, (2) through RFC 9728 discovery -> RFC 8414 metadata -> dynamic
// registration -> code + PKCE + resource through our login and consent pages, and (3) the
// same with a Client ID Metadata Document (the SDK's `clientMetadataUrl`) served over
// https on loopback (CIMD_CERT/CIMD_KEY; the server trusts its CA by AUTH_CIMD_CA_FILE).
// Tokens for another resource or another subscription are refused by the MCP server.
// Step-up (3b): a tool needing `notes:write` answers a token with only `mcp` with 403
// insufficient_scope; the SDK re-authorizes with the challenge's scope and then reaches it.
// Prints one JSON line {"ok": true, ...} on success.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { browser } from "./browser.mjs";
import { startMcpServer } from "./mcp-resource-server.mjs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const BASE = env("BASE");
const ISSUER = env("ISSUER");
const OTHER_ISSUER = env("OTHER_ISSUER");
const basic = (id, secret) => "Basic " + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64");

// --- the MCP server (resource server): the resource-server kit's example ----------------
const rs = await startMcpServer({ issuer: ISSUER, clientId: env("RS_ID"), clientSecret: env("RS_SECRET") });
const RESOURCE = rs.url;
// A second resource of the same subscription, which this MCP server must not accept.
const OTHER_RESOURCE = `${rs.origin}/other`;

// The subscriptions accept our resources and open registration (admin API).
for (const slug of [env("SLUG"), env("OTHER_SLUG")]) {
  const r = await fetch(`${BASE}/admin/v1/subscriptions/${slug}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${env("ADMIN_TOKEN")}`, "content-type": "application/json" },
    body: JSON.stringify({ settings: { mcp_resources: [RESOURCE, OTHER_RESOURCE], registration: "open", client_id_metadata_documents: true, registration_scope: "mcp notes:write" } }),
  });
  if (r.status !== 200) throw new Error(`PATCH settings: ${r.status} ${await r.text()}`);
}

const whoami = async (client) => JSON.parse((await client.callTool({ name: "whoami", arguments: {} })).content[0].text).client_id;
const result = { ok: false };

// --- 1. the minted per-subscription client, client credentials --------------------------
{
  const provider = new ClientCredentialsProvider({ clientId: env("MCP_CLIENT_ID"), clientSecret: env("MCP_CLIENT_SECRET"), scope: "mcp", expectedIssuer: ISSUER });
  const client = new Client({ name: "cc-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: provider }));
  result.client_credentials = await whoami(client);
  await client.close();
}

// --- 2. discovery -> DCR -> code + PKCE + resource through the login page ----------------
const b = browser(BASE, env("USERNAME"), env("PASSWORD"));
async function browserLogin(authUrl, pages) {
  const back = await b.authorize(authUrl, pages);
  const code = back.searchParams.get("code");
  if (!code) throw new Error(`no code: ${back}`);
  return code;
}
class BrowserProvider {
  constructor() {
    this.info = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.authUrl = undefined;
  }
  get redirectUrl() {
    return "http://127.0.0.1:33418/callback";
  }
  get clientMetadata() {
    return { client_name: "sdk-agent", redirect_uris: [this.redirectUrl], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none", scope: "mcp" };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t) {
    this.saved = t;
  }
  redirectToAuthorization(url) {
    this.authUrl = url;
  }
  saveCodeVerifier(v) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}
{
  const provider = new BrowserProvider();
  const first = new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: provider });
  try {
    await new Client({ name: "sdk-agent", version: "1.0.0" }).connect(first);
    throw new Error("expected the first connection to need authorization");
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  if (!provider.info?.client_id) throw new Error("the SDK did not register a client");
  if (provider.authUrl.searchParams.get("resource") !== RESOURCE) throw new Error(`no resource in ${provider.authUrl}`);
  const code = await browserLogin(provider.authUrl.href);
  await first.finishAuth(code);
  const client = new Client({ name: "sdk-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: provider }));
  result.registered = await whoami(client);
  if (result.registered !== provider.info.client_id) throw new Error("the tool saw another client");
  await client.close();
}

// --- 3. a Client ID Metadata Document client (SEP-991 / CIMD) ----------------------------
{
  // The document is served over https on loopback: the SDK accepts only https URLs.
  const docServer = createHttpsServer({ cert: readFileSync(env("CIMD_CERT")), key: readFileSync(env("CIMD_KEY")) }, (req, res) => {
    // /stepup-agent.json: a client without refresh tokens (see part 3b).
    const docs = { "/agent.json": ["authorization_code", "refresh_token"], "/stepup-agent.json": ["authorization_code"] };
    const grants = docs[req.url];
    if (!grants) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        client_id: `${docOrigin}${req.url}`,
        client_name: "CIMD agent",
        redirect_uris: ["http://127.0.0.1:33418/callback"],
        grant_types: grants,
        response_types: ["code"],
        token_endpoint_auth_method: "none",
      }),
    );
  });
  docServer.listen(0, "127.0.0.1");
  await once(docServer, "listening");
  const docOrigin = `https://127.0.0.1:${docServer.address().port}`;
  const docUrl = `${docOrigin}/agent.json`;
  class CimdProvider extends BrowserProvider {
    constructor(url = docUrl) {
      super();
      this.url = url;
    }
    get clientMetadataUrl() {
      return this.url;
    }
    saveClientInformation(info) {
      // Registration would call this with a server-minted client_id and a registration
      // access token; with CIMD the SDK stores the document URL as the client_id.
      if (info.client_id !== this.url || info.registration_access_token) throw new Error(`the SDK registered instead: ${JSON.stringify(info)}`);
      this.info = info;
    }
  }
  const provider = new CimdProvider();
  const first = new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: provider });
  try {
    await new Client({ name: "cimd-agent", version: "1.0.0" }).connect(first);
    throw new Error("expected the first connection to need authorization");
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  if (provider.authUrl.searchParams.get("client_id") !== docUrl) throw new Error(`client_id in ${provider.authUrl}`);
  if (provider.authUrl.searchParams.get("resource") !== RESOURCE) throw new Error(`no resource in ${provider.authUrl}`);
  const pages = [];
  const code = await browserLogin(provider.authUrl.href, pages);
  result.cimd_consent_host = pages.some((html) => html.includes("Application from <strong>127.0.0.1</strong>"));
  await first.finishAuth(code);
  const client = new Client({ name: "cimd-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: provider }));
  result.cimd = await whoami(client);
  if (result.cimd !== docUrl) throw new Error(`the tool saw ${result.cimd}, not the document URL`);
  await client.close();

  // --- 3b. step-up: 403 insufficient_scope, re-authorization with the challenge's scope ---
  // A client without refresh tokens: on a 403 the SDK (1.32.2) first tries a refresh
  // token if it holds one, which cannot widen the scope (RFC 6749 §6), and then gives up
  // ("403 after trying upscoping"); without one it re-authorizes with the new scope.
  const stepUrl = `${docOrigin}/stepup-agent.json`;
  const step = new CimdProvider(stepUrl);
  const stepFirst = new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: step });
  try {
    await new Client({ name: "stepup-agent", version: "1.0.0" }).connect(stepFirst);
    throw new Error("expected the first connection to need authorization");
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  await stepFirst.finishAuth(await browserLogin(step.authUrl.href));
  if (step.saved.scope !== "mcp" || step.saved.refresh_token) throw new Error(`first token: ${JSON.stringify({ ...step.saved, access_token: "…" })}`);
  // The raw answer the MCP server gives a token that lacks the tool's scope.
  const denied = await fetch(RESOURCE, {
    method: "POST",
    headers: { authorization: `Bearer ${step.saved.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "write_note", arguments: {} } }),
  });
  result.step_up_status = denied.status;
  result.step_up_challenge = denied.headers.get("www-authenticate");
  // The SDK meets the same 403 and starts a new authorization with the challenge's scope.
  const stepTransport = new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: step });
  const stepClient = new Client({ name: "stepup-agent", version: "1.0.0" });
  await stepClient.connect(stepTransport);
  const before = step.authUrl;
  try {
    await stepClient.callTool({ name: "write_note", arguments: {} });
    throw new Error("expected write_note to need a step-up");
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  if (step.authUrl === before) throw new Error("the SDK did not start a new authorization");
  result.step_up_requested_scope = step.authUrl.searchParams.get("scope");
  await stepTransport.finishAuth(await browserLogin(step.authUrl.href));
  const note = JSON.parse((await stepClient.callTool({ name: "write_note", arguments: {} })).content[0].text);
  result.step_up_scopes = note.scopes;
  await stepClient.close();
  docServer.close();
}

// --- 4. tokens for another resource or another subscription are refused -----------------
const tokenFor = async (issuer, id, secret, resource) => {
  const r = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: { authorization: basic(id, secret), "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "mcp", resource }),
  });
  const t = await r.json();
  if (!t.access_token) throw new Error(`token: ${JSON.stringify(t)}`);
  return t.access_token;
};
const status = async (token) =>
  (await fetch(RESOURCE, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  })).status;
result.other_resource = await status(await tokenFor(ISSUER, env("MCP_CLIENT_ID"), env("MCP_CLIENT_SECRET"), OTHER_RESOURCE));
result.other_subscription = await status(await tokenFor(OTHER_ISSUER, env("OTHER_MCP_CLIENT_ID"), env("OTHER_MCP_CLIENT_SECRET"), RESOURCE));
result.no_token = (await fetch(RESOURCE, { method: "POST" })).headers.get("www-authenticate");
result.ok = result.other_resource === 401 && result.other_subscription === 401 && result.client_credentials === env("MCP_CLIENT_ID");
rs.close();
console.log(JSON.stringify(result));
process.exit(0);

// Runs the MCP conformance suite's authorization-server scenarios
// (`conformance authorization`, npm @modelcontextprotocol/conformance) against one
// subscription of a running auth-server, playing the user: the suite prints an
// authorization URL and waits for a browser to come back to its callback server on
// 127.0.0.1:PORT; this script signs in, allows consent, and follows the redirect there.
//
// env: ISSUER, BASE, USERNAME, PASSWORD, PORT (the suite's callback port), RESOURCE
// (RFC 8707), and CLIENT_ID, or CIMD=1 to serve a Client ID Metadata Document on
// loopback and use its URL as the client id. Prints one JSON line:
// {"client_id", "exit", "scenarios": {name: [{id, status, errorMessage}]}}.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { browser } from "./browser.mjs";

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const here = dirname(fileURLToPath(import.meta.url));
const PORT = env("PORT");
const REDIRECT = `http://127.0.0.1:${PORT}/callback`;

let clientId = process.env.CLIENT_ID;
let docServer;
if (process.env.CIMD === "1") {
  docServer = createServer((req, res) => {
    const doc = {
      client_id: clientId,
      client_name: "MCP conformance suite",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
    if (req.url !== "/conformance-client.json") return res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=60" }).end(JSON.stringify(doc));
  });
  docServer.listen(0, "127.0.0.1");
  await once(docServer, "listening");
  clientId = `http://127.0.0.1:${docServer.address().port}/conformance-client.json`;
}
if (!clientId) throw new Error("CLIENT_ID or CIMD=1 is required");

const out = mkdtempSync(join(tmpdir(), "mcp-conformance-"));
const cli = join(here, "..", "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js");
const args = ["--import", join(here, "conformance-node20.mjs"), cli, "authorization", "--url", env("ISSUER"), "--client-id", clientId, "--port", PORT, "-o", out];
if (process.env.RESOURCE) args.push("--resource", process.env.RESOURCE);
const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });

// The suite prints the authorization URL on the line after this one.
const b = browser(env("BASE"), env("USERNAME"), env("PASSWORD"));
let expectUrl = false;
let pending = "";
const drives = [];
child.stdout.setEncoding("utf8");
child.stdout.on("data", (chunk) => {
  process.stderr.write(chunk);
  pending += chunk;
  const lines = pending.split("\n");
  pending = lines.pop();
  for (const line of lines) {
    if (expectUrl && line.startsWith("http")) {
      expectUrl = false;
      drives.push(
        b.authorize(line.trim()).then(async (back) => {
          if (back.origin !== new URL(REDIRECT).origin) throw new Error(`redirected to ${back}`);
          await fetch(back);
        }),
      );
    }
    if (line.includes("Access the following URL")) expectUrl = true;
  }
});
const [code] = await once(child, "exit");
for (const d of drives) await d;

const scenarios = {};
for (const dir of readdirSync(out)) {
  const checks = JSON.parse(readFileSync(join(out, dir, "checks.json"), "utf8"));
  const name = dir.replace(/^authorization-server-/, "").replace(/-\d{4}-\d\d-\d\dT.*$/, "");
  scenarios[name] = checks.map((c) => ({ id: c.id, status: c.status, errorMessage: c.errorMessage }));
}
rmSync(out, { recursive: true, force: true });
docServer?.close();
console.log(JSON.stringify({ client_id: clientId, exit: code, scenarios }));
process.exit(0);

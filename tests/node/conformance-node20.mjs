// Lets @modelcontextprotocol/conformance (built for Node >= 22) run on Node 20: its
// bundle imports `globSync` from `fs`, which Node 20 lacks, only for `tier-check` (not
// used here). A resolve hook hands that import a copy of `fs` with a `globSync` that
// refuses; nothing else changes. Loaded with `node --import ./node/conformance-node20.mjs`.
import { register } from "node:module";
import fs from "node:fs";

if (typeof fs.globSync !== "function") {
  const shim = `
import fs from "node:fs";
export * from "node:fs";
export default fs;
export function globSync() { throw new Error("globSync needs Node >= 22 (tier-check only)"); }
`;
  const hooks = `
const SHIM = ${JSON.stringify("data:text/javascript," + encodeURIComponent(shim))};
export async function resolve(specifier, context, next) {
  if ((specifier === "fs" || specifier === "node:fs") && context.parentURL && context.parentURL.includes("/@modelcontextprotocol/conformance/")) {
    return { url: SHIM, shortCircuit: true };
  }
  return next(specifier, context);
}
`;
  register("data:text/javascript," + encodeURIComponent(hooks));
}

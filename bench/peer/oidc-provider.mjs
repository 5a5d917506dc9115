// The benchmark's peer: node-oidc-provider as a production deployment would run it for
// machine-to-machine traffic, started by bench/run.py.
//
// One process (no cluster), like the library's default deployment: node runs the
// JavaScript on one core, so on a 2-core machine it can use at most one core for request
// handling (plus a little libuv/GC time on other threads); run.py reports its CPU.
// Storage is the library's built-in in-memory adapter (an LRU cache), which is faster
// than the Redis or SQL adapter a real deployment needs.
//
// Usage: NODE_ENV=production node bench/peer/oidc-provider.mjs PORT CLIENT_SECRET
// Clients (client_secret_basic, grant client_credentials, scope "read"):
//   peer-opaque                      - opaque access tokens (the library's default format)
//   peer-es256, peer-eddsa, peer-rs256 - JWT access tokens signed with that algorithm,
//                                      through a default resource indicator per client
// Introspection and revocation are enabled; interactions (login pages) are not used.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, secret] = process.argv.slice(2);
if (!port || !secret) {
  console.error('usage: node oidc-provider.mjs PORT CLIENT_SECRET');
  process.exit(2);
}

const jwk = (type, options) => generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
// A JWT client's default resource names its algorithm: urn:bench:ES256 and so on.
const JWT_ALGS = { 'peer-es256': 'ES256', 'peer-eddsa': 'EdDSA', 'peer-rs256': 'RS256' };
const client = (id) => ({
  client_id: id,
  client_secret: secret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'read',
});

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: ['peer-opaque', ...Object.keys(JWT_ALGS)].map(client),
  jwks: {
    keys: [
      { ...jwk('ec', { namedCurve: 'P-256' }), alg: 'ES256', use: 'sig', kid: 'es256' },
      { ...jwk('ed25519'), alg: 'EdDSA', use: 'sig', kid: 'eddsa' },
      { ...jwk('rsa', { modulusLength: 2048 }), alg: 'RS256', use: 'sig', kid: 'rs256' },
    ],
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'read'],
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // As a deployment must (the library's default policy logs a notice): only
    // authenticated clients may introspect.
    introspection: { enabled: true, allowedPolicy: async (ctx, caller) => caller.clientAuthMethod !== 'none' },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, c) => (JWT_ALGS[c.clientId] ? `urn:bench:${JWT_ALGS[c.clientId]}` : undefined),
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => ({
        scope: 'read',
        audience: resource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 3600,
        jwt: { sign: { alg: resource.slice('urn:bench:'.length) } },
      }),
    },
  },
});

provider.listen(Number(port), '127.0.0.1', () => console.error(`peer listening on ${port}`));

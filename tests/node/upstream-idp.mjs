// Upstream identity provider for the SSO tests: node-oidc-provider on a loopback port.
//
//   CLIENT_ID=… CLIENT_SECRET=… REDIRECT_URIS=http://…/callback[,…] node tests/node/upstream-idp.mjs
//
// With TLS_CERT and TLS_KEY (PEM files) it serves HTTPS and the issuer is https://….
// Prints one line `READY <issuer>` on stdout once listening. The interaction step logs
// in account `u-alice` at once with amr ["pwd","otp"] and acr "urn:test:mfa" (no login
// page: the tests drive the browser side with plain HTTP). Test controls:
//   GET /__test/mode?value=normal|cancel|wrong-aud|wrong-nonce|wrong-iss
//     cancel:      the interaction ends with access_denied (a user pressing Cancel)
//     wrong-aud:   the token endpoint's ID token is re-signed with aud "someone-else"
//     wrong-nonce: the token endpoint's ID token is re-signed with another nonce
//     wrong-iss:   the token endpoint's ID token is re-signed with iss "https://evil.example"
//   GET /__test/account?sub=…  the account logged in next
// The re-signed tokens carry a valid signature from the published key, so only the
// relying party's claim checks can refuse them.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`missing env var ${name}`);
  return v;
};

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

let mode = 'normal';
let accountId = 'u-alice';
const accounts = {
  'u-alice': { email: 'alice@upstream.example', name: 'Alice Upstream', preferred_username: 'alice.up', groups: ['staff', 'sso-admins'], department: 'finance' },
  'u-bob': { email: 'bob@upstream.example', name: 'Bob Upstream', preferred_username: 'bob.up', groups: ['staff'] },
};

const tls = process.env.TLS_CERT && process.env.TLS_KEY
  ? { cert: fs.readFileSync(process.env.TLS_CERT), key: fs.readFileSync(process.env.TLS_KEY) }
  : null;
const server = tls ? https.createServer(tls) : http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: env('CLIENT_ID'),
    client_secret: env('CLIENT_SECRET'),
    redirect_uris: env('REDIRECT_URIS').split(','),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: ['upstream-test-cookie-key'] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    // acr and amr ride on the openid scope so every ID token carries them.
    openid: ['sub', 'acr', 'amr'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'department'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const a = accounts[sub];
    if (!a) return undefined;
    return { accountId: sub, async claims() { return { sub, email_verified: true, ...a }; } };
  },
});
provider.proxy = false;

// Re-sign the ID token of a token response with a changed claim.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || ctx.status !== 200) return;
  if (!['wrong-aud', 'wrong-nonce', 'wrong-iss'].includes(mode)) return;
  const body = typeof ctx.body === 'string' ? JSON.parse(ctx.body) : ctx.body;
  if (!body?.id_token) return;
  const claims = jose.decodeJwt(body.id_token);
  if (mode === 'wrong-aud') claims.aud = 'someone-else';
  if (mode === 'wrong-nonce') claims.nonce = 'not-the-nonce-we-sent';
  if (mode === 'wrong-iss') claims.iss = 'https://evil.example';
  body.id_token = await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'JWT' })
    .sign(privateKey);
  ctx.body = body;
});

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname === '/__test/mode') {
      mode = url.searchParams.get('value');
      res.end('ok');
      return;
    }
    if (url.pathname === '/__test/account') {
      accountId = url.searchParams.get('sub');
      res.end('ok');
      return;
    }
    if (url.pathname.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(req, res);
      if (mode === 'cancel') {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User cancelled' }, { mergeWithLastSubmission: false });
        return;
      }
      if (details.prompt.name === 'login') {
        // Mode `pwd-only`: an upstream login without a second factor.
        const amr = mode === 'pwd-only' ? ['pwd'] : ['pwd', 'otp'];
        const acr = mode === 'pwd-only' ? 'urn:test:pwd' : 'urn:test:mfa';
        await provider.interactionFinished(req, res, { login: { accountId, amr, acr } }, { mergeWithLastSubmission: false });
        return;
      }
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    callback(req, res);
  } catch (e) {
    res.statusCode = 500;
    res.end(String(e?.stack || e));
  }
});

process.stdout.write(`READY ${issuer}\n`);

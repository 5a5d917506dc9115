// End-to-end relying-party flow against auth-server, driven by openid-client v6.
//
//   ISSUER=http://127.0.0.1:PORT/t/acme CLIENT_ID=… CLIENT_SECRET=… \
//   REDIRECT_URI=http://127.0.0.1/cb USERNAME=alice PASSWORD=… node tests/node/rp-flow.mjs
//
// The client must be confidential (client_secret_basic), have the grant types
// authorization_code + refresh_token, the scope `openid profile offline_access`,
// introspection allowed, and REDIRECT_URI registered. Nothing needs to listen on
// REDIRECT_URI: the final redirect is captured from the `Location` header.
//
// Output: exactly one JSON line on stdout.
//   success: {"ok":true,"sub":…,"id_token_claims":{…},"steps":[…]}
//   failure: {"ok":false,"step":"…","error":"…"} and exit code 1
import * as client from 'openid-client';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`missing env var ${name}`);
  return v;
};

const steps = [];
let step = 'env';

// Minimal cookie jar: name -> value, fed from Set-Cookie, sent back as Cookie.
// One host (the issuer) only, so domain/path scoping is not needed.
const jar = new Map();
async function http(url, init = {}) {
  const headers = new Headers(init.headers);
  if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
  }
  return res;
}

// Short description of an unexpected HTML/JSON body: the role="alert" text when there is one.
function describe(body) {
  const alert = body.match(/role="alert"[^>]*>([^<]*)/);
  return alert ? `alert: ${unescapeHtml(alert[1])}` : body.slice(0, 300);
}

// Expect a redirect with one of `statuses`; return the absolute Location.
async function redirectOf(res, statuses) {
  if (!statuses.includes(res.status)) {
    throw new Error(`${res.url}: expected HTTP ${statuses.join('/')}, got ${res.status}: ${describe(await res.text())}`);
  }
  const loc = res.headers.get('location');
  if (!loc) throw new Error(`HTTP ${res.status} without Location`);
  return new URL(loc, res.url).href;
}

const unescapeHtml = (s) =>
  s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

// GET an HTML page with a form; return its absolute action URL and hidden tx/csrf.
async function getForm(url) {
  const res = await http(url);
  const html = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}: ${describe(html)}`);
  const hidden = (name) => {
    const m = html.match(new RegExp(`name="${name}"\\s+value="([^"]*)"`));
    if (!m) throw new Error(`no hidden input "${name}" in ${url}: ${describe(html)}`);
    return unescapeHtml(m[1]);
  };
  const action = html.match(/<form[^>]*\saction="([^"]*)"/);
  return {
    action: action ? new URL(unescapeHtml(action[1]), url).href : url,
    tx: hidden('tx'),
    csrf: hidden('csrf'),
  };
}

const postForm = (url, fields) =>
  http(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function main() {
  const issuer = env('ISSUER');
  const clientId = env('CLIENT_ID');
  const clientSecret = env('CLIENT_SECRET');
  const redirectUri = env('REDIRECT_URI');
  const username = env('USERNAME');
  const password = env('PASSWORD');

  step = 'discovery';
  // Plain http on 127.0.0.1 in tests, hence allowInsecureRequests.
  const config = await client.discovery(new URL(issuer), clientId, undefined,
    client.ClientSecretBasic(clientSecret), { execute: [client.allowInsecureRequests] });
  check(config.serverMetadata().issuer === issuer, `discovered issuer ${config.serverMetadata().issuer} != ${issuer}`);
  steps.push(step);

  step = 'authorize';
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile offline_access',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const loginUrl = await redirectOf(await http(authUrl), [302, 303]);
  check(new URL(loginUrl).pathname.endsWith('/login'), `authorize redirected to ${loginUrl}, expected the login page`);
  steps.push(step);

  step = 'login';
  const login = await getForm(loginUrl);
  let next = await redirectOf(await postForm(login.action, {
    username, password, tx: login.tx, csrf: login.csrf, action: 'login',
  }), [303]);
  steps.push(step);

  // Consent is asked the first time a (user, client, scopes) combination is seen.
  if (new URL(next).pathname.endsWith('/consent')) {
    step = 'consent';
    const consent = await getForm(next);
    next = await redirectOf(await postForm(consent.action, {
      tx: consent.tx, csrf: consent.csrf, decision: 'allow',
    }), [303]);
    steps.push(step);
  }
  check(next.startsWith(redirectUri), `expected a redirect to ${redirectUri}, got ${next}`);

  step = 'code_grant';
  // Validates iss (RFC 9207), state, PKCE, ID token signature (JWKS), aud, nonce.
  const tokens = await client.authorizationCodeGrant(config, new URL(next), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  check(claims?.sub, 'ID token without sub');
  check(tokens.refresh_token, 'no refresh_token from the code grant');
  steps.push(step);

  step = 'userinfo';
  // expectedSubject makes openid-client reject a userinfo sub != ID token sub.
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  check(userinfo.sub === claims.sub, `userinfo sub ${userinfo.sub} != ${claims.sub}`);
  steps.push(step);

  step = 'refresh';
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  check(refreshed.refresh_token, 'no refresh_token from the refresh grant');
  check(refreshed.refresh_token !== tokens.refresh_token, 'refresh token was not rotated');
  check(refreshed.access_token, 'no access_token from the refresh grant');
  steps.push(step);

  step = 'introspect_active';
  const intro = await client.tokenIntrospection(config, refreshed.access_token);
  check(intro.active === true, `introspection: ${JSON.stringify(intro)}`);
  check(intro.sub === claims.sub, `introspection sub ${intro.sub} != ${claims.sub}`);
  check(intro.client_id === undefined || intro.client_id === clientId, `introspection client_id ${intro.client_id}`);
  steps.push(step);

  step = 'revoke';
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
  steps.push(step);

  step = 'refresh_after_revoke';
  let refreshError;
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
  } catch (e) {
    refreshError = e;
  }
  check(refreshError, 'refresh with a revoked token succeeded');
  check(refreshError.error === 'invalid_grant',
    `expected invalid_grant, got ${refreshError.error ?? refreshError.message}`);
  steps.push(step);

  step = 'introspect_revoked';
  // Revoking a refresh token revokes its whole grant family, access tokens included.
  const after = await client.tokenIntrospection(config, refreshed.access_token);
  check(after.active === false, `access token still active after revocation: ${JSON.stringify(after)}`);
  steps.push(step);

  console.log(JSON.stringify({ ok: true, sub: claims.sub, id_token_claims: claims, steps }));
}

try {
  await main();
} catch (e) {
  // openid-client errors carry the server's `error`/`error_description` and often a `cause`.
  let error = e?.message ?? String(e);
  if (e?.error) error += ` [error=${e.error}${e.error_description ? `: ${e.error_description}` : ''}]`;
  if (e?.code) error += ` [code=${e.code}]`;
  if (e?.cause instanceof Response) {
    error += ` [HTTP ${e.cause.status} from ${e.cause.url}]`;
  } else if (e?.cause instanceof Error) {
    error += ` [cause=${e.cause.code ? `${e.cause.code} ` : ''}${e.cause.message}]`;
  } else if (e?.cause) {
    try { error += ` [cause=${JSON.stringify(e.cause)}]`; } catch { /* circular */ }
  }
  console.log(JSON.stringify({ ok: false, step, error }));
  process.exit(1);
}

// A minimal "browser" for auth-server's HTML pages, shared by the node test scripts: keeps
// cookies, follows the login and consent pages by posting their forms, and stops at the
// first redirect that leaves the server (the client's redirect URI).
export function browser(base, username, password) {
  const cookies = new Map();
  const origin = new URL(base).origin;
  async function go(url, init = {}) {
    const headers = { ...(init.headers || {}), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
    const r = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const c of r.headers.getSetCookie()) {
      const kv = c.split(";")[0];
      const i = kv.indexOf("=");
      cookies.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return r;
  }
  const hidden = (html, name) =>
    html.match(new RegExp(`name="${name}"[^>]*value="([^"]*)"`))?.[1] ?? html.match(new RegExp(`value="([^"]*)"[^>]*name="${name}"`))?.[1];
  // Open `authUrl`, sign in and allow consent; returns the URL the server redirected the
  // browser to outside itself (with `code` or `error`). `pages` records the HTML seen.
  async function authorize(authUrl, pages = []) {
    let r = await go(authUrl);
    if (r.status !== 302 && r.status !== 303) throw new Error(`GET ${authUrl}: ${r.status} ${await r.text()}`);
    let loc = r.headers.get("location");
    for (let n = 0; n < 5 && loc; n++) {
      const abs = new URL(loc, base);
      if (abs.origin !== origin) return abs;
      const html = await (await go(abs.href)).text();
      pages.push(html);
      const tx = hidden(html, "tx");
      const csrf = hidden(html, "csrf");
      const form = abs.pathname.endsWith("/login") ? { tx, csrf, username, password, action: "login" } : { tx, csrf, decision: "allow" };
      r = await go(`${origin}${abs.pathname}`, {
        method: "POST",
        body: new URLSearchParams(form),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      if (r.status !== 303) throw new Error(`POST ${abs.pathname}: ${r.status} ${await r.text()}`);
      loc = r.headers.get("location");
    }
    throw new Error(`no redirect to the client after login (last location ${loc})`);
  }
  return { go, authorize };
}

#!/usr/bin/env python3
"""One-command HTTP benchmark of auth-server against an actix-web hello-world ceiling.

Builds the release binaries, starts the ceiling and the server (embedded default:
SQLite + in-process store) on free ports, provisions a subscription and clients through
the admin API, then measures every scenario interleaved with the ceiling for ROUNDS
rounds with wrk and prints a markdown table (median and min-max requests/s, p50/p99
latency, ratio to the ceiling measured in the same run).

Usage: bench/run.py [--rounds 3] [--seconds 5] [--connections 64] [--only REGEX]
Needs wrk (Debian package `wrk`; installed when missing and apt is usable).
"""
import argparse, base64, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"{url} did not come up")


def call(method, url, body=None, headers=None, form=None):
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def basic(cid, secret):
    return "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()


def lua_post(path, body, auth):
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            f'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.headers["Authorization"] = {json.dumps(auth)}\n')
    f.close()
    return f.name


def wrk(url, seconds, conns, script=None):
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", script]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(next(l for l in out.splitlines() if l.startswith("Requests/sec")).split()[1])
    lat = {}
    for l in out.splitlines():
        parts = l.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            lat[parts[0]] = parts[1]
    non2xx = next((l for l in out.splitlines() if "Non-2xx" in l), None)
    if non2xx:
        sys.exit(f"{url}: {non2xx.strip()}")
    return rps, lat.get("50%", "?"), lat.get("99%", "?")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def user_token(base, client, user, password):
    """Drive the HTML login (code + PKCE) like a browser; returns a user access token."""
    import hashlib, http.cookiejar, re
    jar = http.cookiejar.CookieJar()
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    def go(url, data=None):
        try:
            r = opener.open(urllib.request.Request(url, data=data))
            return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = urllib.parse.urlencode({"response_type": "code", "client_id": client["client_id"], "redirect_uri": "http://127.0.0.1/cb",
                                "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"})
    _, h, _ = go(f"{base}/t/bench/authorize?{q}")
    loc = h["Location"]
    for _ in range(3):
        if loc.startswith("http://127.0.0.1/cb"):
            break
        _, _, html = go(base + loc)
        field = lambda n: re.search(f'name="{n}" value="([^"]*)"', html).group(1)
        form = {"tx": field("tx"), "csrf": field("csrf")}
        form.update({"username": user, "password": password, "action": "login"} if "/login" in loc else {"decision": "allow"})
        _, h, _ = go(base + loc.split("?")[0], urllib.parse.urlencode(form).encode())
        loc = h["Location"]
    code = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query)["code"][0]
    return call("POST", f"{base}/t/bench/token", form={"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1/cb",
                "code_verifier": verifier}, headers={"Authorization": basic(client["client_id"], client["client_secret"])})["access_token"]


def lua_json(body, auth):
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            f'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = {json.dumps(auth)}\n')
    f.close()
    return f.name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--only", help="regular expression: run only the scenarios whose label matches (the ceiling always runs)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    subprocess.run(["cargo", "build", "--release", "-p", "auth-server", "--bin", "auth-server", "--example", "hello"], cwd=ROOT, check=True)

    procs = []
    try:
        hello_port, port = free_port(), free_port()
        hello = subprocess.Popen([os.path.join(TARGET, "release/examples/hello"), f"127.0.0.1:{hello_port}"])
        procs.append(hello)
        data = tempfile.mkdtemp(prefix="auth-bench-")
        env = dict(os.environ, AUTH_DATA_DIR=data, AUTH_LISTEN=f"127.0.0.1:{port}", AUTH_PUBLIC_URL=f"http://127.0.0.1:{port}", AUTH_LOG="warn",
                   AUTH_ACCESS_TOKEN_TTL="3600")
        server = subprocess.Popen([os.path.join(TARGET, "release/auth-server")], env=env)
        procs.append(server)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz")
        wait_http(f"http://127.0.0.1:{hello_port}/")
        secret = open(os.path.join(data, "admin-client-secret")).read().strip()
        admin = call("POST", f"{base}/t/system/token", form={"grant_type": "client_credentials", "scope": "admin"}, headers={"Authorization": basic("admin", secret)})["access_token"]
        auth = {"Authorization": f"Bearer {admin}"}
        call("POST", f"{base}/admin/v1/subscriptions", {"slug": "bench", "name": "Bench"}, auth)
        clients = {}
        for name, fmt, alg in [("es256", "jwt", "ES256"), ("rs256", "jwt", "RS256"), ("eddsa", "jwt", "EdDSA"), ("opaque", "opaque", "ES256")]:
            clients[name] = call("POST", f"{base}/admin/v1/subscriptions/bench/clients", {"name": name, "grant_types": ["client_credentials"], "scope": "read",
                                 "token_endpoint_auth_method": "client_secret_basic", "access_token_format": fmt, "access_token_signing_alg": alg, "introspection": True}, auth)
        tok = lambda c: call("POST", f"{base}/t/bench/token", form={"grant_type": "client_credentials"}, headers={"Authorization": basic(c["client_id"], c["client_secret"])})["access_token"]
        rs = clients["es256"]
        rs_auth = basic(rs["client_id"], rs["client_secret"])
        scenarios = [("ceiling: actix-web hello world", f"http://127.0.0.1:{hello_port}/", None, hello.pid),
                     ("discovery", f"{base}/t/bench/.well-known/openid-configuration", None, server.pid),
                     ("JWKS", f"{base}/t/bench/jwks", None, server.pid)]
        for name in ["es256", "eddsa", "rs256", "opaque"]:
            c = clients[name]
            scenarios.append((f"client credentials token ({'opaque' if name == 'opaque' else name.upper().replace('EDDSA', 'EdDSA')})", f"{base}/t/bench/token",
                              lua_post("/t/bench/token", "grant_type=client_credentials", basic(c["client_id"], c["client_secret"])), server.pid))
        for name in ["es256", "eddsa", "rs256", "opaque"]:
            scenarios.append((f"introspection ({'opaque' if name == 'opaque' else 'JWT ' + name.upper().replace('EDDSA', 'EdDSA')})", f"{base}/t/bench/introspect",
                              lua_post("/t/bench/introspect", "token=" + tok(clients[name]), rs_auth), server.pid))

        # ACL: a user who participates in a workspace, in one group of an app with a
        # record rule and a field policy.
        web = call("POST", f"{base}/admin/v1/subscriptions/bench/clients", {"name": "web", "redirect_uris": ["http://127.0.0.1/cb"],
                   "grant_types": ["authorization_code"], "scope": "openid", "token_endpoint_auth_method": "client_secret_basic",
                   "skip_consent": True, "access_token_format": "jwt", "access_token_signing_alg": "EdDSA"}, auth)
        uid = call("POST", f"{base}/admin/v1/subscriptions/bench/users", {"username": "alice", "password": "bench password 1",
                   "attributes": {"department": "eng"}}, auth)["id"]
        ws = f"{base}/admin/v1/subscriptions/bench/workspaces"
        call("POST", ws, {"slug": "eng", "name": "Engineering"}, auth)
        call("PUT", f"{ws}/eng/participants/{uid}", {"role": "team"}, auth)
        call("POST", f"{ws}/eng/groups", {"name": "devs"}, auth)
        call("PUT", f"{ws}/eng/groups/devs/members/{uid}", {}, auth)
        call("POST", f"{ws}/eng/apps", {"slug": "bugs", "name": "Bugs", "grants": [{"group": "devs", "actions": ["read", "create", "edit"], "records": "own_or_assigned"}],
             "fields": [{"field": "cost", "access": "workspaceAdmin", "when_denied": "hidden"}]}, auth)
        ut = user_token(base, web, "alice", "bench password 1")
        record = json.dumps({"id": "r1", "creator": uid, "fields": {"title": "x", "cost": 3}})
        scenarios.append(("introspection (JWT, user) without ACL parameters", f"{base}/t/bench/introspect",
                          lua_post("/t/bench/introspect", "token=" + ut, rs_auth), server.pid))
        scenarios.append(("introspection (JWT, user) with acl_workspace + acl_app + acl_record", f"{base}/t/bench/introspect",
                          lua_post("/t/bench/introspect", urllib.parse.urlencode({"token": ut, "acl_workspace": "eng", "acl_app": "bugs", "acl_record": record}), rs_auth), server.pid))
        records = [{"id": f"r{i}", "creator": uid if i % 2 else "someone", "fields": {"title": "t", "cost": i}} for i in range(1000)]
        scenarios.append(("/acl/evaluate, 1,000 records per call", f"{base}/t/bench/acl/evaluate",
                          lua_json(json.dumps({"token": ut, "workspace": "eng", "app": "bugs", "records": records}), rs_auth), server.pid))

        if args.only:
            scenarios = scenarios[:1] + [s for s in scenarios[1:] if re.search(args.only, s[0])]
        results = {s[0]: [] for s in scenarios}
        for _ in range(args.rounds):
            for label, url, script, pid in scenarios:
                cpu0, t0 = cpu_seconds(pid), time.time()
                rps, p50, p99 = wrk(url, args.seconds, args.connections, script)
                cpu = (cpu_seconds(pid) - cpu0) / (time.time() - t0)
                results[label].append((rps, p50, p99, cpu))
        ceiling = statistics.median(r[0] for r in results[scenarios[0][0]])
        print(f"\n{args.rounds} rounds x {args.seconds} s, wrk -t2 -c{args.connections}, {os.cpu_count()} cores shared by server and load generator\n")
        print("| scenario | requests/s median (min-max) | p50 | p99 | server CPU (cores) | ratio to ceiling |")
        print("|---|---|---|---|---|---|")
        for label, *_ in scenarios:
            rows = results[label]
            med = statistics.median(r[0] for r in rows)
            mid = sorted(rows, key=lambda r: r[0])[len(rows) // 2]
            print(f"| {label} | {med:,.0f} ({min(r[0] for r in rows):,.0f}-{max(r[0] for r in rows):,.0f}) | {mid[1]} | {mid[2]} | {mid[3]:.2f} | {med / ceiling:.2f} |")
        if "/acl/evaluate, 1,000 records per call" in results:
            evaluate = statistics.median(r[0] for r in results["/acl/evaluate, 1,000 records per call"])
            print(f"\n/acl/evaluate: {evaluate * 1000:,.0f} record decisions/s")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


if __name__ == "__main__":
    import urllib.parse
    main()

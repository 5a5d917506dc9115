#!/usr/bin/env python3
"""One-command HTTP benchmark of auth-server against an actix-web hello-world ceiling and
a real peer, node-oidc-provider.

Default mode: builds the release binaries, installs wrk (apt) and the peer (npm ci in
bench/) when missing, starts the ceiling (examples/hello.rs), auth-server on the embedded
default (SQLite + in-process store) and node-oidc-provider (bench/peer/oidc-provider.mjs),
provisions clients, a user and ACL data through the admin API, then measures every
scenario for ROUNDS rounds. Each round runs the ceiling, then each scenario on our server
and, where the peer has the same endpoint, on the peer right after it. It prints one
markdown table: median and min-max requests/s, p50/p99 latency and server CPU for us and
the peer, the ratio to the ceiling and to the peer (medians of the same run), then memory
(RSS idle and peak), start-up-to-ready time and the argon2id limit of this machine.

--tenants N mode: creates N subscriptions (each with its keys and one client) through the
admin API on one server, then compares token issuance and introspection on the last tenant
against a single-tenant server, and reports creation time, RSS per idle tenant and the
one-time cost of a tenant's first RS256 signature (its RS256 keys are made then).

--scale-out mode: one instance on SQLite against one and two instances sharing a fresh
PostgreSQL database and Redis, client-credentials issuance and introspection, one wrk per
instance at once (the load spread as a load balancer would).

--security mode: the per-address limiter's cost (off against on, on SQLite and on
PostgreSQL + Redis) and SECURITY.md A2's latency sample (unknown client, wrong secret,
disabled client, another tenant's client: identical answers, latency medians and noise).

--write puts the result (with the machine description) into docs/performance.md between
its generated-section markers.

Usage: bench/run.py [--rounds 3] [--seconds 5] [--connections 64] [--only REGEX]
                    [--no-peer] [--login-workers 8] [--write]
       bench/run.py --tenants 10000 [--admin-workers 4] [--rounds 3] [--seconds 5] [--write]
       bench/run.py --scale-out [--rounds 3] [--seconds 5] [--write]
       bench/run.py --security [--rounds 3] [--seconds 5] [--samples 1000] [--write]
"""
import argparse, base64, hashlib, http.client, json, os, platform, re, shutil, socket, statistics, subprocess, sys, tempfile
import threading, time, urllib.parse, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.path.join(TARGET, "release")  # --bin-dir replaces it (and skips the build)
THREADS = 2  # wrk threads
PEER_SECRET = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
REDIRECT = "http://127.0.0.1/cb"


# ---------------------------------------------------------------- processes and HTTP

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(step)
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


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid, field="VmRSS"):
    """Resident memory of a process from /proc (VmRSS now, VmHWM peak, RssAnon the anonymous part)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """auth-server on a fresh (or given) data dir; records its start-up-to-ready time."""

    def __init__(self, data=None, extra_env=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = data or tempfile.mkdtemp(prefix="auth-bench-")
        env = dict(os.environ, AUTH_DATA_DIR=self.data, AUTH_LISTEN=f"127.0.0.1:{self.port}", AUTH_PUBLIC_URL=self.base,
                   AUTH_LOG="warn", AUTH_ACCESS_TOKEN_TTL="3600",
                   # One load generator on one address is a flood by any per-address
                   # measure: the limiter (10,000/s per address by default) is off here.
                   AUTH_IP_RATE_LIMIT="0", AUTH_LOGIN_IP_RATE_LIMIT="100000")
        env.update(extra_env or {})
        t0 = time.perf_counter()
        self.admin_secret = (extra_env or {}).get("AUTH_ADMIN_CLIENT_SECRET")
        self.proc = subprocess.Popen([os.path.join(BIN, "auth-server")], env=env)
        wait_http(f"{self.base}/readyz", timeout=600, step=0.005)
        self.ready_ms = (time.perf_counter() - t0) * 1000
        self.pid = self.proc.pid
        self.mint_admin_token()

    def mint_admin_token(self):
        secret = self.admin_secret or open(os.path.join(self.data, "admin-client-secret")).read().strip()
        admin = call("POST", f"{self.base}/t/system/token", form={"grant_type": "client_credentials", "scope": "admin"},
                     headers={"Authorization": basic("admin", secret)})["access_token"]
        self.auth = {"Authorization": f"Bearer {admin}"}

    def admin(self, method, path, body=None):
        return call(method, f"{self.base}/admin/v1{path}", body, self.auth)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


# ---------------------------------------------------------------- load generators

def lua_file(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write(text)
    f.close()
    return f.name


def lua_post(body, auth, content_type="application/x-www-form-urlencoded"):
    return lua_file(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                    f'wrk.headers["Content-Type"] = {json.dumps(content_type)}\n'
                    f'wrk.headers["Authorization"] = {json.dumps(auth)}\n')


def lua_refresh(path, tokens, auth):
    """wrk script for the refresh grant: every request needs an unused refresh token.

    Each wrk thread takes its share of the pre-minted tokens as a pool; a request pops one,
    and its response pushes the rotated successor back, so the pool never runs dry and no
    token is presented twice (which would be refresh-token reuse and revoke the family).
    """
    return lua_file(f"""
local all = {{ {", ".join(json.dumps(t) for t in tokens)} }}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local pool = {{}}
function init(args)
  for i = id + 1, #all, {THREADS} do pool[#pool + 1] = all[i] end
end
local headers = {{ ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = {json.dumps(auth)} }}
function request()
  local t = table.remove(pool) or "pool-exhausted"
  return wrk.format("POST", {json.dumps(path)}, headers, "grant_type=refresh_token&refresh_token=" .. t)
end
function response(status, hdrs, body)
  local t = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if t then pool[#pool + 1] = t end
end
""")


def wrk(url, seconds, conns, script=None, threads=THREADS):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", url]
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


def acl_world(admin, uid):
    """The ACL scenarios' world: `uid` takes part in workspace `eng` and is in its group
    `devs`, which app `bugs` grants read, create and edit on the records the user created
    or is assigned, with field `cost` hidden from all but workspace admins. `admin(method,
    path, body)` calls the admin API under the bench subscription."""
    admin("POST", "/workspaces", {"slug": "eng", "name": "Engineering"})
    admin("PUT", f"/workspaces/eng/participants/{uid}", {"role": "team"})
    admin("POST", "/workspaces/eng/groups", {"name": "devs"})
    admin("PUT", f"/workspaces/eng/groups/devs/members/{uid}", {})
    admin("POST", "/workspaces/eng/apps", {"slug": "bugs", "name": "Bugs", "grants": [{"group": "devs", "actions": ["read", "create", "edit"],
          "records": "own_or_assigned"}], "fields": [{"field": "cost", "access": "workspaceAdmin", "when_denied": "hidden"}]})


def acl_ask(token, uid):
    """The introspection body of the ACL scenario: `token`, asked about workspace `eng`, app
    `bugs` and a record created by `uid`."""
    record = json.dumps({"id": "r1", "creator": uid, "fields": {"title": "x", "cost": 3}})
    return urllib.parse.urlencode({"token": token, "acl_workspace": "eng", "acl_app": "bugs", "acl_record": record})


def acl_evaluation(token, uid):
    """The `/acl/evaluate` body of the bench: 1,000 records of app `bugs`, every other one
    created by `uid`."""
    records = [{"id": f"r{i}", "creator": uid if i % 2 else "someone", "fields": {"title": "t", "cost": i}} for i in range(1000)]
    return json.dumps({"token": token, "workspace": "eng", "app": "bugs", "records": records})


def pkce():
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class Browser:
    """A keep-alive HTTP/1.1 client with a cookie jar, driving the HTML login like a browser."""

    def __init__(self, port):
        self.port, self.conn, self.cookies = port, None, {}

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(body)
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.conn.request(method, path, body, headers)
                r = self.conn.getresponse()
                data = r.read().decode()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn = None
                if attempt:
                    raise
        for c in r.headers.get_all("Set-Cookie") or []:
            name, _, value = c.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value
        loc = r.headers.get("Location")
        if loc and loc.startswith("http://127.0.0.1:"):
            loc = "/" + loc.split("/", 3)[3]
        return r.status, loc, data

    def authorize(self, client, verifier_challenge, scope="openid"):
        """GET /authorize; returns where it redirects (the login page, or the callback)."""
        q = urllib.parse.urlencode({"response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT, "scope": scope,
                                    "state": "s", "code_challenge": verifier_challenge[1], "code_challenge_method": "S256"})
        status, loc, _ = self.request("GET", f"/t/bench/authorize?{q}")
        if status not in (302, 303) or not loc:
            raise RuntimeError(f"/authorize answered {status}")
        return loc

    def login(self, login_loc, username, password):
        """GET the login page, POST the form; returns the callback URL with the code."""
        status, _, html = self.request("GET", login_loc)
        field = lambda n: re.search(f'name="{n}" value="([^"]*)"', html).group(1)
        status, loc, _ = self.request("POST", login_loc.split("?")[0], {"tx": field("tx"), "csrf": field("csrf"), "username": username,
                                                                        "password": password, "action": "login"})
        if status not in (302, 303) or not loc or not loc.startswith(REDIRECT):
            raise RuntimeError(f"login POST answered {status} -> {loc}")
        return loc

    def exchange(self, client, callback, verifier):
        code = urllib.parse.parse_qs(urllib.parse.urlparse(callback).query)["code"][0]
        status, _, body = self.request("POST", "/t/bench/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                                                  "code_verifier": verifier},
                                       {"Authorization": basic(client["client_id"], client["client_secret"])})
        if status != 200:
            raise RuntimeError(f"code exchange answered {status}: {body[:200]}")
        return json.loads(body)


# ---------------------------------------------------------------- scenarios

class Run:
    """One side of a scenario: a wrk run (url + optional script or script factory) or a driver."""

    def __init__(self, pid, url=None, script=None, prepare=None, driver=None):
        self.pid, self.url, self.script, self.prepare, self.driver = pid, url, script, prepare, driver
        self.conns = None  # a prepare() may set the connection count

    def measure(self, seconds, conns):
        script = self.prepare() if self.prepare else self.script
        conns = self.conns or conns
        cpu0, t0 = cpu_seconds(self.pid), time.time()
        if self.driver:
            rps, p50, p99 = self.driver(seconds)
        else:
            rps, p50, p99 = wrk(self.url, seconds, conns, script)
        cpu = (cpu_seconds(self.pid) - cpu0) / (time.time() - t0)
        return rps, p50, p99, cpu


def build(examples):
    if BIN != os.path.join(TARGET, "release"):
        return
    cmd = ["cargo", "build", "--release", "-p", "auth-server", "--bin", "auth-server"]
    for e in examples:
        cmd += ["--example", e]
    subprocess.run(cmd, cwd=ROOT, check=True)


def ensure_tools(peer):
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    if peer and not os.path.isdir(os.path.join(BENCH, "node_modules", "oidc-provider")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True)


def start_peer():
    port = free_port()
    env = dict(os.environ, NODE_ENV="production")
    proc = subprocess.Popen(["node", os.path.join(BENCH, "peer", "oidc-provider.mjs"), str(port), PEER_SECRET], env=env,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/.well-known/openid-configuration")
    return proc, base


def alg_label(name):
    return {"es256": "ES256", "eddsa": "EdDSA", "rs256": "RS256", "opaque": "opaque"}[name]


def scenarios_for(args, srv, hello, peer):
    """Provision our server (and reuse the peer's static clients); returns the scenario list."""
    base = srv.base
    srv.admin("POST", "/subscriptions", {"slug": "bench", "name": "Bench"})
    clients = {}
    for name, fmt, alg in [("es256", "jwt", "ES256"), ("rs256", "jwt", "RS256"), ("eddsa", "jwt", "EdDSA"), ("opaque", "opaque", "ES256")]:
        clients[name] = srv.admin("POST", "/subscriptions/bench/clients", {"name": name, "grant_types": ["client_credentials"], "scope": "read",
                                  "token_endpoint_auth_method": "client_secret_basic", "access_token_format": fmt, "access_token_signing_alg": alg,
                                  "introspection": True})
    tok = lambda c: call("POST", f"{base}/t/bench/token", form={"grant_type": "client_credentials", "scope": "read"},
                         headers={"Authorization": basic(c["client_id"], c["client_secret"])})["access_token"]
    rs = clients["es256"]
    rs_auth = basic(rs["client_id"], rs["client_secret"])
    peer_pid = peer[0].pid if peer else None
    peer_base = peer[1] if peer else None
    peer_tok = lambda cid: call("POST", f"{peer_base}/token", form={"grant_type": "client_credentials", "scope": "read"},
                                headers={"Authorization": basic(cid, PEER_SECRET)})["access_token"]
    P = lambda *a, **k: Run(peer_pid, *a, **k) if peer else None
    S = lambda *a, **k: Run(srv.pid, *a, **k)

    scenarios = [("ceiling: actix-web hello world", Run(hello.pid, f"http://127.0.0.1:{hello.port}/"), None)]
    for label, path, peer_path in [("discovery", "/t/bench/.well-known/openid-configuration", "/.well-known/openid-configuration"),
                                   ("JWKS", "/t/bench/jwks", "/jwks")]:
        scenarios.append((label, S(f"{base}{path}"), P(f"{peer_base}{peer_path}")))
        # The ceiling answering a body as large as the document: how much of the gap to
        # the hello world is the size of the answer alone (every byte is copied through
        # the kernel and read by the load generator).
        size = len(urllib.request.urlopen(f"{base}{path}").read())
        scenarios.append((f"ceiling answering {size:,} bytes (the size of the {label} document)",
                          Run(hello.pid, f"http://127.0.0.1:{hello.port}/bytes/{size}"), None))
    cc_body = "grant_type=client_credentials&scope=read"
    for name in ["es256", "eddsa", "rs256", "opaque"]:
        c = clients[name]
        scenarios.append((f"client credentials token ({alg_label(name)})",
                          S(f"{base}/t/bench/token", lua_post(cc_body, basic(c["client_id"], c["client_secret"]))),
                          P(f"{peer_base}/token", lua_post(cc_body, basic(f"peer-{name}", PEER_SECRET)))))
    for name in ["es256", "eddsa", "rs256", "opaque"]:
        label = "introspection (opaque)" if name == "opaque" else f"introspection (JWT {alg_label(name)})"
        # node-oidc-provider introspects only the tokens it stores (opaque); its JWTs are
        # meant to be verified by the resource server, so it has no JWT column.
        peer_run = P(f"{peer_base}/token/introspection", lua_post("token=" + peer_tok("peer-opaque"), basic("peer-es256", PEER_SECRET))) \
            if name == "opaque" and peer else None
        scenarios.append((label, S(f"{base}/t/bench/introspect", lua_post("token=" + tok(clients[name]), rs_auth)), peer_run))
    opaque_body = "token=" + tok(clients["opaque"])

    def at_half_rate(think_ms, label, calibrate):
        # wrk has no rate control, but its delay() hook gives each connection a think time
        # (in whole milliseconds) between a response and its next request: C connections
        # offer at most C x 1000 / think_ms requests/s. With a short think time the
        # response time counts too, so `calibrate` measures the rate of a first guess for
        # two seconds and scales C to it.
        think = f"function delay()\n  return {think_ms}\nend\n"
        url = f"{base}/t/bench/introspect"

        def prepare():
            full = LAST.get("introspection (opaque)")
            if full is None:
                sys.exit("the half-rate scenarios need 'introspection (opaque)' in the same run (see --only)")
            script = lua_file(open(lua_post(opaque_body, rs_auth)).read() + think)
            conns = max(THREADS, round(full / 2 * think_ms / 1000))
            if calibrate:
                offered = wrk(url, 2, conns, script)[0]
                conns = max(THREADS, round(conns * full / 2 / offered))
            ours.conns = conns
            CONNECTIONS.setdefault(label, []).append(conns)
            return script

        def same_offered_load():
            # The hello world under the very load of the row above (same connections, same
            # think time): the tail latency that the shared cores and the load generator
            # alone give at that rate, the floor of the row above's p99.
            ceiling.conns = ours.conns
            return lua_file(think)

        ours = S(url, prepare=prepare)
        ceiling = Run(hello.pid, f"http://127.0.0.1:{hello.port}/", prepare=same_offered_load)
        scenarios.append((label, ours, None))
        scenarios.append((f"ceiling at the offered load of the row above ({think_ms} ms think time, same connections)", ceiling, None))

    # The target's row: as many connections as the full-rate rows (about --connections),
    # each thinking 1 ms, so that only the rate is halved.
    at_half_rate(1, "introspection (opaque) at about half its max rate (1 ms think time per connection, connections calibrated)", True)
    # Eight times the connections or more, each thinking 10 ms (the row of sessions 4-15):
    # many resource servers with a connection each. Its tail is mostly the load
    # generator's, as its ceiling row shows.
    at_half_rate(10, "introspection (opaque) at about half its max rate (10 ms think time per connection)", False)

    # ACL: a user who participates in a workspace, in one group of an app with a record
    # rule and a field policy. The same user logs in for the login scenarios.
    web = srv.admin("POST", "/subscriptions/bench/clients", {"name": "web", "redirect_uris": [REDIRECT],
                    "grant_types": ["authorization_code", "refresh_token"], "scope": "openid offline_access",
                    "token_endpoint_auth_method": "client_secret_basic", "skip_consent": True, "access_token_format": "jwt",
                    "access_token_signing_alg": "ES256", "id_token_signed_response_alg": "ES256"})
    password = "bench password 1"
    uid = srv.admin("POST", "/subscriptions/bench/users", {"username": "alice", "password": password, "attributes": {"department": "eng"}})["id"]
    acl_world(lambda method, path, body: srv.admin(method, "/subscriptions/bench" + path, body), uid)
    # One logged-in browser: its session mints codes without a password check.
    session = Browser(srv.port)
    v = pkce()
    ut = session.exchange(web, session.login(session.authorize(web, v), "alice", password), v[0])["access_token"]

    def mint_refresh_tokens():
        tokens = []
        for _ in range(2 * args.connections):
            v = pkce()
            tokens.append(session.exchange(web, session.authorize(web, v, "openid offline_access"), v[0])["refresh_token"])
        return lua_refresh("/t/bench/token", tokens, basic(web["client_id"], web["client_secret"]))

    scenarios.append(("introspection (JWT, user) without ACL parameters", S(f"{base}/t/bench/introspect", lua_post("token=" + ut, rs_auth)), None))
    scenarios.append(("introspection (JWT, user) with acl_workspace + acl_app + acl_record",
                      S(f"{base}/t/bench/introspect", lua_post(acl_ask(ut, uid), rs_auth)), None))
    scenarios.append(("/acl/evaluate, 1,000 records per call", S(f"{base}/t/bench/acl/evaluate",
                      lua_post(acl_evaluation(ut, uid), rs_auth, "application/json")), None))
    scenarios.append(("refresh grant (rotation, ES256 access + ID token)", S(f"{base}/t/bench/token", prepare=mint_refresh_tokens), None))

    # One user per driver browser: the brute-force budget (service/throttle) refuses more
    # than five attempts in flight for one name, as a guessing burst would have.
    for i in range(args.login_workers):
        srv.admin("POST", "/subscriptions/bench/users", {"username": f"login{i}", "password": password})

    def logins(mode):
        """The login driver (examples/login_load, one thread like wrk): returns (per s, p50, p99)."""
        def run(seconds):
            out = subprocess.run([os.path.join(BIN, "examples/login_load"), mode, base, "bench", web["client_id"], web["client_secret"],
                                  REDIRECT, "login", password, str(args.login_workers), str(seconds)],
                                 capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"login driver ({mode}) failed: {out.stderr.strip()}")
            r = json.loads(out.stdout)
            return r["count"] / r["seconds"], f"{r['p50_ms']:.2f}ms", f"{r['p99_ms']:.2f}ms"
        return run

    opaque_introspection = lua_post("token=" + tok(clients["opaque"]), rs_auth)

    def introspection_under_logins(seconds):
        # A light introspection load (wrk -c4) while the login workers saturate argon2id:
        # its p99 shows whether hashing ever blocks the async executor.
        out = {}
        t = threading.Thread(target=lambda: out.update(r=logins("login")(seconds)))
        t.start()
        rps, p50, p99 = wrk(f"{base}/t/bench/introspect", seconds, 4, opaque_introspection, threads=1)
        t.join()
        return rps, p50, p99

    scenarios.append(("password login, logins/s (GET /authorize, login page, form POST; argon2id)", S(driver=logins("login")), None))
    scenarios.append(("authorization-code flow with login, flows/s (+ code exchange)", S(driver=logins("code")), None))
    scenarios.append(("authorization-code flow on an existing session, flows/s (/authorize + code exchange)", S(driver=logins("session")), None))
    scenarios.append(("introspection (opaque) at -c4 while password logins saturate", S(driver=introspection_under_logins), None))
    return scenarios


DRIVEN = ("logins/s", "flows/s", "while password logins", "half its max rate", "offered load of the row above")
LAST = {}  # label -> requests/s of its latest measurement on our server
CONNECTIONS = {}  # label -> the connections a scenario chose for itself, per round


def argon2_rate(seconds=3):
    out = subprocess.run([os.path.join(BIN, "examples/argon2_rate"), str(seconds)], capture_output=True, text=True, check=True).stdout
    return float(out.split()[0])


def fmt_side(rows):
    if not rows:
        return None, "–", "–", "–", "–"
    med = statistics.median(r[0] for r in rows)
    mid = sorted(rows, key=lambda r: r[0])[len(rows) // 2]
    return med, f"{med:,.0f} ({min(r[0] for r in rows):,.0f}–{max(r[0] for r in rows):,.0f})", mid[1], mid[2], f"{mid[3]:.2f}"


def machine():
    def first(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except Exception:
            return "?"
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) / 1024 / 1024
    peer_version = "?"
    try:
        peer_version = json.load(open(os.path.join(BENCH, "node_modules", "oidc-provider", "package.json")))["version"]
    except Exception:
        pass
    commit = first(["git", "-C", ROOT, "describe", "--always", "--dirty"])
    return (f"{os.cpu_count()} cores ({model}), {mem:.1f} GiB RAM, Linux {platform.release()}, {first(['rustc', '--version'])}, "
            f"node {first(['node', '--version'])}, oidc-provider {peer_version}, {' '.join(first(['wrk', '--version']).split()[:2])}, auth-server {commit}, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average at start {LOAD_AT_START:.2f}")


def write_section(marker, text):
    path = os.path.join(ROOT, "docs", "performance.md")
    doc = open(path).read()
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    if begin not in doc or end not in doc:
        sys.exit(f"{path} lacks the markers {begin} / {end}")
    head, rest = doc.split(begin, 1)
    doc = head + begin + "\n" + text.strip() + "\n" + end + rest.split(end, 1)[1]
    open(path, "w").write(doc)
    print(f"wrote {path}")


# ---------------------------------------------------------------- the modes

def main_scenarios(args):
    ensure_tools(not args.no_peer)
    build(["hello", "argon2_rate", "login_load"])
    procs, srv = [], None
    lines = []
    try:
        hello_port = free_port()
        hello = subprocess.Popen([os.path.join(BIN, "examples/hello"), f"127.0.0.1:{hello_port}"])
        hello.port = hello_port
        procs.append(hello)
        srv = Server()
        first_ms, rss_start = srv.ready_ms, rss_mib(srv.pid)
        peer = None if args.no_peer else start_peer()
        if peer:
            procs.append(peer[0])
        wait_http(f"http://127.0.0.1:{hello_port}/")
        scenarios = scenarios_for(args, srv, hello, peer)
        if args.only:
            scenarios = scenarios[:1] + [s for s in scenarios[1:] if re.search(args.only, s[0])]
        # Idle means idle: the password hasher hands its 19 MiB buffers back to the OS
        # once no hash has run for 10 s (directory/password.rs, IDLE_RELEASE).
        time.sleep(12)
        rss_idle, anon_idle = rss_mib(srv.pid), rss_mib(srv.pid, "RssAnon")
        peer_idle = rss_mib(peer[0].pid) if peer else None
        results = {label: ([], []) for label, *_ in scenarios}
        # Warm-up (node's JIT, our caches, SQLite pages): one short untimed pass of every
        # plain wrk run on both servers.
        for label, ours, theirs in scenarios:
            for side in (ours, theirs):
                if side and side.url and not side.prepare:
                    wrk(side.url, 1, args.connections, side.script)
        limits, readings, login_ratios = [], [], []
        for rnd in range(args.rounds):
            for label, ours, theirs in scenarios:
                # The hashing limit is read right before and right after the password
                # logins, in every round: on a shared host it drifts by 10-30 % within
                # minutes, so a reading taken a minute away from the logins (sessions 4-16
                # read it at the start of the round) put that drift into the login ratio.
                login_row = label.startswith("password login")
                if login_row:
                    print(f"round {rnd + 1}/{args.rounds}: argon2id limit", file=sys.stderr)
                    before = argon2_rate(args.seconds)
                print(f"round {rnd + 1}/{args.rounds}: {label}", file=sys.stderr)
                results[label][0].append(ours.measure(args.seconds, args.connections))
                LAST[label] = results[label][0][-1][0]
                if login_row:
                    after = argon2_rate(args.seconds)
                    readings += [before, after]
                    limits.append((before + after) / 2)
                    login_ratios.append(LAST[label] / limits[-1])
                if theirs:
                    results[label][1].append(theirs.measure(args.seconds, args.connections))
        rss_after, rss_peak = rss_mib(srv.pid), rss_mib(srv.pid, "VmHWM")
        peer_peak = rss_mib(peer[0].pid, "VmHWM") if peer else None
        srv.stop()
        restart = Server(srv.data)
        restart_ms = restart.ready_ms
        restart.stop()
        srv = None

        ceiling = statistics.median(r[0] for r in results[scenarios[0][0]][0])
        lines.append(f"{args.rounds} rounds × {args.seconds} s, wrk -t{THREADS} -c{args.connections} (login scenarios: "
                     f"{args.login_workers} browsers of the login driver `examples/login_load`, one thread), {os.cpu_count()} cores shared by the servers and the load generator.\n")
        lines.append("| scenario | ours: req/s median (min–max) | p50 | p99 | CPU | peer: req/s median (min–max) | p50 | p99 | CPU "
                     "| ratio to ceiling | ratio to peer |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for label, *_ in scenarios:
            ours, theirs = results[label]
            med, o, p50, p99, cpu = fmt_side(ours)
            pmed, po, pp50, pp99, pcpu = fmt_side(theirs)
            to_ceiling = "–" if any(d in label for d in DRIVEN) else f"{med / ceiling:.2f}"
            to_peer = f"{med / pmed:.1f}" if pmed else "–"
            lines.append(f"| {label} | {o} | {p50} | {p99} | {cpu} | {po} | {pp50} | {pp99} | {pcpu} | {to_ceiling} | {to_peer} |")
        lines.append("")
        for label, conns in CONNECTIONS.items():
            lines.append(f"- {label}: wrk -c{', '.join(map(str, conns))} (by round).")
        if "/acl/evaluate, 1,000 records per call" in results:
            evaluate = statistics.median(r[0] for r in results["/acl/evaluate, 1,000 records per call"][0])
            lines.append(f"- `/acl/evaluate`: {evaluate * 1000:,.0f} record decisions/s.")
        if limits:
            lines.append(f"- argon2id limit of this machine (`examples/argon2_rate`: the server's hasher, no HTTP; read right before and right "
                         f"after the password logins in each round, readings {min(readings):,.1f}–{max(readings):,.1f}): median {statistics.median(limits):,.1f} "
                         f"verifications/s; password logins reach **{statistics.median(login_ratios):.2f} ×** of it (median of the rounds' "
                         f"ratios: {', '.join(f'{r:.2f}' for r in login_ratios)}).")
        lines.append(f"- Memory (RSS) of auth-server: {rss_start:.1f} MiB right after start, {rss_idle:.1f} MiB idle after provisioning "
                     f"({anon_idle:.1f} MiB of it anonymous memory, the rest mostly the binary's code pages), "
                     f"{rss_after:.1f} MiB after the load, peak {rss_peak:.1f} MiB (VmHWM)"
                     + (f"; node-oidc-provider: {peer_idle:.1f} MiB idle, peak {peer_peak:.1f} MiB." if peer else "."))
        lines.append(f"- Start-up to ready (`/readyz` answers 200; SQLite): {first_ms:.0f} ms on an empty data dir (migrations, system keys), "
                     f"{restart_ms:.0f} ms on a restart with the bench's data.")
        lines.append(f"- Machine: {machine()}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        if srv:
            srv.stop()
    text = "\n".join(lines)
    print("\n" + text)
    if args.write:
        write_section("bench:http", text)


def quantile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


class AdminClient:
    """A keep-alive admin API caller (one per thread) that re-mints its token when it expires."""

    def __init__(self, srv):
        self.srv, self.conn = srv, None

    def post(self, path, body):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=600)
                self.conn.request("POST", f"/admin/v1{path}", json.dumps(body), {**self.srv.auth, "Content-Type": "application/json"})
                r = self.conn.getresponse()
                data = r.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn = None
                continue
            if r.status == 401 and attempt == 0:
                self.srv.mint_admin_token()
                continue
            if r.status >= 300:
                sys.exit(f"POST {path}: {r.status} {data[:300]!r}")
            return json.loads(data)
        sys.exit(f"POST {path}: no answer")


def tenant_client(admin, slug):
    return admin.post(f"/subscriptions/{slug}/clients", {"name": "m2m", "grant_types": ["client_credentials"], "scope": "read",
                      "token_endpoint_auth_method": "client_secret_basic", "access_token_format": "jwt", "access_token_signing_alg": "ES256",
                      "introspection": True})


def main_tenants(args):
    """--tenants N: creation time, RSS per idle tenant, throughput on tenant #N vs a single-tenant server."""
    ensure_tools(False)
    build([])
    n = args.tenants
    single, many = Server(), Server()
    servers = [single, many]
    lines = []
    try:
        AdminClient(single).post("/subscriptions", {"slug": "t00001", "name": "Only"})
        single_client = tenant_client(AdminClient(single), "t00001")
        slugs = [f"t{i:05d}" for i in range(1, n + 1)]
        sub_ms, client_ms, lock, todo = [], [], threading.Lock(), iter(slugs)
        done = [0]

        def worker():
            admin = AdminClient(many)
            while True:
                with lock:
                    slug = next(todo, None)
                if slug is None:
                    return
                t0 = time.perf_counter()
                admin.post("/subscriptions", {"slug": slug, "name": slug})
                t1 = time.perf_counter()
                client = tenant_client(admin, slug)
                t2 = time.perf_counter()
                with lock:
                    sub_ms.append((t1 - t0) * 1000)
                    client_ms.append((t2 - t1) * 1000)
                    done[0] += 1
                    if slug == slugs[-1]:
                        last_client.update(client)
                    if done[0] % 500 == 0:
                        print(f"{done[0]}/{n} tenants, {time.perf_counter() - start:.0f} s", file=sys.stderr)

        last_client = {}
        rss_before, cpu0, start = rss_mib(many.pid), cpu_seconds(many.pid), time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.admin_workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = time.perf_counter() - start
        cpu = cpu_seconds(many.pid) - cpu0
        rss_created = rss_mib(many.pid)
        # Where creation time goes: a key rotation generates one new key per algorithm in
        # use (ES256, EdDSA: a new tenant's RS256 keys wait for their first use); creating
        # a subscription generates two per such algorithm (active + next).
        rot_admin, rot_ms, rot_cpu0 = AdminClient(many), [], cpu_seconds(many.pid)
        for _ in range(10):
            t0 = time.perf_counter()
            rot_admin.post(f"/subscriptions/{slugs[0]}/keys/rotate", {})
            rot_ms.append((time.perf_counter() - t0) * 1000)
        rot_cpu = (cpu_seconds(many.pid) - rot_cpu0) / 10 * 1000
        # The RSA work moved to a tenant's first RS256 signature: time it (and the next
        # one) on a few tenants, with a client whose access tokens are RS256.
        lazy_first, lazy_then, lazy_cpu0 = [], [], cpu_seconds(many.pid)
        for slug in slugs[1:min(n, 6)]:
            c = rot_admin.post(f"/subscriptions/{slug}/clients", {"name": "rs", "grant_types": ["client_credentials"], "scope": "read",
                               "token_endpoint_auth_method": "client_secret_basic", "access_token_signing_alg": "RS256"})
            for into in (lazy_first, lazy_then):
                t0 = time.perf_counter()
                call("POST", f"{many.base}/t/{slug}/token", form={"grant_type": "client_credentials", "scope": "read"},
                     headers={"Authorization": basic(c["client_id"], c["client_secret"])})
                into.append((time.perf_counter() - t0) * 1000)
        lazy_cpu = (cpu_seconds(many.pid) - lazy_cpu0) / max(1, len(lazy_first)) * 1000

        # Idle tenants: restart both servers, so nothing is loaded before it is used.
        for i, srv in enumerate(servers):
            srv.stop()
            servers[i] = Server(srv.data)
        single, many = servers
        time.sleep(1)
        rss_single, rss_many = rss_mib(single.pid), rss_mib(many.pid)
        t0 = time.perf_counter()
        first = call("POST", f"{many.base}/t/{slugs[-1]}/token", form={"grant_type": "client_credentials", "scope": "read"},
                     headers={"Authorization": basic(last_client["client_id"], last_client["client_secret"])})["access_token"]
        first_ms = (time.perf_counter() - t0) * 1000

        runs = {}
        for label, srv, slug, c in [("single-tenant server", single, "t00001", single_client), (f"tenant #{n:,} of {n:,}", many, slugs[-1], last_client)]:
            auth = basic(c["client_id"], c["client_secret"])
            token = call("POST", f"{srv.base}/t/{slug}/token", form={"grant_type": "client_credentials", "scope": "read"},
                         headers={"Authorization": auth})["access_token"]
            runs[label] = [Run(srv.pid, f"{srv.base}/t/{slug}/token", lua_post("grant_type=client_credentials&scope=read", auth)),
                           Run(srv.pid, f"{srv.base}/t/{slug}/introspect", lua_post("token=" + token, auth))]
        results = {(label, i): [] for label in runs for i in range(2)}
        for rnd in range(args.rounds):
            for i in range(2):
                for label in runs:
                    print(f"round {rnd + 1}/{args.rounds}: {label} {i}", file=sys.stderr)
                    results[(label, i)].append(runs[label][i].measure(args.seconds, args.connections))

        lines.append(f"{n:,} subscriptions created through the admin API by {args.admin_workers} concurrent callers "
                     f"(each: the subscription with its ES256 and EdDSA keys and minted MCP client, then one client-credentials "
                     f"client; RS256 keys are made on first use).\n")
        lines.append("| measure | value |")
        lines.append("|---|---|")
        lines.append(f"| total creation time | {total:,.1f} s ({n / total:,.1f} subscriptions/s) |")
        lines.append(f"| `POST /subscriptions` latency p50 / p99 | {quantile(sub_ms, .5):,.0f} / {quantile(sub_ms, .99):,.0f} ms |")
        lines.append(f"| `POST …/clients` latency p50 / p99 | {quantile(client_ms, .5):,.1f} / {quantile(client_ms, .99):,.1f} ms |")
        lines.append(f"| server CPU per tenant (subscription + client) | {cpu / n * 1000:,.1f} ms |")
        lines.append(f"| key rotation (one new key per algorithm in use: ES256, EdDSA) | {quantile(rot_ms, .5):,.0f} ms p50, "
                     f"{rot_cpu:,.0f} ms server CPU (a subscription generates two keys per algorithm) |")
        if lazy_first:
            lines.append(f"| first RS256 token of a tenant (generates its RS256 active + next key, once) / the next one | "
                         f"{quantile(lazy_first, .5):,.0f} / {quantile(lazy_then, .5):,.1f} ms p50 over {len(lazy_first)} tenants, "
                         f"{lazy_cpu:,.0f} ms server CPU per tenant (client creation included) |")
        lines.append(f"| RSS before / after creation | {rss_before:,.1f} / {rss_created:,.1f} MiB ({(rss_created - rss_before) * 1024 / n:,.1f} KiB per tenant) |")
        lines.append(f"| RSS idle after restart: single-tenant / {n:,} tenants | {rss_single:,.1f} / {rss_many:,.1f} MiB "
                     f"({(rss_many - rss_single) * 1024 / max(1, n - 1):,.2f} KiB per idle tenant) |")
        lines.append(f"| start-up to ready with {n:,} tenants | {many.ready_ms:,.0f} ms (single-tenant: {single.ready_ms:,.0f} ms) |")
        lines.append(f"| first token on tenant #{n:,} after restart (cold keys) | {first_ms:,.1f} ms |")
        lines.append("")
        lines.append(f"{args.rounds} rounds × {args.seconds} s, wrk -t{THREADS} -c{args.connections}, interleaved.\n")
        lines.append(f"| scenario | single-tenant server: req/s median (min–max) | p99 | tenant #{n:,}: req/s median (min–max) | p99 | ratio |")
        lines.append("|---|---|---|---|---|---|")
        labels = list(runs)
        for i, name in enumerate(["client credentials token (ES256)", "introspection (JWT ES256)"]):
            a, b = fmt_side(results[(labels[0], i)]), fmt_side(results[(labels[1], i)])
            lines.append(f"| {name} | {a[1]} | {a[3]} | {b[1]} | {b[3]} | {b[0] / a[0]:.2f} |")
        lines.append(f"\n- Machine: {machine()}")
    finally:
        for srv in servers:
            if srv.proc.poll() is None:
                srv.stop()
    text = "\n".join(lines)
    print("\n" + text)
    if args.write:
        write_section("bench:tenants", text)


def postgres_database():
    """A fresh database on the local PostgreSQL (AUTH_BENCH_POSTGRES, default postgres@127.0.0.1:5432)."""
    admin = os.environ.get("AUTH_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"auth_bench_{int(time.time())}_{os.getpid()}"
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    return admin.rsplit("/", 1)[0] + "/" + name


def wrk_together(runs, seconds, conns):
    """Run one wrk per (url, script) at once, each with conns/len(runs) connections, as a
    load balancer would spread the load; returns summed req/s and the worst p50/p99."""
    results, threads = [None] * len(runs), []
    for i, (url, script) in enumerate(runs):
        def one(i=i, url=url, script=script):
            results[i] = wrk(url, seconds, max(1, conns // len(runs)), script)
        threads.append(threading.Thread(target=one))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ms = lambda v: float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000
    return sum(r[0] for r in results), max((r[1] for r in results), key=ms), max((r[2] for r in results), key=ms)


def main_scale_out(args):
    """--scale-out: one instance on SQLite against one and two instances sharing PostgreSQL + Redis."""
    ensure_tools(False)
    build([])
    redis = os.environ.get("AUTH_BENCH_REDIS", "redis://127.0.0.1:6379/9")
    shared = {"AUTH_DATABASE_URL": postgres_database(), "AUTH_REDIS_URL": redis,
              "AUTH_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
              "AUTH_ADMIN_CLIENT_SECRET": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),
              "AUTH_INSTANCES": "2"}
    servers = []
    lines = []
    try:
        sqlite = Server()
        servers.append(sqlite)
        pg_a = Server(extra_env=shared)
        servers.append(pg_a)
        # Replicas behind one load balancer announce one public URL (the issuer).
        pg_b = Server(extra_env={**shared, "AUTH_PUBLIC_URL": pg_a.base})
        servers.append(pg_b)
        setups = {}
        for label, srv in [("sqlite", sqlite), ("pg", pg_a)]:
            admin = AdminClient(srv)
            admin.post("/subscriptions", {"slug": "acme", "name": "Acme"})
            c = tenant_client(admin, "acme")
            auth = basic(c["client_id"], c["client_secret"])
            token = call("POST", f"{srv.base}/t/acme/token", form={"grant_type": "client_credentials", "scope": "read"},
                         headers={"Authorization": auth})["access_token"]
            setups[label] = (auth, token)
        # The second PostgreSQL instance serves the tenant created through the first.
        auth, token = setups["pg"]
        assert call("POST", f"{pg_b.base}/t/acme/introspect", form={"token": token}, headers={"Authorization": auth})["active"]

        def scenario(kind, targets, label):
            auth, token = setups[label]
            out = []
            for srv in targets:
                if kind == "token":
                    out.append((f"{srv.base}/t/acme/token", lua_post("grant_type=client_credentials&scope=read", auth)))
                else:
                    out.append((f"{srv.base}/t/acme/introspect", lua_post("token=" + token, auth)))
            return out

        sides = [("1 instance, SQLite + in-process store", [sqlite], "sqlite"),
                 ("1 instance, PostgreSQL + Redis", [pg_a], "pg"),
                 ("2 instances, PostgreSQL + Redis", [pg_a, pg_b], "pg")]
        kinds = [("client credentials token (ES256)", "token"), ("introspection (JWT ES256)", "introspect")]
        results = {(k, s): [] for k, _ in kinds for s, _, _ in sides}
        for rnd in range(args.rounds):
            for kname, kind in kinds:
                for sname, targets, label in sides:
                    print(f"round {rnd + 1}/{args.rounds}: {kname}, {sname}", file=sys.stderr)
                    results[(kname, sname)].append(wrk_together(scenario(kind, targets, label), args.seconds, args.connections))
        lines.append(f"{args.rounds} rounds × {args.seconds} s, {args.connections} connections in total "
                     f"(split evenly over the instances, one wrk per instance, as a load balancer would), interleaved; "
                     f"all instances, PostgreSQL, Redis and wrk share this machine's cores.\n")
        lines.append("| scenario | setup | req/s median (min–max) | p50 | p99 | vs SQLite |")
        lines.append("|---|---|---|---|---|---|")
        for kname, _ in kinds:
            base = statistics.median(r[0] for r in results[(kname, sides[0][0])])
            for sname, _, _ in sides:
                rows = results[(kname, sname)]
                rps = [r[0] for r in rows]
                med = statistics.median(rps)
                mid = sorted(rows, key=lambda r: r[0])[len(rows) // 2]
                lines.append(f"| {kname} | {sname} | {med:,.0f} ({min(rps):,.0f}–{max(rps):,.0f}) | {mid[1]} | {mid[2]} | {med / base:.2f} |")
        lines.append(f"\n- Machine: {machine()}")
    finally:
        for srv in servers:
            if srv.proc.poll() is None:
                srv.stop()
    text = "\n".join(lines)
    print("\n" + text)
    if args.write:
        write_section("bench:scale", text)


def timed_posts(srv, path, cases, samples):
    """`samples` sequential POSTs per case over one keep-alive connection, the cases
    interleaved so that drift of the machine hits them alike; returns, per case, the
    latencies in microseconds and the set of (status, body) answers seen."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    lat = {name: [] for name in cases}
    answers = {name: set() for name in cases}
    for _ in range(samples):
        for name, (body, headers) in cases.items():
            t0 = time.perf_counter()
            conn.request("POST", path, body, headers)
            r = conn.getresponse()
            data = r.read()
            lat[name].append((time.perf_counter() - t0) * 1e6)
            answers[name].add((r.status, data))
    conn.close()
    return lat, answers


def enumeration_sample(srv, samples):
    """SECURITY.md A2: unknown client, wrong secret, disabled client and another tenant's
    client at one tenant's token endpoint; the answers must be byte-identical, and the
    latency medians are reported with a split-half estimate of the noise."""
    admin = AdminClient(srv)
    for slug in ("a2", "a2other"):
        admin.post("/subscriptions", {"slug": slug, "name": slug})
    good = tenant_client(admin, "a2")
    disabled = tenant_client(admin, "a2")
    srv.admin("PATCH", f"/subscriptions/a2/clients/{disabled['client_id']}", {"enabled": False})
    foreign = tenant_client(admin, "a2other")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = "grant_type=client_credentials&scope=read"
    cases = {
        "unknown client_id": basic("c" + os.urandom(12).hex(), good["client_secret"]),
        "wrong secret": basic(good["client_id"], base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()),
        "disabled client": basic(disabled["client_id"], disabled["client_secret"]),
        "other tenant's client": basic(foreign["client_id"], foreign["client_secret"]),
    }
    cases = {k: (body, {**form, "Authorization": v}) for k, v in cases.items()}
    timed_posts(srv, "/t/a2/token", cases, 50)  # warm-up
    lat, answers = timed_posts(srv, "/t/a2/token", cases, samples)
    distinct = set().union(*answers.values())
    if len(distinct) != 1:
        sys.exit(f"A2: the four cases answered differently: {distinct}")
    status, data = distinct.pop()
    rows = []
    for name, xs in lat.items():
        halves = statistics.median(xs[0::2]), statistics.median(xs[1::2])
        rows.append((name, statistics.median(xs), quantile(xs, 0.25), quantile(xs, 0.75), abs(halves[0] - halves[1])))
    spread = max(r[1] for r in rows) - min(r[1] for r in rows)
    noise = max(r[4] for r in rows)
    return rows, spread, noise, status, data.decode(errors="replace")


def main_security(args):
    """--security: the per-address limiter's cost (off against on, on SQLite and on
    PostgreSQL + Redis) and the A2 client-enumeration latency sample."""
    ensure_tools(False)
    build([])
    pg = {"AUTH_DATABASE_URL": postgres_database(), "AUTH_REDIS_URL": os.environ.get("AUTH_BENCH_REDIS", "redis://127.0.0.1:6379/9"),
          "AUTH_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
          "AUTH_ADMIN_CLIENT_SECRET": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()}
    # "on" counts every request but never refuses (the configuration's maximum): the cost
    # of the counter, not of refusals.
    on = {"AUTH_IP_RATE_LIMIT": "10000000"}
    servers, lines = [], []
    try:
        sides = {}
        for backend, env in (("SQLite + in-process store", {}), ("PostgreSQL + Redis", pg)):
            off_srv = Server(extra_env=env)
            servers.append(off_srv)
            on_srv = Server(extra_env={**env, **on})
            servers.append(on_srv)
            # The PostgreSQL pair shares one database: create the tenant once.
            admin = AdminClient(off_srv)
            slug = "lim"
            admin.post("/subscriptions", {"slug": slug, "name": "Limiter"})
            c = tenant_client(admin, slug)
            auth = basic(c["client_id"], c["client_secret"])
            if not env:
                AdminClient(on_srv).post("/subscriptions", {"slug": slug, "name": "Limiter"})
                c_on = tenant_client(AdminClient(on_srv), slug)
                auth_on = basic(c_on["client_id"], c_on["client_secret"])
            else:
                auth_on = auth
            for label, srv, a in (("off", off_srv, auth), ("on", on_srv, auth_on)):
                token = call("POST", f"{srv.base}/t/{slug}/token", form={"grant_type": "client_credentials", "scope": "read"},
                             headers={"Authorization": a})["access_token"]
                sides[(backend, label)] = (srv, a, token)
        kinds = [("client credentials token (ES256)", "token"), ("introspection (JWT ES256)", "introspect")]
        results = {}
        for srv_key, (srv, a, token) in sides.items():  # warm-up
            wrk(f"{srv.base}/t/lim/introspect", 1, args.connections, lua_post("token=" + token, a))
        for rnd in range(args.rounds):
            for kname, kind in kinds:
                for (backend, label), (srv, a, token) in sides.items():
                    print(f"round {rnd + 1}/{args.rounds}: {kname}, {backend}, limiter {label}", file=sys.stderr)
                    if kind == "token":
                        run = wrk(f"{srv.base}/t/lim/token", args.seconds, args.connections,
                                  lua_post("grant_type=client_credentials&scope=read", a))
                    else:
                        run = wrk(f"{srv.base}/t/lim/introspect", args.seconds, args.connections, lua_post("token=" + token, a))
                    results.setdefault((kname, backend, label), []).append(run)
        lines.append("### The per-address limiter's cost\n")
        lines.append(f"{args.rounds} rounds × {args.seconds} s, wrk -t{THREADS} -c{args.connections}, interleaved; \"on\" is "
                     f"`AUTH_IP_RATE_LIMIT={on['AUTH_IP_RATE_LIMIT']}` (every request counted, none refused), \"off\" is `0`. "
                     f"The two PostgreSQL instances share one database and Redis.\n")
        lines.append("| scenario | setup | limiter off: req/s median (min–max) | p99 | limiter on: req/s median (min–max) | p99 | on / off |")
        lines.append("|---|---|---|---|---|---|---|")
        for kname, _ in kinds:
            for backend in ("SQLite + in-process store", "PostgreSQL + Redis"):
                cells = []
                meds = []
                for label in ("off", "on"):
                    rows = results[(kname, backend, label)]
                    rps = [r[0] for r in rows]
                    meds.append(statistics.median(rps))
                    mid = sorted(rows, key=lambda r: r[0])[len(rows) // 2]
                    cells += [f"{meds[-1]:,.0f} ({min(rps):,.0f}–{max(rps):,.0f})", mid[2]]
                lines.append(f"| {kname} | {backend} | {' | '.join(cells)} | {meds[1] / meds[0]:.2f} |")
        lines.append("\n### A2: client enumeration by timing\n")
        lines.append(f"{args.samples} sequential `POST /t/a2/token` per case on one keep-alive connection, the four cases "
                     "interleaved, after 50 unmeasured rounds; latency in µs as the client sees it. \"noise\" is the largest "
                     "difference, within one case, between the medians of its even and odd samples.\n")
        lines.append("| setup | case | median µs | p25–p75 µs | split-half noise µs |")
        lines.append("|---|---|---|---|---|")
        answers = set()
        for backend in ("SQLite + in-process store", "PostgreSQL + Redis"):
            rows, spread, noise, status, body = enumeration_sample(sides[(backend, "off")][0], args.samples)
            for name, med, p25, p75, half in rows:
                lines.append(f"| {backend} | {name} | {med:.0f} | {p25:.0f}–{p75:.0f} | {half:.1f} |")
            lines.append(f"| {backend} | **spread of the medians** | **{spread:.1f}** | | largest noise {noise:.1f} |")
            answers.add(f"HTTP {status} `{body}`")
        lines.append(f"\nWithin each setup every case answered byte for byte the same: {' / '.join(sorted(answers))}.")
        lines.append(f"\n- Machine: {machine()}")
    finally:
        for srv in servers:
            if srv.proc.poll() is None:
                srv.stop()
    text = "\n".join(lines)
    print("\n" + text)
    if args.write:
        write_section("bench:security", text)


# Read before anything starts; the machine line is written at the end, once the peer is
# installed, so that it can name the peer's version.
LOAD_AT_START = os.getloadavg()[0]


def main():
    global BIN
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--only", help="regular expression: run only the scenarios whose label matches (the ceiling always runs)")
    ap.add_argument("--no-peer", action="store_true", help="do not start node-oidc-provider")
    ap.add_argument("--login-workers", type=int, default=8, help="concurrent browsers of the login / code-flow driver")
    ap.add_argument("--tenants", type=int, help="many-tenants mode: create this many subscriptions (documented run: 10000)")
    ap.add_argument("--scale-out", action="store_true", help="scale-out mode: one instance on SQLite against one and two "
                    "instances sharing PostgreSQL (a fresh database) and Redis (db 9)")
    ap.add_argument("--security", action="store_true", help="security mode: the per-address limiter off against on "
                    "(SQLite; PostgreSQL + Redis) and the A2 client-enumeration latency sample")
    ap.add_argument("--samples", type=int, default=1000, help="--security: requests per A2 case")
    ap.add_argument("--admin-workers", type=int, default=4, help="concurrent admin API callers creating tenants")
    ap.add_argument("--write", action="store_true", help="write the result into docs/performance.md")
    ap.add_argument("--bin-dir", help="use the binaries in this directory (auth-server, examples/hello, examples/argon2_rate) "
                    "instead of building the release ones; for checking the script with a debug build")
    args = ap.parse_args()
    if args.bin_dir:
        BIN = os.path.abspath(args.bin_dir)
    if args.scale_out:
        main_scale_out(args)
    elif args.security:
        main_security(args)
    elif args.tenants:
        main_tenants(args)
    else:
        main_scenarios(args)


if __name__ == "__main__":
    main()

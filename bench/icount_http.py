#!/usr/bin/env python3
"""Instructions per request of auth-server's hot endpoints, counted by callgrind.

Wall-clock A/B runs on a shared 2-core VM move by ±25 % between rounds; instruction counts
do not. This starts the release build under `valgrind --tool=callgrind` (instrumentation
off), provisions a tenant and two client-credentials clients (ES256 JWT and opaque), and
for each scenario sends 200 warm-up requests, switches instrumentation on, sends 20 more,
dumps (discarding them), sends N requests on one keep-alive connection and dumps again:
the second dump's total over N is the user-space instructions (the server's code, its
libraries and libc; not the kernel) per request. It prints one line per scenario and, with
--keep DIR, leaves the callgrind files there for `callgrind_annotate`.

Usage: bench/icount_http.py [--bin-dir DIR] [--requests N] [--keep DIR] SCENARIO...
       SCENARIO: discovery, jwks, token (client credentials, ES256), introspect-jwt,
       introspect-opaque, introspect-user (a user's JWT), introspect-acl (the same token
       with acl_workspace + acl_app + acl_record, as in bench/run.py), acl-evaluate (1,000
       records)
Needs valgrind (Debian package) and a release build (`cargo build --release -p auth-server`).
"""
import argparse, glob, http.client, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default=run.BIN)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--keep")
    ap.add_argument("scenarios", nargs="+")
    args = ap.parse_args()
    port = run.free_port()
    base = f"http://127.0.0.1:{port}"
    data = tempfile.mkdtemp(prefix="auth-icount-")
    out = os.path.join(data, "callgrind.out")
    env = dict(os.environ, AUTH_DATA_DIR=data, AUTH_LISTEN=f"127.0.0.1:{port}", AUTH_PUBLIC_URL=base,
               AUTH_LOG="warn", AUTH_ACCESS_TOKEN_TTL="3600", AUTH_IP_RATE_LIMIT="0")
    server = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                               os.path.join(args.bin_dir, "auth-server")], env=env, stderr=subprocess.DEVNULL)
    try:
        run.wait_http(f"{base}/readyz", timeout=600, step=0.5)
        secret = open(os.path.join(data, "admin-client-secret")).read().strip()
        admin = run.call("POST", f"{base}/t/system/token", form={"grant_type": "client_credentials", "scope": "admin"},
                         headers={"Authorization": run.basic("admin", secret)})["access_token"]
        auth = {"Authorization": f"Bearer {admin}"}
        scenarios = provision(base, port, auth)
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def send(name, n):
            method, path, body, headers = scenarios[name]
            for _ in range(n):
                conn.request(method, path, body=body, headers=headers)
                res = conn.getresponse()
                res.read()
                if res.status != 200:
                    sys.exit(f"{name}: HTTP {res.status}")

        def control(*a):
            subprocess.run(["callgrind_control", *a, str(server.pid)], capture_output=True, check=True)

        for name in args.scenarios:
            send(name, 200)
            control("-i", "on")
            send(name, 20)
            control("-d")
            before = set(glob.glob(out + "*"))
            send(name, args.requests)
            control("-d")
            control("-i", "off")
            for _ in range(100):
                files = sorted(set(glob.glob(out + "*")) - before)
                if files:
                    break
                time.sleep(0.1)
            total = 0
            for f in files:
                total += next(int(l.split()[1]) for l in open(f) if l.startswith(("summary:", "totals:")))
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    shutil.move(f, os.path.join(args.keep, f"callgrind.{name}.out"))
            print(f"| {name} | {total / args.requests:,.0f} |", flush=True)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)


def provision(base, port, auth):
    """Tenant `bench` with what each scenario needs; returns {name: (method, path, body,
    headers)}. Also used by bench/ab.py."""
    run.call("POST", f"{base}/admin/v1/subscriptions", {"slug": "bench", "name": "Bench"}, auth)
    clients = {fmt: run.call("POST", f"{base}/admin/v1/subscriptions/bench/clients", {
        "name": fmt, "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic",
        "access_token_format": fmt, "access_token_signing_alg": "ES256", "introspection": True}, auth) for fmt in ("jwt", "opaque")}
    basic = {fmt: run.basic(c["client_id"], c["client_secret"]) for fmt, c in clients.items()}
    token = lambda fmt: run.call("POST", f"{base}/t/bench/token", form={"grant_type": "client_credentials", "scope": "read"},
                                 headers={"Authorization": basic[fmt]})["access_token"]
    form = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic["jwt"]}
    user_token, acl_ask, uid = user_and_ask(base, port, auth)
    evaluate = run.acl_evaluation(user_token, uid)
    return {
        "discovery": ("GET", "/t/bench/.well-known/openid-configuration", None, {}),
        "jwks": ("GET", "/t/bench/jwks", None, {}),
        "token": ("POST", "/t/bench/token", "grant_type=client_credentials&scope=read", form),
        "introspect-jwt": ("POST", "/t/bench/introspect", "token=" + token("jwt"), form),
        "introspect-opaque": ("POST", "/t/bench/introspect", "token=" + token("opaque"), form),
        "introspect-user": ("POST", "/t/bench/introspect", "token=" + user_token, form),
        "introspect-acl": ("POST", "/t/bench/introspect", acl_ask, form),
        "acl-evaluate": ("POST", "/t/bench/acl/evaluate", evaluate, dict(form, **{"Content-Type": "application/json"})),
    }


def user_and_ask(base, port, auth):
    """A user's access token and an introspection body asking about it, in the ACL world
    of bench/run.py's ACL scenarios (`run.acl_world`)."""
    admin = lambda method, path, body: run.call(method, f"{base}/admin/v1/subscriptions/bench{path}", body, auth)
    web = admin("POST", "/clients", {"name": "web", "redirect_uris": [run.REDIRECT], "grant_types": ["authorization_code"],
                "scope": "openid", "token_endpoint_auth_method": "client_secret_basic", "skip_consent": True,
                "access_token_format": "jwt", "access_token_signing_alg": "ES256"})
    password = "icount password 1"
    uid = admin("POST", "/users", {"username": "alice", "password": password})["id"]
    run.acl_world(admin, uid)
    browser = run.Browser(port)
    v = run.pkce()
    token = browser.exchange(web, browser.login(browser.authorize(web, v), "alice", password), v[0])["access_token"]
    return token, run.acl_ask(token, uid), uid


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Interleaved A/B of two or more release builds on password logins.

Each build runs as its own server with a web client and one user per browser of the login
driver (`examples/login_load`, as in bench/run.py). Every round measures each build in
turn, the order reversed each round: its own `examples/argon2_rate` (the hashing limit),
then the driver's logins. Prints per build the median logins/s, the limit, their ratio,
the server's CPU per login (user + system, from /proc), which moves less than the rates on
a shared host, and the median time of one login flow.

`--postgres`: each build's server runs on its own fresh PostgreSQL database and Redis
database (as bench/run.py --scale-out), where every statement is network round trips;
with `--browsers 1` the flow time is one login's latency.

Usage: bench/login_ab.py [--seconds S] [--rounds N] [--browsers B] [--postgres] DIR...
       DIR: a directory holding `auth-server` and `examples/{argon2_rate,login_load}`.
"""
import argparse, base64, json, os, statistics, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

PASSWORD = "bench password 1"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--browsers", type=int, default=8)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    servers = []
    try:
        for i, d in enumerate(args.dirs):
            run.BIN = d
            env = None
            if args.postgres:
                env = {"AUTH_DATABASE_URL": run.postgres_database(), "AUTH_REDIS_URL": f"redis://127.0.0.1:6379/{10 + i}",
                       "AUTH_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                       "AUTH_ADMIN_CLIENT_SECRET": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()}
            srv = run.Server(extra_env=env)
            servers.append(srv)
            srv.admin("POST", "/subscriptions", {"slug": "bench", "name": "Bench"})
            web = srv.admin("POST", "/subscriptions/bench/clients", {
                "name": "web", "redirect_uris": [run.REDIRECT], "grant_types": ["authorization_code"], "scope": "openid",
                "token_endpoint_auth_method": "client_secret_basic", "skip_consent": True})
            for i in range(args.browsers):
                srv.admin("POST", "/subscriptions/bench/users", {"username": f"login{i}", "password": PASSWORD})
            srv.web = web
        rows = {d: [] for d in args.dirs}
        for r in range(args.rounds):
            order = list(zip(args.dirs, servers))
            for d, srv in (order if r % 2 == 0 else order[::-1]):
                run.BIN = d
                limit = run.argon2_rate(args.seconds)
                cpu = run.cpu_seconds(srv.pid)
                out = subprocess.run([os.path.join(d, "examples/login_load"), "login", srv.base, "bench", srv.web["client_id"],
                                      srv.web["client_secret"], run.REDIRECT, "login", PASSWORD, str(args.browsers), str(args.seconds)],
                                     capture_output=True, text=True, check=True).stdout
                result = json.loads(out)
                rows[d].append((result["count"] / result["seconds"], limit, (run.cpu_seconds(srv.pid) - cpu) / result["count"] * 1e3,
                                result["p50_ms"]))
        print("| build | logins/s | argon2id limit/s | ratio | server CPU per login | flow p50 |")
        print("|---|---|---|---|---|---|")
        for d in args.dirs:
            logins, limits, cpu, p50 = ([x[i] for x in rows[d]] for i in range(4))
            ratios = [l / a for l, a in zip(logins, limits)]
            print(f"| {os.path.basename(d.rstrip('/'))} | {statistics.median(logins):.1f} ({min(logins):.1f}–{max(logins):.1f}) "
                  f"| {statistics.median(limits):.1f} ({min(limits):.1f}–{max(limits):.1f}) | {statistics.median(ratios):.3f} "
                  f"| {statistics.median(cpu):.2f} ms | {statistics.median(p50):.2f} ms |", flush=True)
    finally:
        for srv in servers:
            srv.stop()


if __name__ == "__main__":
    main()

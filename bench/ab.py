#!/usr/bin/env python3
"""Interleaved wall-clock A/B of two or more release builds on the hot endpoints.

A shared 2-core VM moves a single reading by ±25 %, so one build against another is
only told apart by alternating them many times: every build runs as its own server
(provisioned alike, see bench/icount_http.py's `provision`), and each round measures
every scenario on every build in turn, the order reversed each round. Prints, per
scenario and build, the median requests/s with min–max and the server's CPU per request.

Usage: bench/ab.py [--seconds S] [--rounds N] [--only REGEX] DIR...
       DIR: a directory holding an `auth-server` release build.
"""
import argparse, json, os, re, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import icount_http, run  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--only", default=".")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    servers, scripts = [], []
    try:
        for d in args.dirs:
            run.BIN = d
            srv = run.Server()
            servers.append(srv)
            scen = icount_http.provision(srv.base, srv.port, srv.auth)
            scripts.append({name: (path, wrk_script(method, body, headers)) for name, (method, path, body, headers) in scen.items()
                            if re.search(args.only, name)})
        names = list(scripts[0])
        results = {(n, i): [] for n in names for i in range(len(servers))}
        for r in range(args.rounds):
            order = list(range(len(servers)))
            if r % 2:
                order.reverse()
            for n in names:
                for i in order:
                    srv = servers[i]
                    path, script = scripts[i][n]
                    cpu = run.cpu_seconds(srv.pid)
                    rps, _, p99 = run.wrk(srv.base + path, args.seconds, args.connections, script)
                    used = run.cpu_seconds(srv.pid) - cpu
                    results[(n, i)].append((rps, used / (rps * args.seconds) * 1e6, p99))
        print("| scenario | " + " | ".join(os.path.basename(d.rstrip("/")) for d in args.dirs) + " |")
        print("|---" * (len(servers) + 1) + "|")
        for n in names:
            cells = []
            for i in range(len(servers)):
                rows = results[(n, i)]
                rps = [x[0] for x in rows]
                cpu = statistics.median(x[1] for x in rows)
                cells.append(f"{statistics.median(rps):,.0f}/s ({min(rps):,.0f}–{max(rps):,.0f}), {cpu:.1f} µs CPU")
            print(f"| {n} | " + " | ".join(cells) + " |", flush=True)
    finally:
        for srv in servers:
            srv.stop()


def wrk_script(method, body, headers):
    if method == "GET":
        return None
    lines = [f'wrk.method = "{method}"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    return run.lua_file("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""scripts/bench: mkpd's speed against the ceiling of this machine, in one run.

Behind the same nginx, with the same number of workers, it measures:

  ceiling        bench/hello-fcgi, a plain libfcgi pool answering a fixed body
  queryInstance  signed, every request with a fresh nonce (replay check on)
  newInstance    signed, every request a new order (insert, event, audit)
  authSync       a V2 Kit call with 500 users, every request a new tenant
                 (500 users inserted in one transaction, x-sign headers)

and prints requests/s, p50/p99 latency, worker RSS and the ratio of each to
the ceiling, as a Markdown table (doc/performance.md keeps one). The load
generator is wrk; requests are signed beforehand, so the generator costs
the same in every phase. Targets (issue 2): queryInstance >= 0.8 of the
ceiling, newInstance >= 0.5, p99 <= 10 ms at 32 connections, worker RSS
<= 10 MB and flat.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "test" / "integration"))
import harness  # noqa: E402


def sign(key, body, ts, nonce):
    digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    return hmac.new(key, key + nonce.encode() + ts.encode() + digest.encode(),
                    hashlib.sha256).hexdigest().upper()


def canonical(obj):
    return json.dumps(dict(sorted(obj.items())), separators=(",", ":"),
                      ensure_ascii=False).encode()


def write_kit_requests(path, key, bodies, name):
    """One V2 Kit call per body to /produceAPI/v2/NAME, x-sign headers."""
    ts = str(int(time.time() * 1000))
    with open(path, "wb") as f:
        for obj in bodies:
            body = canonical(obj)
            nonce = secrets.token_hex(32).upper()
            sig = hmac.new(key.encode(), key.encode() + nonce.encode() + ts.encode() + body,
                           hashlib.sha256).hexdigest().upper()
            f.write(b"/produceAPI/v2/%s\t%s\tx-sign: %s\tx-timestamp: %s\tx-nonce: %s\n" % (
                name.encode(), body, sig.encode(), ts.encode(), nonce.encode()))


def users_body(n):
    """An authSync body for a new tenant with n users in a small tree."""
    tenant = "BENCH" + uuid.uuid4().hex
    return {"instanceId": "", "tenantId": tenant, "appId": "BENCHAPP", "flag": 1,
            "testFlag": 0, "timeStamp": "20240101000000000",
            "currentSyncTime": "20240101000000000",
            "userList": [{"userName": "user%04d" % i, "name": "User %d" % i,
                          "orgCode": "D%d" % (i % 20), "role": "user" if i else "admin",
                          "enable": "true", "email": "user%d@example.com" % i,
                          "extension": {"employeeType": "1"}} for i in range(n)]}


def write_requests(path, key, bodies):
    """One signed request per body, all stamped now (the window is 60 s)."""
    ts = str(int(time.time() * 1000))
    key = key.encode()
    with open(path, "wb") as f:
        for obj in bodies:
            body = canonical(obj)
            nonce = secrets.token_hex(32).upper()
            f.write(b"/?signature=%s&timestamp=%s&nonce=%s\t%s\n" % (
                sign(key, body, ts, nonce).encode(), ts.encode(), nonce.encode(), body))


UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url, reqfile, seconds, conns, threads=2):
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--latency",
            "-s", str(ROOT / "bench" / "requests.lua"), url, "--", str(reqfile),
            str(threads)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    text = out.stdout + out.stderr
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
        lat[pct] = float(m.group(1)) * UNIT[m.group(2)]
    m = re.search(r"answers: good=(\d+) unexpected=(\d+) wrapped=(\d+)", text)
    good, bad, wrapped = (int(x) for x in m.groups())
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"], "good": good,
            "bad": bad, "wrapped": wrapped, "raw": text}


def rss_kb(pids):
    out = []
    for pid in pids:
        try:
            for line in open("/proc/%d/status" % pid):
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]))
        except OSError:
            pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10, help="per phase (default 10)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=4, help="pool size of both pools")
    ap.add_argument("--rate-bound", type=int, default=16000,
                    help="requests signed per second of a phase (an upper bound on the rate)")
    ap.add_argument("--kit-rate-bound", type=int, default=100,
                    help="authSync calls (500 users each) signed per second of its phase")
    ap.add_argument("--soak", type=int, default=0, metavar="N",
                    help="then send N more signed queryInstance calls and report worker RSS "
                         "every tenth of them (e.g. 1000000)")
    args = ap.parse_args()

    build = Path(os.environ.get("MKPD_BUILD", ROOT / "build"))
    for prog in ("mkpd", "mkpctl", "bench/hello-fcgi"):
        if not (build / prog).exists():
            sys.exit("bench: %s/%s is missing: build first (scripts/quickstart builds)" %
                     (build, prog))
    work = ROOT / "var" / "bench"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    work.chmod(0o755)
    try:
        return run(args, build, work)
    finally:
        harness.kill_all()


def run(args, build, work):
    pg = harness.Postgres(work / "pg")
    pg.init()
    pg.start()
    keys = harness.new_keys()
    mkpd_port, hello_port = harness.free_port(), harness.free_port()
    mkpd = harness.Mkpd(build, work / "mkpd", pg.dsn, keys, {
        "mkpd": {"listen": "127.0.0.1:%d" % mkpd_port, "log_level": "notice",
                 "listen_owner": None, "listen_group": None},
        "pool": {"pm": "static", "max_children": args.workers,
                 "max_requests": 0},
    })
    mkpd.migrate()
    mkpd.start()
    front = harness.Nginx(work / "nginx-mkpd", "127.0.0.1:%d" % mkpd_port).start()
    harness.spawn([str(build / "bench" / "hello-fcgi"), "127.0.0.1:%d" % hello_port,
                           str(args.workers)], work / "hello.out")
    harness.wait_for(lambda: harness.listening("127.0.0.1:%d" % hello_port), 10)
    ceiling_front = harness.Nginx(work / "nginx-hello", "127.0.0.1:%d" % hello_port).start()

    n = args.seconds * args.rate_bound
    results = {}

    # newInstance first: it also makes the instances queryInstance reads.
    orders = ["BENCH%s" % uuid.uuid4().hex[:20].upper() for _ in range(n)]
    reqfile = work / "new.req"
    write_requests(reqfile, keys["basic"], ({
        "activity": "newInstance", "orderId": o, "orderLineId": o + "-1",
        "businessId": str(uuid.uuid4())} for o in orders))
    results["newInstance"] = run_wrk(front.url, reqfile, args.seconds, args.connections)
    results["newInstance"]["rss"] = rss_kb(mkpd.worker_pids())
    ids = pg.psql("SELECT instance_id FROM instance ORDER BY random() LIMIT 10000").split()

    reqfile = work / "query.req"
    write_requests(reqfile, keys["basic"], ({
        "activity": "queryInstance", "instanceId": ids[i % len(ids)]} for i in range(n)))
    results["ceiling"] = run_wrk(ceiling_front.url, reqfile, args.seconds, args.connections)
    write_requests(reqfile, keys["basic"], ({
        "activity": "queryInstance", "instanceId": ids[i % len(ids)]} for i in range(n)))
    results["queryInstance"] = run_wrk(front.url, reqfile, args.seconds, args.connections)
    results["queryInstance"]["rss"] = rss_kb(mkpd.worker_pids())

    reqfile = work / "auth.req"
    write_kit_requests(reqfile, keys["kit"], (users_body(500) for _ in range(
        args.seconds * args.kit_rate_bound)), "authSync")
    results["authSync 500 users"] = run_wrk(front.url, reqfile, args.seconds,
                                            args.connections)
    results["authSync 500 users"]["rss"] = rss_kb(mkpd.worker_pids())

    ceiling = results["ceiling"]["rps"]
    print("\n%d workers, %d connections, %d s per phase, %s, %d cores\n" % (
        args.workers, args.connections, args.seconds, time.strftime("%Y-%m-%d"),
        os.cpu_count()))
    print("| phase | requests/s | ratio to ceiling | p50 ms | p99 ms | worker RSS max MB | unexpected answers |")
    print("|---|---|---|---|---|---|---|")
    for name in ("ceiling", "queryInstance", "newInstance", "authSync 500 users"):
        r = results[name]
        rss = max(r.get("rss") or [0]) / 1024.0
        print("| %s | %.0f | %.2f | %.2f | %.2f | %s | %d%s |" % (
            name, r["rps"], r["rps"] / ceiling, r["p50"], r["p99"],
            "%.1f" % rss if r.get("rss") else "-", r["bad"],
            " (requests ran out: raise --rate-bound)" if r["wrapped"] else ""))

    if args.soak:
        print("\nsoak: worker RSS (KB) as signed queryInstance calls go on")
        done, phase_bad = 0, 0
        while done < args.soak:
            write_requests(reqfile, keys["basic"], ({
                "activity": "queryInstance", "instanceId": ids[i % len(ids)]}
                for i in range(n)))
            r = run_wrk(front.url, reqfile, args.seconds, args.connections)
            done += r["good"]
            phase_bad += r["bad"]
            print("  after %9d calls (%5.0f/s): %s" % (done, r["rps"],
                                                    rss_kb(mkpd.worker_pids())))
        results["soak"] = {"bad": phase_bad}
    bad = sum(results[k]["bad"] for k in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

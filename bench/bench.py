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

Then metered usage (issue 5):

  usage ingest   events/s through POST /-/usage (calls of 10 000 events,
                 --usage-clients at once), as a ratio to a raw COPY of the
                 same rows into the same table (target >= 0.5)
  usage push     records/s that `mkpctl usage push --now` delivers to
                 mkp-sim serve in batches of 1000 (both signatures, checked)

`--only usage` runs just those (no wrk needed).
"""

import argparse
import concurrent.futures
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
    ap.add_argument("--only", choices=("http", "usage"),
                    help="run only the HTTP phases or only the usage phases")
    ap.add_argument("--usage-events", type=int, default=200000,
                    help="events ingested (and copied) by the usage phase")
    ap.add_argument("--usage-clients", type=int, default=4,
                    help="POST /-/usage calls under way at once")
    ap.add_argument("--usage-records", type=int, default=10000,
                    help="records pushed by the usage phase")
    args = ap.parse_args()

    build = Path(os.environ.get("MKPD_BUILD", ROOT / "build"))
    for prog in ("mkpd", "mkpctl", "mkp-sim", "bench/hello-fcgi"):
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


USAGE_TOKEN = "bench-usage-token"
USAGE_KEY = "bench-usage-key"
USAGE_CALL = 10000      # events per POST /-/usage, its maximum


def usage_ingest(args, pg, front):
    """events/s through POST /-/usage, and through a raw COPY of the same
    rows into usage_event: {"ingest": eps, "copy": eps, "bad": n}."""
    n_inst = 100
    pg.psql("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
            " charging_mode, state) SELECT 'ub-' || i, 'uo-' || i, 'ul-' || i, 'ubz-' || i,"
            " 'ON_DEMAND', 'active' FROM generate_series(1, %d) i" % n_inst)
    # Events over the last 3 closed hours: the windows already exist after
    # the first calls, as in the steady state.
    now = int(time.time())
    top = now - now % 3600
    rows = []
    for i in range(args.usage_events):
        t = top - 3 * 3600 + (i * 7919) % (3 * 3600)
        rows.append(("e%d" % i, "ub-%d" % (1 + i % n_inst), "%d.%04d" % (i % 10, i % 10000),
                     time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                     time.strftime("%Y-%m-%d %H:00:00+00", time.gmtime(t - t % 3600))))
    bodies = [json.dumps({"events": [{"id": "in-" + r[0], "instanceId": r[1], "value": r[2],
                                      "time": r[3]} for r in rows[k:k + USAGE_CALL]]},
                         separators=(",", ":")).encode()
              for k in range(0, len(rows), USAGE_CALL)]
    csv = pg.base / "usage-copy.csv"
    with open(csv, "w") as f:
        for r in rows:
            f.write("cp-%s,%s,\"\",%s,%s,%s,f\n" % (r[0], r[1], r[2], r[3], r[4]))
    os.chmod(csv, 0o644)

    t0 = time.monotonic()
    pg.psql("\\copy usage_event (event_id, instance_id, pkg_instance_id, value, event_time,"
            " window_begin, shifted) FROM '%s' WITH (FORMAT csv)" % csv)
    copy_s = time.monotonic() - t0

    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + USAGE_TOKEN}
    bad = 0

    def post(body):
        status, _, out = harness.http_request(front.url, "POST", "/-/usage", body, headers,
                                              timeout=300)
        ans = json.loads(out) if status == 200 else {}
        return status == 200 and ans.get("accepted") == body.count(b'"id"')

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.usage_clients) as ex:
        for ok in ex.map(post, bodies):
            bad += 0 if ok else 1
    ingest_s = time.monotonic() - t0
    return {"ingest": len(rows) / ingest_s, "copy": len(rows) / copy_s, "bad": bad}


def usage_push(args, pg, mkpd):
    """records/s `mkpctl usage push --now` delivers in batches of 1000."""
    n = args.usage_records
    hours = 20
    per_hour = (n + hours - 1) // hours
    pg.psql("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
            " charging_mode, state) SELECT 'up-' || i, 'upo-' || i, 'upl-' || i, 'upb-' || i,"
            " 'ON_DEMAND', 'active' FROM generate_series(1, %d) i;"
            "INSERT INTO usage_record (instance_id, window_begin, window_end, value,"
            " metering_sn, state)"
            " SELECT 'up-' || i, date_trunc('hour', now()) - make_interval(hours => 4 + h),"
            " date_trunc('hour', now()) - make_interval(hours => 3 + h), 1.5 + i %% 7,"
            " mkp_usage_metering_sn('up-' || i, '', date_trunc('hour', now())"
            "   - make_interval(hours => 4 + h)), 'pending'"
            " FROM generate_series(1, %d) i, generate_series(0, %d) h"
            " LIMIT %d" % (per_hour, per_hour, hours - 1, n))
    t0 = time.monotonic()
    r = mkpd.mkpctl("usage", "push", "--now")
    push_s = time.monotonic() - t0
    delivered = pg.psql("SELECT count(*) FROM usage_record WHERE state = 'delivered'"
                        " AND instance_id LIKE 'up-%'")
    bad = 0 if r.returncode == 0 and delivered == str(n) else 1
    if bad:
        print("usage push: %s delivered of %d\n%s%s" % (delivered, n, r.stdout, r.stderr))
    return {"push": n / push_s, "bad": bad}


def run(args, build, work):
    pg = harness.Postgres(work / "pg")
    pg.init()
    pg.start()
    keys = harness.new_keys()
    mkpd_port, hello_port = harness.free_port(), harness.free_port()
    sim = harness.SimServer(build, work / "sim", args=["--usage-key", USAGE_KEY]).start()
    mkpd = harness.Mkpd(build, work / "mkpd", pg.dsn, keys, {
        "mkpd": {"listen": "127.0.0.1:%d" % mkpd_port, "log_level": "notice",
                 "listen_owner": None, "listen_group": None},
        "pool": {"pm": "static", "max_children": args.workers,
                 "max_requests": 0},
        "usage": {"token": USAGE_TOKEN, "usage_key": USAGE_KEY, "push_interval": 0,
                  "batch_size": 1000},
        "marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "", "ak": sim.ak,
                        "sk": sim.sk},
    })
    mkpd.migrate()
    mkpd.start()
    front = harness.Nginx(work / "nginx-mkpd", "127.0.0.1:%d" % mkpd_port).start()
    if args.only == "usage":
        return run_usage(args, pg, front, mkpd)
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
    if args.only != "http":
        bad += run_usage(args, pg, front, mkpd)
    return 1 if bad else 0


def run_usage(args, pg, front, mkpd):
    ing = usage_ingest(args, pg, front)
    push = usage_push(args, pg, mkpd)
    print("\nmetered usage, %d events in calls of %d (%d at once), %d records pushed\n" % (
        args.usage_events, USAGE_CALL, args.usage_clients, args.usage_records))
    print("| phase | per second | ratio | target |")
    print("|---|---|---|---|")
    print("| raw COPY into usage_event | %.0f events | 1.00 | |" % ing["copy"])
    print("| POST /-/usage | %.0f events | %.2f | >= 0.5 |" % (
        ing["ingest"], ing["ingest"] / ing["copy"]))
    print("| usage push, batches of 1000 | %.0f records | | |" % push["push"])
    return ing["bad"] + push["bad"]


if __name__ == "__main__":
    sys.exit(main())

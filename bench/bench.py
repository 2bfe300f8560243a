#!/usr/bin/python3
"""scripts/bench: mkpd's speed against the ceiling of this machine, in one run.

Behind the same nginx, with the same number of workers, it measures:

  ceiling        bench/hello-fcgi, a plain libfcgi pool answering a fixed body
  newInstance    signed, every request a new order (insert, event, job, audit);
                 the marketplace is configured, so each answers 000004
                 (000000 answers, repeats, are counted apart)
  provisioning   the jobs child, off until now, switched on: instances made
                 active per second (order query to mkp-sim), then off again
  queryInstance  signed, every request a fresh nonce, of active instances
                 only: good is 000000 with appInfo, the access data
  authSync       a V2 Kit call with 500 users, every request a new tenant
                 (500 users inserted in one transaction, x-sign headers)

Each phase counts as good only the answer it expects (bench/requests.lua);
anything else is "unexpected" in the table. The jobs child is off during
every measured call phase, so no provisioning work falls into one.

As ceilings of the store, pgbench with as many connections as workers
(mkpd idle, its jobs child off): its select-only script (-S) and scripts of
the very statements one queryInstance and one newInstance send, read from
`mkpctl statements` and bound as mkpd binds them, in one pipelined round
trip each. Then metered usage:

  usage ingest   events/s through POST /-/usage (calls of 10 000 events,
                 --usage-clients at once), as a ratio to a raw COPY of the
                 same rows into the same table
  usage push     records/s that `mkpctl usage push --now` delivers to
                 mkp-sim serve in batches of 1000 (both signatures, checked)

All of it twice (--store): with the test harness's PostgreSQL settings
(fsync and synchronous_commit off) and with durable ones (on, as in
production); each run prints its settings above its table.

It prints one Markdown table per run (doc/performance.md keeps them): every
figure with its ceiling, ratio, target, p50/p99 latency and worker RSS, then
the CPU each group of processes spent per request. The load generator is
wrk; requests are signed beforehand, so the generator costs the same in
every phase. Targets: queryInstance >= 0.65 of the ceiling, newInstance
>= 0.45, p99 <= 10 ms at 32 connections, worker RSS <= 10 MB and flat,
usage ingest >= 0.8 of COPY. `--only usage` runs just the usage phases (no
wrk needed), `--only http` all but them.

The Kit at scale: authSync of 500 users (above) and allOrgSync of 10 000
departments (--org-calls calls, one at a time), each with its p99 against
2 s, well inside the marketplace's 20 s time-out. Closing the hours the
usage phase booked (mkp_usage_close_windows) is a row of its own, events
summed per second in a connection that has closed hours before (as the
jobs child's has; the time in a fresh one is in the row's note), and the last row is worker RSS after every phase
(--soak N adds N more calls).

--populate then fills the store to two years' size (1 million instances
with their events and jobs, 10 million audit rows, 50 million usage events
in their hourly records, 5 million nonces; --scale 0.01 for a quick try),
all in SQL, runs the phases again and adds one row per figure: populated
against empty, target >= 0.9. It prints the time the filling took, each
table's size (pg_total_relation_size) per row, and the closing sum's
EXPLAIN ANALYZE on both stores (it must read the hours' events only).

A figure is a Row; a phase appends its rows to the list print_table()
prints, so a new figure is one more append.
"""

import argparse
import calendar
import concurrent.futures
import hashlib
import hmac
import json
import os
import platform
import re
import resource
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


def org_sync_once(url, key, n):
    """One allOrgSync of n flat departments (the limit is 20 000): the
    call's time, which must stay well inside the marketplace's time-out
    and grow linearly with n."""
    t = "bench-" + uuid.uuid4().hex
    body = canonical({"instanceId": "", "tenantId": t, "testFlag": 0,
                      "timeStamp": time.strftime("%Y%m%d%H%M%S000", time.gmtime()),
                      "orgInfoList": [{"orgCode": "d%d" % i, "orgName": "Dept %d" % i}
                                      for i in range(n)]})
    ts = str(int(time.time() * 1000))
    nonce = secrets.token_hex(32).upper()
    sig = hmac.new(key.encode(), key.encode() + nonce.encode() + ts.encode() + body,
                   hashlib.sha256).hexdigest().upper()
    start = time.monotonic()
    status, _, out = harness.http_request(url, "POST", "/produceAPI/v2/allOrgSync", body,
                                          {"Content-Type": "application/json",
                                           "x-sign": sig, "x-timestamp": ts,
                                           "x-nonce": nonce}, timeout=60)
    ms = (time.monotonic() - start) * 1000
    ok = status == 200 and json.loads(out).get("resultCode") == "000000"
    return {"rps": 1000.0 / ms, "p50": ms, "p99": ms, "bad": 0 if ok else 1}


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


def run_wrk(url, reqfile, seconds, conns, expect, threads=2):
    """wrk over reqfile; expect is what requests.lua counts as a good
    answer: "query" (000000 with appInfo), "new" (000004 or 000000) or
    "ok" (000000)."""
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--latency",
            "-s", str(ROOT / "bench" / "requests.lua"), url, "--", str(reqfile),
            str(threads), expect]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    text = out.stdout + out.stderr
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
        lat[pct] = float(m.group(1)) * UNIT[m.group(2)]
    m = re.search(r"answers: good=(\d+) unexpected=(\d+) wrapped=(\d+)", text)
    good, bad, wrapped = (int(x) for x in m.groups())
    m = re.search(r"codes: 000000=(\d+) 000004=(\d+)", text)
    for line in re.findall(r"^unexpected answer: .*$", text, re.M):
        print("bench: %s" % line[:300], file=sys.stderr)
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"], "good": good,
            "bad": bad, "wrapped": wrapped, "c0": int(m.group(1)), "c4": int(m.group(2)),
            "raw": text}


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


class Row:
    """One figure of the table. value is in unit (requests/s by default);
    ceiling, when given, is what value is measured against (ratio), with
    min_ratio the target for that ratio; max_p99 (ms) and max_rss (MB) are
    targets too. A row without a target says so; met is None then."""

    def __init__(self, name, value, unit="req/s", ceiling=None, ceiling_name=None,
                 min_ratio=None, max_p99=None, max_rss=None, p50=None, p99=None,
                 rss=None, bad=0, note=""):
        self.name, self.value, self.unit = name, value, unit
        self.ceiling, self.ceiling_name = ceiling, ceiling_name
        self.min_ratio, self.max_p99, self.max_rss = min_ratio, max_p99, max_rss
        self.p50, self.p99, self.rss, self.bad, self.note = p50, p99, rss, bad, note

    @property
    def ratio(self):
        return self.value / self.ceiling if self.ceiling else None

    def target(self):
        parts = []
        if self.min_ratio is not None:
            parts.append(">= %g" % self.min_ratio)
        if self.max_p99 is not None:
            parts.append("p99 <= %g ms" % self.max_p99)
        if self.max_rss is not None:
            parts.append("RSS <= %g MB" % self.max_rss)
        return ", ".join(parts) or "-"

    def met(self):
        checks = []
        if self.min_ratio is not None:
            checks.append(self.ratio is not None and self.ratio >= self.min_ratio)
        if self.max_p99 is not None:
            checks.append(self.p99 is not None and self.p99 <= self.max_p99)
        if self.max_rss is not None:
            checks.append(self.rss is not None and self.rss <= self.max_rss)
        if not checks:
            return None
        return all(checks) and not self.bad


def phase_row(name, r, note="", **kw):
    """A Row from a run_wrk or run_pgbench result (with its "rss" list, KB)."""
    rss = max(r["rss"]) / 1024.0 if r.get("rss") else None
    if r.get("wrapped"):
        note += " (requests ran out: raise --rate-bound)"
    return Row(name, r["rps"], p50=r["p50"], p99=r["p99"], rss=rss, bad=r["bad"],
               note=note, **kw)


def bound_row(name, front, store):
    """An estimate of what a call could reach on these cores if mkpd's
    worker cost nothing: the front of the hello-world ceiling (wrk, nginx,
    FastCGI) and the store's statements (run by pgbench, whose client work
    stands in for the worker's libpq work) one after the other on the same
    CPU, 1 / (1/front + 1/store) calls per second. The two ends are
    measured in different phases: on a busy machine it is no bound."""
    return Row("%s, front + store alone (estimate)" % name,
               1.0 / (1.0 / front + 1.0 / store), ceiling=front, ceiling_name="hello-fcgi")


def cpu_s(pids):
    """User + system CPU seconds pids have used so far (a gone one: 0)."""
    ticks = 0
    for pid in pids:
        try:
            stat = open("/proc/%d/stat" % pid).read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        ticks += int(fields[11]) + int(fields[12])	# utime, stime
    return ticks / float(os.sysconf("SC_CLK_TCK"))


def tree(pid):
    """A function giving pid and its children now (PostgreSQL's backends,
    nginx's and mkpd's workers)."""
    return lambda: [pid] + harness.child_pids(pid)


def with_cpu(groups, fn, *a):
    """Runs a phase (run_wrk) and adds to its result the CPU seconds each
    group of processes (and the load generator, a child of ours) used."""
    before = {k: cpu_s(g()) for k, g in groups.items()}
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = fn(*a)
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r["cpu"] = {k: cpu_s(g()) - before[k] for k, g in groups.items()}
    r["cpu"]["wrk"] = (ru2.ru_utime + ru2.ru_stime) - (ru.ru_utime + ru.ru_stime)
    return r


def print_cpu(phases, out=sys.stdout):
    """CPU microseconds per answered request, by process group. Unlike
    requests/s, these hardly move with other load on the machine; the
    ceiling's total over a phase's total is the ratio that phase could
    reach if the cores were only doing this."""
    ceiling = sum(phases[0][1]["cpu"].values()) / max(1, phases[0][1]["good"] +
                                                       phases[0][1]["bad"])
    out.write("\nCPU per request, microseconds (user + system, from /proc):\n\n")
    out.write("| phase | nginx | app (hello-fcgi or mkpd) | PostgreSQL | wrk | total "
              "| ceiling's total / this total |\n|---|---|---|---|---|---|---|\n")
    for name, r in phases:
        n = max(1, r["good"] + r["bad"])
        c = {k: v / n * 1e6 for k, v in r["cpu"].items()}
        total = sum(c.values())
        out.write("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |\n" % (
            name, c["front"], c["app"], c["store"], c["wrk"], total,
            ceiling * 1e6 / total if total else 0))


def fmt(v, pattern):
    return "-" if v is None else pattern % v


def print_table(rows, out=sys.stdout):
    out.write("| figure | value | ceiling | ratio | target | met | p50 ms | p99 ms "
              "| worker RSS MB | unexpected |\n")
    out.write("|---|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        met = r.met()
        out.write("| %s | %.0f %s | %s | %s | %s | %s | %s | %s | %s | %d%s |\n" % (
            r.name, r.value, r.unit,
            "%.0f %s" % (r.ceiling, r.ceiling_name) if r.ceiling else "-",
            fmt(r.ratio, "%.2f"), r.target(),
            "-" if met is None else ("yes" if met else "**no**"),
            fmt(r.p50, "%.2f"), fmt(r.p99, "%.2f"), fmt(r.rss, "%.1f"), r.bad, r.note))


# pgbench scripts: the statements of one call as mkpd sends them, their
# SQL read from `mkpctl statements` (the very strings the workers prepare,
# so the ceiling cannot drift from the product), in the order and the
# transactions src/store/db.c sends them in one pipelined round trip: the
# previous call's audit row in a transaction of its own, then the nonce
# claim and the call's statement in one. Parameters are bound, as mkpd
# binds them (pgbench -M prepared): per-transaction values from \set
# (numbers: the pgbench instances have numeric ids for that), constants
# from -D, SQL NULL where mkpd binds NULL.
PGB_IDS = 1000000       # pgbench's instances are PGB_IDS + 1 .. PGB_IDS + N
PGB_DEFINES = {
    # The audit rows' time: this bench's, so they go to this month's partition.
    "now": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    "addr": "127.0.0.1", "dialect": "v2",
    "code0": "000000", "code4": "000004", "http": "200", "lat": "900", "false": "false",
    "true": "true", "keep": "120", "prov": "provisioning",
    "actq": "queryInstance", "actn": "newInstance",
    "bodyq": '{"activity":"queryInstance","instanceId":"0f3c2a5e-9d6b-4c1e-8a7f-2b3d4e5f6a7b"}',
    "bodyn": '{"activity":"newInstance","businessId":"0f3c2a5e-9d6b-4c1e-8a7f-2b3d4e5f6a7b",'
             '"orderId":"CS1906666666ABCDE","orderLineId":"CS1906666666ABCDE-000001"}',
}


def pgb_bind(stmts, name, *values):
    """The SQL of statement name with $N replaced by values[N-1] (":var"
    for a pgbench variable, or "NULL"), as one pgbench command."""
    stmt = stmts[name]
    if len(values) != stmt["params"]:
        sys.exit("bench: %s takes %d parameters, the script binds %d: update bench.py" % (
            name, stmt["params"], len(values)))
    return re.sub(r"\$(\d+)", lambda m: values[int(m.group(1)) - 1], stmt["sql"]) + ";\n"


def pgb_scripts(build, n_ids):
    """{"query": script, "new": script} from the product's statements."""
    out = subprocess.run([str(build / "mkpctl"), "statements", "--json"],
                         capture_output=True, text=True, check=True).stdout
    st = {s["name"]: s for s in json.loads(out)}
    head = ("\\set r random(1, 999999999999)\n"
            "\\set cid 5000000000000000 + :client_id * 1000000000000 + :r\n")

    def audit(act, inst, code, order, body):
        return ("BEGIN;\n" + pgb_bind(st, "audit_record", ":cid", ":now", ":addr", ":dialect",
                                      act, inst, order, order, code, ":http", ":lat",
                                      ":false", "NULL", body) + "COMMIT;\n")
    claim = pgb_bind(st, "nonce_claim_strict", ":cid", ":keep", ":cid")
    query = (head + "\\set inst random(%d, %d)\n\\startpipeline\n" % (
        PGB_IDS + 1, PGB_IDS + n_ids) +
        audit(":actq", ":inst", ":code0", "NULL", ":bodyq") + claim +
        pgb_bind(st, "instance_store_fetch_one", ":inst") + "\\endpipeline\n")
    # newInstance with the marketplace configured: a provisioning instance,
    # its create event and its provision job (whose trigger NOTIFYs).
    new = (head + "\\startpipeline\n" +
           audit(":actn", ":cid", ":code4", ":cid", ":bodyn") + claim +
           pgb_bind(st, "instance_store_create", ":cid", ":cid", ":cid", ":cid", ":prov", ":false",
                    "NULL", "NULL", "NULL", "NULL", "NULL", ":cid", ":true") +
           "\\endpipeline\n")
    return {"query": query, "new": new}


def run_pgbench(pg, work, name, seconds, clients, script=None, builtin=None, defines=None):
    """pgbench against the bench database; its own per-transaction log
    gives p50/p99. Returns a result as run_wrk does."""
    logdir = work / ("pgbench-" + name)
    logdir.mkdir()
    argv = [str(pg.bindir / "pgbench"), "-n", "-M", "prepared", "-c", str(clients),
            "-j", str(min(clients, 2)), "-T", str(seconds), "-l",
            "--log-prefix", str(logdir / "log"),
            "-h", pg.host, "-p", str(pg.port), "-U", "postgres"]
    for k, v in (defines or {}).items():
        argv += ["-D", "%s=%s" % (k, v)]
    if script is not None:
        path = work / ("%s.pgbench" % name)
        path.write_text(script)
        argv += ["-f", str(path)]
    else:
        argv += [builtin]
    argv.append(pg.dbname)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    text = out.stdout + out.stderr
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", text)
    if tps is None:
        sys.exit("bench: pgbench %s failed:\n%s" % (name, text))
    lat = sorted(int(line.split()[2]) for f in logdir.iterdir() for line in open(f))

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] / 1000.0 if lat else None
    # A client that failed a statement stops (and makes pgbench exit 2).
    bad = 0 if out.returncode == 0 else 1
    failed = re.search(r"number of failed transactions: (\d+)", text)
    if failed:
        bad += int(failed.group(1))
    if bad:
        print("bench: pgbench %s: %s" % (name, text.strip().splitlines()[-1]),
              file=sys.stderr)
    return {"rps": float(tps.group(1)), "p50": pct(0.50), "p99": pct(0.99), "bad": bad,
            "raw": text}


def machine():
    mem = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) / 1024.0 / 1024.0
    cpu = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return "%d cores (%s), %.0f GiB, %s" % (os.cpu_count(), cpu, mem, platform.platform())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10, help="per phase (default 10)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=4, help="pool size of both pools")
    ap.add_argument("--rate-bound", type=int, default=16000,
                    help="requests signed per second of a phase (an upper bound on the rate)")
    ap.add_argument("--kit-rate-bound", type=int, default=250,
                    help="authSync calls (500 users each) signed per second of its phase "
                         "(default 250: since schema 011 a quiet machine may pass 100/s)")
    ap.add_argument("--soak", type=int, default=0, metavar="N",
                    help="then send N more signed queryInstance calls and report worker RSS "
                         "every tenth of them (e.g. 1000000)")
    ap.add_argument("--only", choices=("http", "usage"),
                    help="run only the HTTP phases or only the usage phases")
    ap.add_argument("--store", choices=("harness", "durable", "both"), default="both",
                    help="PostgreSQL settings: the test harness's (fsync and synchronous_commit "
                         "off), durable (both on, as in production), or both runs (default)")
    ap.add_argument("--usage-events", type=int, default=200000,
                    help="events ingested (and copied) by the usage phase")
    ap.add_argument("--usage-clients", type=int, default=4,
                    help="POST /-/usage calls under way at once")
    ap.add_argument("--usage-records", type=int, default=10000,
                    help="records pushed by the usage phase")
    ap.add_argument("--org-calls", type=int, default=10,
                    help="allOrgSync calls of 10 000 departments, one at a time, for its p99")
    ap.add_argument("--populate", action="store_true",
                    help="then fill the store to two years' size (--scale) and run the phases "
                         "again: every figure populated against empty")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="of the populated store: 1 (default) is 1 million instances, 10 "
                         "million audit rows, 50 million usage events, 5 million nonces")
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


def usage_ingest(args, pg, front, tag=""):
    """events/s through POST /-/usage, and through a raw COPY of the same
    rows into usage_event: {"ingest": eps, "copy": eps, "bad": n}. tag
    makes the instances and event ids of a second run new ones."""
    n_inst = 100
    pg.psql("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
            " charging_mode, state) SELECT 'ub%s-' || i, 'uo%s-' || i, 'ul%s-' || i,"
            " 'ubz%s-' || i, 'ON_DEMAND', 'active' FROM generate_series(1, %d) i" % (
                tag, tag, tag, tag, n_inst))
    # Events over the last 3 closed hours: the windows already exist after
    # the first calls, as in the steady state.
    now = int(time.time())
    top = now - now % 3600
    rows = []
    for i in range(args.usage_events):
        t = top - 3 * 3600 + (i * 7919) % (3 * 3600)
        rows.append(("e%s%d" % (tag, i), "ub%s-%d" % (tag, 1 + i % n_inst), "%d.%04d" % (i % 10, i % 10000),
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


def usage_push(args, pg, mkpd, tag=""):
    """records/s `mkpctl usage push --now` delivers in batches of 1000."""
    n = args.usage_records
    hours = 20
    per_hour = (n + hours - 1) // hours
    pg.psql("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
            " charging_mode, state) SELECT 'up%s-' || i, 'upo%s-' || i, 'upl%s-' || i,"
            " 'upb%s-' || i, 'ON_DEMAND', 'active' FROM generate_series(1, %d) i;"
            "INSERT INTO usage_record (instance_id, window_begin, window_end, value,"
            " metering_sn, state)"
            " SELECT 'up%s-' || i, date_trunc('hour', now()) - make_interval(hours => 4 + h),"
            " date_trunc('hour', now()) - make_interval(hours => 3 + h), 1.5 + i %% 7,"
            " mkp_usage_metering_sn('up%s-' || i, '', date_trunc('hour', now())"
            "   - make_interval(hours => 4 + h)), 'pending'"
            " FROM generate_series(1, %d) i, generate_series(0, %d) h"
            " LIMIT %d" % (tag, tag, tag, tag, per_hour, tag, tag, per_hour, hours - 1, n))
    t0 = time.monotonic()
    r = mkpd.mkpctl("usage", "push", "--now")
    push_s = time.monotonic() - t0
    delivered = pg.psql("SELECT count(*) FROM usage_record WHERE state = 'delivered'"
                        " AND instance_id LIKE 'up%s-%%'" % tag)
    bad = 0 if r.returncode == 0 and delivered == str(n) else 1
    if bad:
        print("usage push: %s delivered of %d\n%s%s" % (delivered, n, r.stdout, r.stderr))
    return {"push": n / push_s, "bad": bad}


def bench_lines(n):
    """n new order lines as (orderId, orderLineId), each the one line of an
    order of its own, as most orders are (an order of many lines answers
    the order query with all of them: with about sqrt(n) lines an order,
    as before, provisioning measured the parsing of 150-line orders)."""
    stem = "BENCH" + uuid.uuid4().hex[:12].upper()
    return [("%s-%d" % (stem, k), "%s-%d-1" % (stem, k)) for k in range(n)]


def bench_orders(path, lines):
    """Writes mkp-sim's orders file for these (orderId, orderLineId) lines:
    one yearly order per orderId, holding its lines."""
    orders = {}
    for oid, line in lines:
        orders.setdefault(oid, []).append(line)
    with open(path, "w") as f:
        json.dump({"orders": [{
            "orderId": oid, "orderType": "NEW", "createTime": "20261201090000",
            "orderLine": [{
                "orderLineId": line, "chargingMode": "PERIOD", "periodType": "year",
                "periodNumber": 1, "expireTime": "20271201235959",
                "productInfo": [{"productId": "OFFI-BENCH", "skuCode": "sku-bench",
                                 "linearValue": 1, "productName": "bench"}]}
                for line in ol],
            "buyerInfo": {"customerId": "bench-customer", "userName": "bench"}}
            for oid, ol in orders.items()]}, f, separators=(",", ":"))
    os.chmod(path, 0o644)


class Marketplace:
    """mkp-sim serve as mkpd's marketplace. It starts with no orders of the
    bench's (a newInstance answers 000004 whenever a marketplace is
    configured; only provisioning asks it for the order), and serve(lines)
    restarts it knowing exactly the lines the provisioning phase will ask
    for (the first PROVISION_SERVED the jobs child claims: mkp-sim refuses
    an orders file over 16 MiB), whatever --rate-bound allows."""

    def __init__(self, build, work):
        self.build, self.work, self.round = build, work, 0
        self.sk = uuid.uuid4().hex
        self.sim = self.start(None)

    def start(self, orders):
        self.round += 1
        return harness.SimServer(self.build, self.work / ("sim%d" % self.round), sk=self.sk,
                                 orders=orders, args=["--usage-key", USAGE_KEY]).start()

    def config(self):
        return {"url": self.sim.url.rstrip("/"), "fallback_url": "", "ak": self.sim.ak,
                "sk": self.sim.sk}

    def serve(self, lines):
        """Restarts mkp-sim with these lines; returns mkpd's [marketplace]."""
        path = self.work / ("orders%d.json" % (self.round + 1))
        bench_orders(path, lines)
        self.sim.stop()
        self.sim = self.start(path)
        return self.config()


STORES = {
    # What the integration tests run with: nothing waits for the disk.
    "harness": "",
    # Production: every commit flushed (mkpd still writes its audit rows
    # with synchronous_commit off, as it does in production).
    "durable": "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n",
}


def jobs_child(mkpd):
    return [p for p in mkpd.children() if harness.is_jobs_child(p)]


def set_jobs(mkpd, on, timeout=30, marketplace=None):
    """Reloads mkpd with its jobs child on or off (and a new [marketplace]
    when given) and waits until it runs or is gone, so a phase measures the
    calls alone."""
    over = {"jobs": {"enabled": "true" if on else "false"}}
    if marketplace is not None:
        over["marketplace"] = marketplace
    mkpd.reload(over)
    harness.wait_for(lambda: bool(jobs_child(mkpd)) == on, timeout,
                     what="the jobs child to %s" % ("start" if on else "stop"))


# Order lines mkp-sim is given for a provisioning phase (about 400 bytes
# each in its orders file).
PROVISION_SERVED = 30000


def provisioning(pg, mkpd, market, seconds, stop_timeout=120):
    """Provisioning throughput: the jobs child switched on over the
    instances newInstance left provisioning (order query to mkp-sim, which
    now knows their order lines, the instance made active), for at most
    3 x seconds. Returns a result with "rps" = instances made active per
    second."""
    # Counted through instance_state_idx: a count of the active ones would
    # read the whole table five times a second, a million rows populated,
    # and take the CPU the phase measures. Made active = left provisioning
    # less those that failed.
    count = ("SELECT count(*) FILTER (WHERE state = 'provisioning'),"
             " count(*) FILTER (WHERE state = 'failed') FROM instance"
             " WHERE state IN ('provisioning', 'failed')")
    # The lines of the jobs the child claims first (it claims by run_at),
    # at most PROVISION_SERVED: far more than a phase gets through, and an
    # orders file mkp-sim takes (16 MiB at most). A populated run holds the
    # empty run's instances still provisioning too: all of them did not fit.
    used = pg.psql("SELECT i.order_id || ' ' || i.order_line_id FROM instance i"
                   " JOIN job j ON j.kind = 'provision'"
                   "  AND j.payload->>'instanceId' = i.instance_id AND j.state = 'queued'"
                   " WHERE i.state = 'provisioning' ORDER BY j.run_at, j.id LIMIT %d"
                   % PROVISION_SERVED)
    conf = market.serve([tuple(x.split(" ")) for x in used.split("\n") if x])
    left0, failed0 = (int(x) for x in pg.psql(count).split("|"))
    t0 = time.monotonic()
    set_jobs(mkpd, True, marketplace=conf)
    deadline = t0 + 3 * seconds
    while time.monotonic() < deadline:
        left, failed = (int(x) for x in pg.psql(count).split("|"))
        if left == 0:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - t0
    left, failed = (int(x) for x in pg.psql(count).split("|"))
    set_jobs(mkpd, False, stop_timeout)
    return {"rps": (left0 - left - (failed - failed0)) / elapsed, "p50": None, "p99": None,
            "bad": failed, "left": left}


def run(args, build, work):
    status = 0
    for store in (("harness", "durable") if args.store == "both" else (args.store,)):
        d = work / store
        d.mkdir()
        d.chmod(0o755)
        try:
            status |= run_store(args, build, d, store)
        finally:
            harness.kill_all()
    return status


def run_store(args, build, work, store):
    pg = harness.Postgres(work / "pg")
    pg.init()
    with open(pg.data / "postgresql.conf", "a") as f:
        f.write("\n# bench: %s\n%s" % (store, STORES[store]))
    pg.start()
    keys = harness.new_keys()
    mkpd_port, hello_port = harness.free_port(), harness.free_port()
    n = args.seconds * args.rate_bound
    # Every newInstance is a new order line; mkp-sim learns the lines a
    # phase used before provisioning asks for them (Marketplace), so
    # provisioning can succeed and queryInstance read active instances.
    lines = bench_lines(n * (2 if args.populate else 1))
    market = Marketplace(build, work)
    # The jobs child is off while calls are measured: provisioning is a
    # phase of its own (and the purge job cannot run into a phase either).
    mkpd = harness.Mkpd(build, work / "mkpd", pg.dsn, keys, {
        "mkpd": {"listen": "127.0.0.1:%d" % mkpd_port, "log_level": "notice",
                 "listen_owner": None, "listen_group": None},
        "pool": {"pm": "static", "max_children": args.workers,
                 "max_requests": 0},
        # No scheduled purge: provisioning measures provisioning alone.
        "jobs": {"enabled": "false", "purge_interval": 0},
        # Ingest calls of 10 000 events and allOrgSync of 10 000 departments
        # take more than the default 2 s on a busy machine: slower, not refused.
        "store": {"statement_timeout": 20000},
        "usage": {"token": USAGE_TOKEN, "usage_key": USAGE_KEY, "push_interval": 0,
                  "batch_size": 1000},
        "marketplace": market.config(),
    })
    mkpd.migrate()
    mkpd.start()
    front = harness.Nginx(work / "nginx-mkpd", "127.0.0.1:%d" % mkpd_port).start()
    if args.only == "usage":
        rows = usage_rows(args, pg, front, mkpd)
        print_header(args, pg, store)
        print_table(rows)
        return 1 if sum(r.bad for r in rows) else 0
    hello = harness.spawn([str(build / "bench" / "hello-fcgi"), "127.0.0.1:%d" % hello_port,
                           str(args.workers)], work / "hello.out")
    harness.wait_for(lambda: harness.listening("127.0.0.1:%d" % hello_port), 10)
    ceiling_front = harness.Nginx(work / "nginx-hello", "127.0.0.1:%d" % hello_port).start()

    results = {}

    # newInstance first: it also makes the instances queryInstance reads.
    # With the marketplace configured every new order line answers 000004
    # (provisioning goes on in a job); a repeat would answer 000000.
    reqfile = work / "new.req"
    write_requests(reqfile, keys["basic"], ({
        "activity": "newInstance", "orderId": o, "orderLineId": line,
        "businessId": str(uuid.uuid4())} for o, line in lines[:n]))
    mkpd_cpu = {"front": tree(front.proc.pid), "app": tree(mkpd.pid),
                "store": tree(pg.proc.pid)}
    results["newInstance"] = with_cpu(mkpd_cpu, run_wrk, front.url, reqfile, args.seconds,
                                      args.connections, "new")
    results["newInstance"]["rss"] = rss_kb(mkpd.worker_pids())
    results["provisioning"] = provisioning(pg, mkpd, market, args.seconds)

    # queryInstance reads active instances only: its answer is the access
    # data (000000 with appInfo), the path the marketplace polls.
    ids = pg.psql("SELECT instance_id FROM instance WHERE state = 'active'"
                  " ORDER BY random() LIMIT 10000").split()
    if not ids:
        sys.exit("bench: no instance became active in the provisioning phase")
    reqfile = work / "query.req"
    write_requests(reqfile, keys["basic"], ({
        "activity": "queryInstance", "instanceId": ids[i % len(ids)]} for i in range(n)))
    results["ceiling"] = with_cpu({"front": tree(ceiling_front.proc.pid),
                                   "app": tree(hello.pid), "store": tree(pg.proc.pid)},
                                  run_wrk, ceiling_front.url, reqfile, args.seconds,
                                  args.connections, "ok")
    write_requests(reqfile, keys["basic"], ({
        "activity": "queryInstance", "instanceId": ids[i % len(ids)]} for i in range(n)))
    results["queryInstance"] = with_cpu(mkpd_cpu, run_wrk, front.url, reqfile, args.seconds,
                                        args.connections, "query")
    results["queryInstance"]["rss"] = rss_kb(mkpd.worker_pids())

    reqfile = work / "auth.req"
    write_kit_requests(reqfile, keys["kit"], (users_body(500) for _ in range(
        args.seconds * args.kit_rate_bound)), "authSync")
    results["authSync"] = with_cpu(mkpd_cpu, run_wrk, front.url, reqfile, args.seconds,
                                   args.connections, "ok")
    results["authSync"]["rss"] = rss_kb(mkpd.worker_pids())
    for k in (5000, 20000):
        results["allOrgSync %d" % k] = org_sync_once(front.url, keys["kit"], k)
    results["allOrgSync 10000"] = org_sync_calls(front.url, keys["kit"], 10000, args.org_calls)
    results["allOrgSync 10000"]["calls"] = args.org_calls

    # The store's ceilings, with mkpd idle and its jobs child off: as many
    # connections as workers. Instances PGB_IDS + 1.., copies of one mkpd
    # made, for the query script.
    pg.psql("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
            " state, front_end_url, admin_url, app_user, app_password, memo)"
            " SELECT (%d + g)::text, 'PGB' || g, 'PGB' || g || '-1', 'pgb-' || g, t.state,"
            " t.front_end_url, t.admin_url, t.app_user, t.app_password, t.memo"
            " FROM generate_series(1, %d) g,"
            " (SELECT * FROM instance WHERE state = 'active' LIMIT 1) t" % (PGB_IDS, len(ids)))
    init = subprocess.run([str(pg.bindir / "pgbench"), "-i", "-q", "-s", "1", "-h",
                           pg.host, "-p", str(pg.port), "-U", "postgres", pg.dbname],
                          capture_output=True, text=True)
    if init.returncode != 0:
        sys.exit("bench: pgbench -i failed:\n" + init.stderr)
    scripts = pgb_scripts(build, len(ids))
    results["pgbench -S"] = run_pgbench(pg, work, "select", args.seconds, args.workers,
                                        builtin="-S")
    results["pgbench query"] = run_pgbench(pg, work, "query", args.seconds, args.workers,
                                           script=scripts["query"], defines=PGB_DEFINES)
    results["pgbench new"] = run_pgbench(pg, work, "new", args.seconds, args.workers,
                                         script=scripts["new"], defines=PGB_DEFINES)

    ceiling = results["ceiling"]["rps"]
    store_q = results["pgbench query"]["rps"]
    store_n = results["pgbench new"]["rps"]
    new = results["newInstance"]
    prov = results["provisioning"]
    rows = [
        phase_row("ceiling: hello-fcgi behind the same nginx", results["ceiling"]),
        phase_row("ceiling: store, pgbench -S (%d connections)" % args.workers,
                  results["pgbench -S"], unit="tps"),
        phase_row("ceiling: store, queryInstance's statements in pgbench",
                  results["pgbench query"], unit="tps"),
        phase_row("ceiling: store, newInstance's statements in pgbench",
                  results["pgbench new"], unit="tps"),
        phase_row("queryInstance of an active instance (000000 with appInfo)",
                  results["queryInstance"], ceiling=ceiling, ceiling_name="hello-fcgi",
                  min_ratio=0.65, max_p99=10, max_rss=10),
        Row("queryInstance against its statements", results["queryInstance"]["rps"],
            ceiling=store_q, ceiling_name="pgbench"),
        bound_row("queryInstance", ceiling, store_q),
        phase_row("newInstance (%d answered 000004, %d 000000)" % (new["c4"], new["c0"]),
                  new, ceiling=ceiling, ceiling_name="hello-fcgi", min_ratio=0.45,
                  max_p99=10, max_rss=10),
        Row("newInstance against its statements", new["rps"],
            ceiling=store_n, ceiling_name="pgbench"),
        bound_row("newInstance", ceiling, store_n),
        Row("provisioning, 000004 to active (jobs child, order query to mkp-sim)",
            prov["rps"], unit="instances/s", bad=prov["bad"],
            note=" (%d still provisioning at the phase's end)" % prov["left"]
            if prov["left"] else ""),
    ]
    rows += kit_rows(results)
    rows += [
        # One call each: linear in the departments, inside the time-out.
        Row("allOrgSync, 5 000 departments (one call)", results["allOrgSync 5000"]["rps"],
            unit="calls/s", p50=results["allOrgSync 5000"]["p50"],
            p99=results["allOrgSync 5000"]["p99"], max_p99=2000,
            bad=results["allOrgSync 5000"]["bad"]),
        Row("allOrgSync, 20 000 departments (one call)", results["allOrgSync 20000"]["rps"],
            unit="calls/s", p50=results["allOrgSync 20000"]["p50"],
            p99=results["allOrgSync 20000"]["p99"], max_p99=4000,
            bad=results["allOrgSync 20000"]["bad"]),
    ]
    if args.only != "http":
        rows += usage_rows(args, pg, front, mkpd, raw=results)
    served = sum(results[k].get("good", 0) + results[k].get("bad", 0)
                 for k in ("newInstance", "queryInstance", "authSync"))
    rows.append(rss_row(mkpd, served))
    pop = None
    if args.populate:
        more, pop = populated_rows(args, {
            "pg": pg, "mkpd": mkpd, "front": front, "keys": keys, "results": results,
            "n": n, "lines": lines, "ids": ids, "work": work, "cpu": mkpd_cpu, "market": market,
            "scripts": scripts})
        rows += more
    print_header(args, pg, store)
    print_table(rows)
    if pop is not None:
        print_sizes(pop)
        print()
        for when, r in (("empty", results), ("populated", pop["usage"])):
            if "usage close" in r:
                print("Closing the hours, %s store, the sum's EXPLAIN ANALYZE: %s" % (
                    when, r["usage close"]["plan"]))
    print_cpu([(name, results[key]) for name, key in (
        ("ceiling: hello-fcgi", "ceiling"), ("queryInstance", "queryInstance"),
        ("newInstance", "newInstance"), ("authSync, 500 users a call", "authSync"))])

    if args.soak:
        print("\nsoak: worker RSS (KB) as signed queryInstance calls go on")
        done, phase_bad = 0, 0
        while done < args.soak:
            write_requests(reqfile, keys["basic"], ({
                "activity": "queryInstance", "instanceId": ids[i % len(ids)]}
                for i in range(n)))
            r = run_wrk(front.url, reqfile, args.seconds, args.connections, "query")
            done += r["good"]
            phase_bad += r["bad"]
            print("  after %9d calls (%5.0f/s): %s" % (done, r["rps"],
                                                    rss_kb(mkpd.worker_pids())))
        results["soak"] = {"bad": phase_bad}
    bad = sum(r.bad for r in rows) + results.get("soak", {}).get("bad", 0)
    return 1 if bad else 0


SETTINGS = ("fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers",
            "max_wal_size", "checkpoint_timeout")


def print_header(args, pg, store):
    print("\n%d workers, %d connections, %d s per phase, %s" % (
        args.workers, args.connections, args.seconds, time.strftime("%Y-%m-%d %H:%M")))
    print("machine: %s" % machine())
    settings = pg.psql("SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', '"
                       " ORDER BY name) FROM pg_settings WHERE name IN (%s)" %
                       ", ".join("'%s'" % s for s in SETTINGS))
    print("store: PostgreSQL %s, %s settings: %s\n" % (
        pg.psql("SHOW server_version"), store, settings))


def close_hours(pg):
    """Closes the hours the ingest booked into (their events summed into
    their records), as the push does first: events summed per second."""
    events = int(pg.psql("SELECT count(*) FROM usage_event e JOIN usage_record r"
                         " USING (instance_id, pkg_instance_id, window_begin)"
                         " WHERE r.state = 'open' AND r.window_end <= now()"))
    # The plan first (it reads what the close reads; both runs alike).
    plan = pg.psql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)"
                   " SELECT r2.id, coalesce(t.total, 0) AS total FROM usage_record r2"
                   " CROSS JOIN LATERAL (SELECT sum(e.value) AS total FROM usage_event e"
                   "  WHERE e.instance_id = r2.instance_id"
                   "    AND e.pkg_instance_id = r2.pkg_instance_id"
                   "    AND e.window_begin = r2.window_begin) t"
                   " WHERE r2.state = 'open' AND r2.window_end <= now()")
    # Timed inside one session, as the jobs child closes the hours: in its
    # connection, which planned the close's statements the hour before
    # (plpgsql keeps them). A first close, rolled back, plans them here;
    # that cold close's time is kept too (a fresh connection plans over
    # every month kept: it grows with the months, the close itself not).
    out = pg.psql("SELECT set_config('bench.t', clock_timestamp()::text, false);"
                  " BEGIN; SELECT mkp_usage_close_windows(); ROLLBACK;"
                  " SELECT 1000 * extract(epoch FROM clock_timestamp()"
                  "  - current_setting('bench.t')::timestamptz);"
                  " SELECT set_config('bench.t', clock_timestamp()::text, false);"
                  " SELECT mkp_usage_close_windows();"
                  " SELECT 1000 * extract(epoch FROM clock_timestamp()"
                  "  - current_setting('bench.t')::timestamptz)").splitlines()
    cold_ms, closed, s = float(out[2]), int(out[4]), float(out[5]) / 1000.0
    plan = json.loads(plan)[0]
    top = plan["Plan"]
    plan = ("%d records, %d events: %d buffers (%d read), %.1f ms; planning %d buffers,"
            " %.1f ms" % (top["Actual Rows"], events, top["Shared Hit Blocks"] +
                          top["Shared Read Blocks"], top["Shared Read Blocks"],
                          plan["Execution Time"], plan.get("Planning", {}).get(
                              "Shared Hit Blocks", 0), plan["Planning Time"]))
    return {"rps": events / s, "events": events, "records": closed, "ms": s * 1000.0,
            "cold_ms": cold_ms, "bad": 0, "plan": plan}


def usage_rows(args, pg, front, mkpd, tag="", raw=None):
    """The rows of metered usage: raw COPY (the ceiling), ingest, closing
    the hours, push. raw (a dict) gets the figures by name."""
    ing = usage_ingest(args, pg, front, tag)
    close = close_hours(pg)
    push = usage_push(args, pg, mkpd, tag)
    if raw is not None:
        raw["usage ingest"] = {"rps": ing["ingest"], "bad": ing["bad"]}
        raw["usage copy"] = {"rps": ing["copy"]}
        raw["usage close"] = close
        raw["usage push"] = {"rps": push["push"], "bad": push["bad"]}
    return [
        Row("ceiling: raw COPY into usage_event (%d events)" % args.usage_events,
            ing["copy"], unit="events/s"),
        Row("usage ingest, POST /-/usage (calls of %d events, %d at once)" % (
            USAGE_CALL, args.usage_clients), ing["ingest"], unit="events/s",
            ceiling=ing["copy"], ceiling_name="COPY", min_ratio=0.8, bad=ing["bad"]),
        Row("closing the hours, %d events into %d records" % (close["events"],
                                                              close["records"]),
            close["rps"], unit="events/s", note=" (%.0f ms; %.0f ms in a fresh connection)"
            % (close["ms"], close["cold_ms"])),
        Row("usage push, batches of 1000 (%d records)" % args.usage_records, push["push"],
            unit="records/s", bad=push["bad"]),
    ]


# --- the populated store (--populate) ---------------------------------------
#
# A realistic two-year store, made in SQL (generate_series, INSERT ...
# SELECT) by two sessions at once, then the phases again: every figure
# populated against the same figure empty (target >= 0.9).
# Triggers are off while it loads (session_replication_role = replica):
# the rows are known to be consistent, and neither the NOTIFY of 2 million
# instance events nor 60 million foreign-key lookups are what a store of
# that size is about. Each table is loaded as a bulk load is: its indexes
# built after its rows, in one sorted pass; each month of usage as a table
# of its own, made beforehand with the parent's foreign key (valid while
# empty) and a CHECK of its bounds, so that attaching it at the end checks
# neither again. Each table is vacuumed in its session once loaded (hint
# bits, visibility map), and everything analyzed, as autovacuum would have.
# Every row is the same whatever the machine's speed: the times are taken
# from the hour the filling began (POP_TOP), not from now() as it runs.

POP_HOURS = 2 * 365 * 24        # two years of metered hours
POP_EVENTS_PER_HOUR = 4         # usage events per on-demand instance and hour
POP_FULL = {"instances": 1000000, "callback_log": 10000000, "usage_event": 50000000,
            "nonce": 5000000}
POP_MONTHLY = ("usage_event", "usage_record")
POP_BOUNDS = "pop_bounds"       # the CHECK a month's table has until attached


def pop_sizes(scale):
    n = {k: max(1, int(v * scale)) for k, v in POP_FULL.items()}
    # Metered instances reporting every hour for two years, 4 events an hour.
    n["metered"] = max(1, n["usage_event"] // (POP_HOURS * POP_EVENTS_PER_HOUR))
    n["usage_record"] = n["metered"] * POP_HOURS
    n["usage_event"] = n["usage_record"] * POP_EVENTS_PER_HOUR
    return n


def pop_sql(n, top, ddl):
    """{step: SQL}, each step one session's work; the steps are
    independent. top: the hour the filling began (epoch seconds); n also
    holds "record_id0", the usage_record ids are record_id0 + 1 onwards;
    ddl: pop_ddl()'s statements for the month tables."""
    off = "SET session_replication_role = replica;\n"
    two_years = "now() - interval '730 days'"
    top_ts = "'%s'::timestamptz" % time.strftime("%Y-%m-%d %H:00:00+00", time.gmtime(top))
    months = pop_months(top)
    # A usage row is an hour (hh, made once an hour) and an instance of the
    # month (dd, or dk with the hour's 4 events: made once), so that a row
    # costs an addition or two. LATERAL ... OFFSET 0 keeps the hour outer:
    # rows come in time order, the primary key's order.
    hours = (" (SELECT %(hours)d - h AS hn, w, w + interval '1 hour' AS we,"
             " E'\\n\\n' || to_char(w AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"') AS sn"
             " FROM generate_series(%%%%(lo)d, %%%%(hi)d, -1) h,"
             " LATERAL (SELECT %(top)s - h * interval '1 hour' AS w) x"
             " WHERE w >= '%%%%(from)s' AND w < '%%%%(to)s') hh") % dict(
                 hours=POP_HOURS + 8, top=top_ts)
    return {
        "instance, instance_event, job": off + bulk_wrap(ddl["instance"], (
            "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
            " product_id, sku_code, charging_mode, state, expire_at, front_end_url,"
            " admin_url, app_user, app_password, created_at, updated_at, order_info,"
            " buyer_id)"
            " SELECT 'pop-' || g, 'CSPOP' || g, 'CSPOP' || g || '-1',"
            " m::uuid::text, 'OFFI-POP', 'sku-pop-' || g %% 5,"
            " CASE WHEN g <= %(metered)d THEN 'ON_DEMAND' ELSE 'PERIOD' END,"
            " CASE WHEN g %% 20 = 0 THEN 'released' ELSE 'active' END,"
            " now() + (g %% 730 - 365) * interval '1 day',"
            " 'https://app.example.com/t/' || g, 'https://app.example.com/admin/' || g,"
            " 'user' || g, 's1:' || m || md5((-g)::text),"
            " %(two)s + (g %% 730) * interval '1 day', now(),"
            # The jsonb jsonb_build_object() made, as text: parsed, not built.
            " ('{\"orderId\": \"CSPOP' || g || '\", \"orderLine\": [{\"expireTime\":"
            " \"20271201235959\", \"periodType\": \"year\", \"orderLineId\": \"CSPOP' || g ||"
            " '-1\", \"productInfo\": [{\"skuCode\": \"sku-pop-' || g %% 5 || '\","
            " \"productId\": \"OFFI-POP\", \"linearValue\": 1, \"productName\":"
            " \"populated\"}], \"chargingMode\": \"PERIOD\", \"periodNumber\": 1}],"
            " \"orderType\": \"NEW\", \"createTime\": \"20250101090000\"}')::jsonb,"
            " 'buyer-' || g %% 50000"
            " FROM (SELECT g, md5(g::text) AS m FROM generate_series(1, %(instances)d) g"
            " OFFSET 0) s;\n") % dict(n, two=two_years)) + bulk_wrap(ddl["instance_event"], (
            "INSERT INTO instance_event (instance_id, kind, from_state, to_state, order_id,"
            " order_line_id, call_id, created_at)"
            " SELECT 'pop-' || g, k.kind, k.f, k.t, 'CSPOP' || g, 'CSPOP' || g || '-1',"
            " md5(g::text || k.kind),"
            " %(two)s + (g %% 730) * interval '1 day' + k.d"
            " FROM generate_series(1, %(instances)d) g, (VALUES"
            " ('create', NULL, 'provisioning', interval '0'),"
            " ('provisioned', 'provisioning', 'active', interval '2 seconds')) k(kind, f, t, d);\n"
            ) % dict(n, two=two_years)) + bulk_wrap(ddl["job"], (
            "INSERT INTO job (kind, payload, state, attempts, run_at, created_at, updated_at,"
            " done_at, dedupe_key)"
            " SELECT 'provision', jsonb_build_object('instanceId', 'pop-' || g), 'done', 1,"
            " t, t, t, t + interval '2 seconds', 'provision:pop-' || g"
            " FROM generate_series(1, %(instances)d) g,"
            " LATERAL (SELECT %(two)s + (g %% 730) * interval '1 day' AS t) x;\n") % dict(
                n, two=two_years)),
        # The audit log's months, as the purge job makes them month after
        # month (mkp_callback_log_partitions), so two years of rows go to
        # their months and not all into the default partition.
        "callback_log": off + (
            "DO $$ DECLARE m timestamp; BEGIN"
            " FOR m IN SELECT generate_series(date_trunc('month', (%(two)s) AT TIME ZONE 'UTC'),"
            "   date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month',"
            "   interval '1 month') LOOP"
            "  CONTINUE WHEN to_regclass('callback_log_' || to_char(m, 'YYYYMM')) IS NOT NULL;"
            "  EXECUTE format('CREATE TABLE %%I PARTITION OF callback_log"
            "   FOR VALUES FROM (%%L) TO (%%L)', 'callback_log_' || to_char(m, 'YYYYMM'),"
            "   m AT TIME ZONE 'UTC', (m + interval '1 month') AT TIME ZONE 'UTC');"
            " END LOOP; PERFORM mkp_callback_log_partitions(2); END $$;\n"
            % dict(two=two_years)) + bulk_wrap(ddl["callback_log"], (
            "INSERT INTO callback_log (call_id, received_at, remote_addr, dialect, activity,"
            " instance_id, order_id, order_line_id, result_code, http_status, latency_us,"
            " body)"
            " SELECT md5(g::text)::uuid::text,"
            " %(two)s + g * (interval '730 days' / %(callback_log)d), '100.85.0.' || g %% 250,"
            " 'v2', a.act, 'pop-' || 1 + g %% %(instances)d, a.ord, a.ord,"
            " '000000', 200, 900 + g %% 4000,"
            " '{\"activity\":\"' || a.act || '\",\"instanceId\":\"pop-' ||"
            " 1 + g %% %(instances)d || '\",\"testFlag\":\"0\"}'"
            " FROM generate_series(1, %(callback_log)d) g,"
            " LATERAL (SELECT CASE WHEN g %% 10 = 0 THEN 'newInstance'"
            "   ELSE 'queryInstance' END AS act,"
            "   CASE WHEN g %% 10 = 0 THEN 'CSPOP' || g ELSE NULL END AS ord) a;\n") % dict(
                n, two=two_years)),
        "usage_record": off + "".join(pop_month("usage_record", ddl, (
            "INSERT INTO %%(part)s (id, instance_id, pkg_instance_id, window_begin, window_end,"
            " value, metering_sn, state, attempts, record_time, created_at, updated_at)"
            " SELECT %(record_id0)d + hh.hn * %(metered)d + x.d, x.inst, '', hh.w, hh.we,"
            " x.value, x.sn, 'delivered', 1, hh.we, hh.we, hh.we FROM" + hours + ","
            # mkp_usage_metering_sn('pop-' || d, '', w), the hour's part made once.
            " LATERAL (SELECT d, inst, value,"
            "   encode(sha256(convert_to(inst || hh.sn, 'UTF8')), 'hex') AS sn"
            "   FROM (SELECT d, 'pop-' || d AS inst, (10 + d %%%% 7)::numeric(20,4) AS value"
            "   FROM generate_series(1, %(metered)d) d) dd OFFSET 0) x;\n") % n, m)
            for m in months),
        "usage_event": off + "".join(pop_month("usage_event", ddl, (
            "INSERT INTO %%(part)s (event_id, instance_id, pkg_instance_id, value,"
            " event_time, received_at, window_begin)"
            " SELECT 'evt-' || lpad((hh.hn * %(per_hour)d + x.n)::text, 12, '0'), x.inst, '',"
            " x.value, hh.w + x.at, hh.w + x.at + interval '5 seconds', hh.w FROM" + hours + ","
            " LATERAL (SELECT n, inst, value, at FROM dk OFFSET 0) x;\n") % dict(
                n, per_hour=n["metered"] * POP_EVENTS_PER_HOUR), m,
            # The instance's 4 events of an hour: n as in the event's id,
            # ((hours back) * metered + d) * 4 + k.
            with_=("WITH dk AS MATERIALIZED (SELECT d * 4 + k AS n, 'pop-' || d AS inst,"
                   " (2.5 + (d %% 7) / 4.0)::numeric(20,4) AS value,"
                   " k * interval '15 minutes' AS at"
                   " FROM generate_series(1, %d) d, generate_series(0, 3) k"
                   " ORDER BY d, k) " % n["metered"]))
            for m in months),
        "nonce": off + bulk_wrap(ddl["nonce"], (
            "INSERT INTO nonce (nonce, seen_at, call_id)"
            " SELECT 'v2:' || upper(m || md5((-g)::text)),"
            " now() - (g %% 110) * interval '1 second', m::uuid::text"
            " FROM (SELECT g, md5(g::text) AS m FROM generate_series(1, %(nonce)d) g"
            " OFFSET 0) s;\n") % n),
    }


def pop_months(top):
    """The UTC months of the two years populated, oldest first, as
    (first hour back, last hour back, month's start, next month's start,
    YYYYMM): hours back from the hour top, 9 to POP_HOURS + 8 (the last 8
    hours are the usage phases')."""
    top = top - top % 3600
    out = []
    t = time.gmtime(top - (POP_HOURS + 8) * 3600)
    y, mo = t.tm_year, t.tm_mon
    while True:
        start = calendar.timegm((y, mo, 1, 0, 0, 0))
        y2, mo2 = (y + 1, 1) if mo == 12 else (y, mo + 1)
        end = calendar.timegm((y2, mo2, 1, 0, 0, 0))
        lo = min(POP_HOURS + 8, (top - start) // 3600)
        hi = max(9, (top - end) // 3600 + 1)
        if lo < 9:
            break
        out.append((lo, hi, time.strftime("%Y-%m-%d 00:00:00+00", time.gmtime(start)),
                    time.strftime("%Y-%m-%d 00:00:00+00", time.gmtime(end)), "%04d%02d" % (y, mo)))
        y, mo = y2, mo2
    return out


def pop_current(m):
    """Whether month m is this month, whose partition exists
    (mkp_partitions_ensure): loaded straight into it."""
    return m[4] == time.strftime("%Y%m", time.gmtime())


def pop_month(table, ddl, insert, m, with_=""):
    """One month of a partitioned table loaded as a bulk load is: into its
    table (pop_month_tables() made it), then the parent's indexes built on
    it in one pass each; pop_attach() attaches it. ATTACH
    would build the same indexes, under the same names, but holds a lock on
    instance (the foreign key's) meanwhile, which the other session's
    ATTACH then waits for."""
    lo, hi, start, end, ym = m
    part = "%s_%s" % (table, ym)
    if pop_current(m):
        return with_ + insert % {"part": table, "lo": lo, "hi": hi, "from": start, "to": end}
    return with_ + (insert + "".join(s + ";\n" for s in ddl[table]["index"])) % {
        "part": part, "lo": lo, "hi": hi, "from": start, "to": end}


def pop_month_tables(top, ddl):
    """SQL making the month tables of every partitioned table, empty: its
    columns and CHECKs, its bounds as a CHECK, its foreign keys under the
    parent's names (valid while empty: ATTACH then takes them as they
    are, where it would otherwise check every row against instance)."""
    out = []
    for table in POP_MONTHLY:
        for m in pop_months(top):
            if pop_current(m):
                continue
            out.append(("CREATE TABLE %(part)s (LIKE %(t)s INCLUDING DEFAULTS INCLUDING"
                        " CONSTRAINTS, CONSTRAINT %(b)s CHECK (window_begin >= '%(from)s'"
                        " AND window_begin < '%(to)s')%(fk)s);\n") % {
                "part": "%s_%s" % (table, m[4]), "t": table, "b": POP_BOUNDS,
                "from": m[2], "to": m[3], "fk": "".join(", " + c for c in ddl[table]["fk"])})
    return "".join(out)


def pop_attach(top):
    """SQL attaching the month tables (indexes and keys match: no scan,
    no build) and dropping their bounds' CHECK."""
    out = []
    for table in POP_MONTHLY:
        for m in pop_months(top):
            if pop_current(m):
                continue
            part = "%s_%s" % (table, m[4])
            out.append("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s');\n"
                       "ALTER TABLE %s DROP CONSTRAINT %s;\n" % (
                           table, part, m[2], m[3], part, POP_BOUNDS))
    return "".join(out)


def pop_ddl(pg):
    """{table: {"drop": [...], "make": [...]} for the tables loaded whole
    (their indexes and keys, but those another table's foreign key needs);
    {"fk": [...], "index": [...]} for the partitioned ones: the parent's
    foreign keys (CONSTRAINT name FOREIGN KEY ...) and its indexes as
    statements on %(part)s, in the order ATTACH would build them, which
    gives the same names."""
    q = lambda s: [x for x in pg.psql(s).split("\n") if x]
    out = {}
    for table in ("instance", "instance_event", "job", "callback_log", "nonce"):
        cons = q("SELECT format('ALTER TABLE %%I DROP CONSTRAINT %%I|ALTER TABLE %%I ADD"
                 " CONSTRAINT %%I %%s', '%s', conname, '%s', conname,"
                 " pg_get_constraintdef(oid)) FROM pg_constraint c"
                 " WHERE conrelid = '%s'::regclass AND contype IN ('p', 'u')"
                 " AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f'"
                 " AND f.conindid = c.conindid) ORDER BY oid" % (table, table, table))
        idx = q("SELECT format('DROP INDEX %%I|%%s', c.relname, pg_get_indexdef(i.indexrelid))"
                " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE i.indrelid = '%s'::regclass AND NOT EXISTS (SELECT 1 FROM"
                " pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY c.oid" % table)
        pairs = [x.split("|", 1) for x in idx + cons]
        # A partitioned table's index is made on its partitions too (an
        # index made ON ONLY the parent would stay invalid, the partitions
        # without it).
        out[table] = {"drop": [d for d, _ in pairs],
                      "make": [c.replace(" ON ONLY ", " ON ", 1) for _, c in pairs]}
    for table in POP_MONTHLY:
        out[table] = {
            "fk": q("SELECT format('CONSTRAINT %%I %%s', conname, pg_get_constraintdef(oid))"
                    " FROM pg_constraint WHERE conrelid = '%s'::regclass AND contype = 'f'"
                    " ORDER BY oid" % table),
            # (%% survives the month's % formatting: %(part)s is the table.)
            "index": [x.replace("%", "%%").replace("%%(part)s", "%(part)s") for x in q(
                "SELECT CASE WHEN k.oid IS NOT NULL THEN 'ALTER TABLE %%(part)s ADD ' ||"
                " pg_get_constraintdef(k.oid) ELSE regexp_replace(pg_get_indexdef(i.indexrelid),"
                " ' INDEX \\S+ ON ONLY \\S+ ', ' INDEX ON %%(part)s ') END"
                " FROM pg_index i LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid"
                " AND k.conrelid = i.indrelid WHERE i.indrelid = '%s'::regclass"
                " ORDER BY i.indexrelid" % table)]}
    return out


def bulk_wrap(ddl, sql):
    """sql (loading a table) between dropping the table's own indexes and
    keys and making them again (pop_ddl()), as a bulk load is done: each
    index built in one sorted pass."""
    return ("".join(d + ";\n" for d in ddl["drop"]) + sql +
            "".join(c + ";\n" for c in ddl["make"]))


POP_TABLES = ("instance", "instance_event", "job", "callback_log", "usage_event",
              "usage_record", "nonce")
# For building indexes: a month of usage sorts in memory.
POP_SESSION = ("SET maintenance_work_mem = '1GB';\n"
               "SET max_parallel_maintenance_workers = 0;\n")


def table_sizes(pg):
    """{table: (rows, bytes)}: pg_total_relation_size summed over a
    partitioned table's partitions; rows from the statistics (after
    ANALYZE)."""
    out = {}
    for t in POP_TABLES:
        rows, size = pg.psql(
            "SELECT coalesce(sum(c.reltuples)::bigint, 0),"
            " coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " WHERE c.relkind = 'r' AND (c.oid = '%s'::regclass OR c.oid IN"
            " (SELECT relid FROM pg_partition_tree('%s') WHERE isleaf))" % (t, t)).split("|")
        out[t] = (max(0, int(rows)), int(size))
    return out


def populate(args, pg):
    """Fills the store; returns {"seconds": {step: s}, "n": sizes, "sizes": ...}."""
    n = pop_sizes(args.scale)
    secs = {}
    print("bench: populating the store (scale %g: %d instances, %d audit rows, %d usage"
          " events in %d records, %d nonces)" % (args.scale, n["instances"],
                                                 n["callback_log"], n["usage_event"],
                                                 n["usage_record"], n["nonce"]),
          file=sys.stderr)
    t_all = time.monotonic()
    top = int(time.time())
    # This month's partitions and the next ones (the two years before are
    # loaded as tables of their own and attached). The usage records'
    # ids are taken at once: record_id0 + 1 onwards.
    pg.psql("SELECT mkp_partitions_ensure(2)")
    n["record_id0"] = int(pg.psql(
        "SELECT setval('usage_record_id_seq', i + %d) - %d FROM (SELECT last_value -"
        " (NOT is_called)::int AS i FROM usage_record_id_seq) s"
        % (n["usage_record"], n["usage_record"])))
    ddl = pop_ddl(pg)
    pg.psql(pop_month_tables(top, ddl))
    steps = pop_sql(n, top, ddl)

    def run(item):
        name, sql = item
        t0 = time.monotonic()
        pg.psql(POP_SESSION + sql)
        secs[name] = time.monotonic() - t0
        print("bench:   %s: %.0f s" % (name, secs[name]), file=sys.stderr)
    # The longest first; instance's before the usage tables' (whose month
    # tables wait for nothing from it: their keys are made, empty, above).
    order = ("usage_event", "instance, instance_event, job", "usage_record", "callback_log",
             "nonce")
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        list(ex.map(run, [(k, steps[k]) for k in order]))
    secs["load"] = time.monotonic() - t_all
    # Attached (a lock on instance each, catalog work only), then every
    # table vacuumed and analyzed (the partitioned ones month by month and
    # as a whole), two sessions at once. Only now: a vacuum can mark a page
    # all-visible only once no snapshot older than its rows is left, and
    # the loads' statements were such snapshots for each other.
    t0 = time.monotonic()
    pg.psql(pop_attach(top))
    others = pg.psql(
        "SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class c"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'm', 'p')"
        " AND NOT c.relispartition AND c.relname <> ALL ('{%s}')" % ",".join(POP_TABLES))
    final = ["VACUUM (ANALYZE) usage_event",
             "VACUUM (ANALYZE) usage_record, callback_log, instance, instance_event, job,"
             " nonce" + (", " + others if others else "")]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        list(ex.map(lambda s: pg.psql(POP_SESSION + s), final))
    secs["vacuum"] = time.monotonic() - t0
    secs["total"] = time.monotonic() - t_all
    print("bench: populated in %.0f s (VACUUM ANALYZE %.0f s)" % (
        secs["total"], secs["vacuum"]), file=sys.stderr)
    return {"seconds": secs, "n": n, "sizes": table_sizes(pg)}


def print_sizes(pop, out=sys.stdout):
    """What each table holds after populating, per row and per million."""
    s = pop["seconds"]
    out.write("\nPopulated in %.0f s (loading %.0f s, two sessions at once; VACUUM ANALYZE"
              " %.0f s). Table sizes (pg_total_relation_size, partitions summed):\n\n" % (
                  s["total"], s["load"], s["vacuum"]))
    out.write("| table | rows | total | bytes per row | per million rows |\n"
              "|---|---|---|---|---|\n")
    for t, (rows, size) in pop["sizes"].items():
        per = size / rows if rows else 0
        out.write("| %s | %d | %.1f MB | %.0f | %.0f MB |\n" % (
            t, rows, size / 1048576.0, per, per * 1e6 / 1048576.0))


def org_sync_calls(url, key, n, calls):
    """calls allOrgSync calls of n departments each, one at a time: calls/s,
    p50 and p99 (ms) of the calls' times, unexpected answers."""
    times, bad = [], 0
    for _ in range(calls):
        r = org_sync_once(url, key, n)
        times.append(r["p50"])
        bad += r["bad"]
    times.sort()
    return {"rps": 1000.0 * len(times) / sum(times), "p50": times[len(times) // 2],
            "p99": times[min(len(times) - 1, int(len(times) * 0.99))], "bad": bad}


KIT_TIMEOUT_MS = 20000          # the marketplace gives the seller 20 s a call


def kit_rows(results, tag=""):
    """The Kit at scale: authSync of 500 users (wrk, p99 over the phase) and
    allOrgSync of 10 000 departments (p99 over its calls), against the
    marketplace's 20 s time-out (target p99 < 2 s)."""
    org = results["allOrgSync 10000"]
    return [
        phase_row("authSync, 500 users a call%s" % tag, results["authSync"], unit="calls/s",
                  max_p99=2000, note=" (time-out %d s)" % (KIT_TIMEOUT_MS // 1000)),
        Row("allOrgSync, 10 000 departments (%d calls, one at a time)%s" % (
            org["calls"], tag), org["rps"], unit="calls/s", p50=org["p50"], p99=org["p99"],
            max_p99=2000, bad=org["bad"],
            note=" (time-out %d s)" % (KIT_TIMEOUT_MS // 1000)),
    ]


def rss_row(mkpd, served):
    """Worker RSS after every phase: the largest worker, after served calls
    (--soak N adds N more and a line per tenth)."""
    rss = rss_kb(mkpd.worker_pids())
    return Row("worker RSS after %d calls (largest of %d workers)" % (served, len(rss)),
               max(rss) / 1024.0 if rss else 0, unit="MB", max_rss=10,
               rss=max(rss) / 1024.0 if rss else None)


def populated_rows(args, ctx):
    """Populates the store, runs the phases again, and returns one row per
    figure: populated against empty (min_ratio 0.9), the sizes printed."""
    pg, mkpd, front, keys = ctx["pg"], ctx["mkpd"], ctx["front"], ctx["keys"]
    empty = ctx["results"]
    # The instances the pgbench newInstance script made are not orders the
    # marketplace knows: their provision jobs would fill the populated
    # provisioning phase with refusals. They go (pgbench's query instances,
    # PGB_IDS + 1.., stay for its query script).
    pg.psql("SET session_replication_role = replica;"
            "DELETE FROM job WHERE kind = 'provision' AND dedupe_key ~ '^5[0-9]{15}$';"
            "DELETE FROM instance_event WHERE instance_id ~ '^5[0-9]{15}$';"
            "DELETE FROM instance WHERE instance_id ~ '^5[0-9]{15}$'")
    pop = populate(args, pg)
    res = {}
    n = ctx["n"]
    reqfile = ctx["work"] / "new-populated.req"
    write_requests(reqfile, keys["basic"], ({
        "activity": "newInstance", "orderId": o, "orderLineId": line,
        "businessId": str(uuid.uuid4())} for o, line in ctx["lines"][n:2 * n]))
    res["newInstance"] = with_cpu(ctx["cpu"], run_wrk, front.url, reqfile, args.seconds,
                                  args.connections, "new")
    res["newInstance"]["rss"] = rss_kb(mkpd.worker_pids())
    res["provisioning"] = provisioning(pg, mkpd, ctx["market"], args.seconds)
    reqfile = ctx["work"] / "query-populated.req"
    ids = ctx["ids"]
    write_requests(reqfile, keys["basic"], ({
        "activity": "queryInstance", "instanceId": ids[i % len(ids)]} for i in range(n)))
    res["queryInstance"] = with_cpu(ctx["cpu"], run_wrk, front.url, reqfile, args.seconds,
                                    args.connections, "query")
    res["queryInstance"]["rss"] = rss_kb(mkpd.worker_pids())
    reqfile = ctx["work"] / "auth-populated.req"
    write_kit_requests(reqfile, keys["kit"], (users_body(500) for _ in range(
        args.seconds * args.kit_rate_bound)), "authSync")
    res["authSync"] = run_wrk(front.url, reqfile, args.seconds, args.connections, "ok")
    res["allOrgSync 10000"] = org_sync_calls(front.url, keys["kit"], 10000, args.org_calls)
    res["allOrgSync 10000"]["calls"] = args.org_calls
    res["pgbench query"] = run_pgbench(pg, ctx["work"], "query-populated", args.seconds,
                                       args.workers, script=ctx["scripts"]["query"],
                                       defines=PGB_DEFINES)
    res["pgbench new"] = run_pgbench(pg, ctx["work"], "new-populated", args.seconds,
                                     args.workers, script=ctx["scripts"]["new"],
                                     defines=PGB_DEFINES)
    usage = {}
    if args.only != "http":
        usage_rows(args, pg, front, mkpd, tag="p", raw=usage)

    def row(name, key, unit="req/s", value=None):
        e, p = empty.get(key), res.get(key) or usage.get(key)
        if e is None or p is None:
            return None
        return Row("%s, populated store" % name, p["rps"], unit=unit, ceiling=e["rps"],
                   ceiling_name="empty", min_ratio=0.9, p50=p.get("p50"), p99=p.get("p99"),
                   bad=p.get("bad", 0))
    rows = [
        row("queryInstance of an active instance (000000 with appInfo)", "queryInstance"),
        row("newInstance", "newInstance"),
        row("provisioning, 000004 to active", "provisioning", unit="instances/s"),
        row("store, queryInstance's statements in pgbench", "pgbench query", unit="tps"),
        row("store, newInstance's statements in pgbench", "pgbench new", unit="tps"),
        row("authSync, 500 users a call", "authSync", unit="calls/s"),
        row("allOrgSync, 10 000 departments", "allOrgSync 10000", unit="calls/s"),
        row("usage ingest, POST /-/usage", "usage ingest", unit="events/s"),
        row("raw COPY into usage_event", "usage copy", unit="events/s"),
        row("closing the hours (events summed)", "usage close", unit="events/s"),
        row("usage push, batches of 1000", "usage push", unit="records/s"),
    ]
    pop["usage"] = usage
    return [r for r in rows if r is not None], pop


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""bench/profile.py: instruction counts of one call, worker and store side.

Runs one mkpd worker under callgrind (and, with --store, the PostgreSQL
server too: every backend gets its own profile) behind nginx, sends N
signed newInstance calls, N signed queryInstance calls, then a few Kit
authSync calls of 500 users (each a new tenant), four clients
at a time (so the worker always has the next call waiting, as under load),
and prints for each phase the instructions per call of the worker and,
with --store, of its PostgreSQL backend, with their top functions (self
cost); without --store, the statements the store ran (pg_stat_statements,
whose times are wall-clock, so only their proportions mean anything).
A worker serves one phase and exits (max_requests), which writes its
profile; only worker_serve and app_idle are counted in it, not its start.
A backend's count includes its start (connection, preparing the
statements), spread over the N calls. Instruction counts do
not depend on the load of the machine, unlike the wall-clock figures of
scripts/bench, so this is the measure to compare a change with.

  /usr/bin/python3 bench/profile.py [--calls 2000] [--store] [--top 25]

Needs valgrind (apt-get install valgrind) and a build in build/ (or
MKPD_BUILD).
"""

import argparse
import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "test" / "integration"))
sys.path.insert(0, str(ROOT / "bench"))
import harness  # noqa: E402
import bench  # noqa: E402


CHUNK = 200	# calls signed at a time


def callgrind_cmd(outdir, name):
    return ["valgrind", "--tool=callgrind", "--trace-children=no",
            "--callgrind-out-file=%s/%s.%%p" % (outdir, name)]


def send_all(port, lines, clients=4):
    """Sends the requests of lines over `clients` keep-alive connections
    at once (so the worker always finds the next connection waiting, as
    under load: the audit row rides with the next call); returns the number
    of answers that were not resultCode 000000."""
    bad = [0]

    def one(part):
        # The front is the production sample: HTTPS, with the test CA.
        ctx = ssl.create_default_context(cafile=str(harness.test_ca()))
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=300, context=ctx)
        for line in part:
            fields = line.rstrip(b"\n").decode().split("\t")
            headers = {"Content-Type": "application/json;charset=utf8"}
            headers.update(f.split(": ", 1) for f in fields[2:])
            conn.request("POST", fields[0], body=fields[1].encode(), headers=headers)
            answer = conn.getresponse().read()
            if b'"resultCode":"000000"' not in answer:
                bad[0] += 1
                if bad[0] <= 3:
                    print("unexpected answer: %r" % answer[:200], file=sys.stderr)
        conn.close()
    threads = [threading.Thread(target=one, args=(lines[i::clients],))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return bad[0]


def total_ir(path):
    """The events total of a callgrind dump."""
    for line in open(path):
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    return 0


def top_functions(path, top):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", str(path)],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), float(m.group(2)),
                         m.group(3)))
    return rows[:top]


def dump_of(outdir, name, pid, timeout=120):
    """The profile a process writes when it exits."""
    path = outdir / ("%s.%d" % (name, pid))

    def written():
        return path.exists() and "\ntotals:" in path.read_text(errors="replace")
    harness.wait_for(written, timeout, what="the profile of %s %d" % (name, pid))
    return path


def backend_pid(pg, gone):
    """The PostgreSQL backend serving the worker (not one of gone, the
    backends of workers that exited)."""
    out = pg.psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'mkpd'"
                  " AND backend_type = 'client backend'")
    pids = [int(x) for x in out.split() if int(x) not in gone]
    return pids[0] if len(pids) == 1 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000, help="per phase (default 2000)")
    ap.add_argument("--store", action="store_true",
                    help="run PostgreSQL under callgrind too (slow to start)")
    ap.add_argument("--kit-calls", type=int, default=10,
                    help="authSync calls of 500 users, each a new tenant (default 10)")
    ap.add_argument("--top", type=int, default=25, help="functions listed per phase")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("profile: needs valgrind (apt-get install valgrind)")
    build = Path(os.environ.get("MKPD_BUILD", ROOT / "build"))
    work = ROOT / "var" / "profile"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    work.chmod(0o777)	# the worker (another user when run as root) writes its profile
    try:
        return run(args, build, work)
    finally:
        harness.kill_all()


def run(args, build, work):
    pg = harness.Postgres(work / "pg")
    pg.init()
    with open(pg.data / "postgresql.conf", "a") as f:
        f.write("autovacuum = off\n")	# its work would land in no phase anyway
        if not args.store:
            # Its hooks would be counted in the backend's instructions.
            f.write("shared_preload_libraries = 'pg_stat_statements'\n"
                    "pg_stat_statements.track = all\n")
    if args.store:
        # Backends are forked, not executed: each is profiled to its own file.
        proc_argv = callgrind_cmd(work, "pg") + [str(pg.bindir / "postgres"), "-D",
                                                 str(pg.data)]
        pg.proc = harness.spawn(proc_argv, pg.logfile, user=pg.user)
        harness.wait_for(lambda: pg._run_as_pg([str(pg.bindir / "pg_isready"), "-q",
                                                "-h", pg.host, "-p", str(pg.port)]
                                               ).returncode == 0, 180)
        pg.psql("CREATE DATABASE %s" % pg.dbname, db="postgres")
    else:
        pg.start()
    if not args.store:
        pg.psql("CREATE EXTENSION pg_stat_statements")
    keys = harness.new_keys()
    port = harness.free_port()
    # One phase per worker lifetime: the worker exits after its calls and
    # writes its profile; only what runs for a request (the request itself
    # and the idle flush) is counted, not the start.
    n = args.calls
    mkpd = harness.Mkpd(build, work / "mkpd", pg.dsn, keys, {
        "mkpd": {"listen": "127.0.0.1:%d" % port, "log_level": "notice",
                 "listen_owner": None, "listen_group": None},
        # No request_terminate_timeout: under callgrind on a busy machine a
        # call may take longer, and a worker ended mid-phase splits its count.
        "pool": {"pm": "static", "max_children": 1, "max_requests": n,
                 "request_terminate_timeout": 0},
        "jobs": {"enabled": False},
        "store": {"statement_timeout": 600000},	# statements run slowly under callgrind
    })
    # A backend starts slowly under callgrind: wait longer than libpq would.
    subprocess.run([str(build / "mkpctl"), "--dsn", pg.dsn + " connect_timeout=300",
                    "migrate"], check=True, stdout=subprocess.DEVNULL)
    mkpd.proc = harness.spawn(
        callgrind_cmd(work, "mkpd") + ["--collect-atstart=no",
                                        "--toggle-collect=worker_serve",
                                        "--toggle-collect=app_idle",
                                        str(mkpd.bin), "-c", str(mkpd.conf_path)],
        mkpd.out_path)
    mkpd.wait_listening(180)
    front = harness.Nginx(work / "nginx", "127.0.0.1:%d" % port).start()

    orders = ["PROF%s" % uuid.uuid4().hex[:20].upper() for _ in range(n)]
    results, gone, served = {}, set(), set()
    for name, calls in (("newInstance", n), ("queryInstance", n),
                        ("authSync", args.kit_calls)):
        harness.wait_for(lambda: len(mkpd.worker_pids()) == 1 and
                         mkpd.worker_pids()[0] not in served, 120, what="a new worker")
        worker = mkpd.worker_pids()[0]
        served.add(worker)
        if name == "newInstance":
            bodies = [{"activity": "newInstance", "orderId": o, "orderLineId": o + "-1",
                       "businessId": str(uuid.uuid4())} for o in orders]
        elif name == "queryInstance":
            ids = pg.psql("SELECT instance_id FROM instance ORDER BY random()").split()
            bodies = [{"activity": "queryInstance", "instanceId": ids[i % len(ids)]}
                      for i in range(n)]
        else:
            bodies = [bench.users_body(500) for _ in range(calls)]

        def send(part, name=name):
            # Signed just before sending: under callgrind a phase outlasts
            # the 60 s a signature's timestamp is valid.
            reqfile = work / "chunk.req"
            if name == "authSync":
                bench.write_kit_requests(reqfile, keys["kit"], part, "authSync")
            else:
                bench.write_requests(reqfile, keys["basic"], part)
            return send_all(front.port, open(reqfile, "rb").readlines())
        if not args.store:
            pg.psql("SELECT pg_stat_statements_reset()")
        bad = send(bodies[:1])
        backend = backend_pid(pg, gone)
        gone.add(backend)
        for i in range(1, calls, CHUNK):
            bad += send(bodies[i:i + CHUNK])
        if calls < n:
            mkpd.stop()	# the worker exits before max_requests: its profile now
        dumps = {"worker": dump_of(work, "mkpd", worker)}
        if args.store and backend is not None:
            dumps["store backend"] = dump_of(work, "pg", backend)
        stmts = "" if args.store else pg.psql(
            "SELECT calls, round((total_exec_time / calls * 1000)::numeric, 1),"
            " rows, regexp_replace(left(query, 100), '\\s+', ' ', 'g')"
            " FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%'"
            " ORDER BY total_exec_time DESC LIMIT 12")
        results[name] = (calls, bad, dumps, stmts)

    for name, (calls, bad, dumps, stmts) in results.items():
        print("\n== %s: %d calls, %d unexpected answers" % (name, calls, bad))
        for who, dump in dumps.items():
            print("%s: %.0f instructions per call (%s)" % (who, total_ir(dump) / calls,
                                                            dump.name))
        for who, dump in dumps.items():
            print("%s top functions (self instructions per call, share):" % who)
            for ir, pct, fn in top_functions(dump, args.top):
                print("  %9.0f %5.1f%%  %s" % (ir / calls, pct, fn))
        if stmts:
            print("statements (calls, mean us, rows, query):")
        for line in stmts.splitlines():
            print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The store that hangs, fails over or is away (issue 17, doc/operations.md
"High availability"): no call waits on PostgreSQL without a bound.

A primary that hangs instead of dying (its processes frozen with SIGSTOP:
the kernel still accepts connections and acknowledges data, so neither
TCP keepalives nor tcp_user_timeout notice) must cost a caller 000005
well inside the marketplace's 5 s, never an answer that does not come;
once it runs again, calls succeed again without a restart of mkpd."""

import json
import re
import os
import secrets
import shutil
import signal
import subprocess
import time

import pytest

import harness
from harness import new_order, wait_for
from test_faults import (OK, RETRY, Load, check_answered_calls_are_stored, q,  # noqa: F401
                         check_stopped_clean, private_pg)

# What a call may take while the store hangs: the round trip's bound
# (statement_timeout 2000 + 1000) or a connect attempt (connect_timeout 2 s),
# with room for a loaded machine. The marketplace waits 5 s.
HUNG_CALL_MAX_S = 4.5


class TimedLoad(Load):
    """Load that keeps, for each call, when it started and how long it took."""

    def __init__(self, s, **kw):
        super().__init__(s, **kw)
        self.times = []		# (start monotonic, seconds, resultCode)

    def one(self, activity, fields):
        t0 = time.monotonic()
        r = super().one(activity, fields)
        self.times.append((t0, time.monotonic() - t0, r.result_code))
        return r


def cluster_pids(pg):
    """The postmaster and every process it forked (backends, auxiliaries)."""
    return [pg.proc.pid] + harness.child_pids(pg.proc.pid)


def freeze(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def status(s):
    """mkpctl status --json --full and how long it took."""
    t0 = time.monotonic()
    r = s.mkpd.mkpctl("status", "--json", "--full", check=True)
    return json.loads(r.stdout), time.monotonic() - t0


def ha_stack(make_stack, pg, dsn=None):
    """Two static workers, no purge, a status child on a control socket."""
    s = make_stack({"pool": {"pm": "static", "max_children": 2},
                    "jobs": {"purge_interval": 0}}, pg=pg, dsn=dsn, start=False)
    s.mkpd.overrides.setdefault("mkpd", {})["control_socket"] = str(s.mkpd.dir / "ctl.sock")
    s.mkpd.overrides["mkpd"]["status_listen"] = str(s.mkpd.dir / "status.sock")
    s.mkpd.write_config()
    s.start()
    return s


def test_hung_primary_answers_000005(make_stack, private_pg):
    s = ha_stack(make_stack, private_pg)
    # One server, no standby: said at start and on the status page.
    s.mkpd.wait_log(r"store: no synchronous standby: an acknowledged call is as durable "
                    r"as the one PostgreSQL server")
    page = wait_for(lambda: (lambda p: p if p["synchronous_commit"] >= 0 else None)(
        status(s)[0]), what="the store's figures")
    assert page["synchronous_standbys"] == 0 and page["synchronous_commit"] == 0, page
    assert page["spool_bytes"] == 0
    frozen = []
    pages = []
    with TimedLoad(s) as load:
        load.wait_calls(6)
        wait_for(lambda: status(s)[0]["jobs_backlog"] >= 0, what="the store's figures")
        frozen = cluster_pids(private_pg)
        freeze(frozen, signal.SIGSTOP)
        try:
            hung_at = time.monotonic()
            base = load.count(RETRY)
            # The status page answers at once from its cache all along,
            # and no worker is seen busy past the bound.
            while load.count(RETRY) < base + 6 and time.monotonic() - hung_at < 60:
                pages.append(status(s))
            hung_until = time.monotonic()
        finally:
            freeze(frozen, signal.SIGCONT)
        load.wait_calls(6, timeout=60)
    assert load.count(RETRY) >= base + 6, "too few 000005 answers while the store hung"
    assert all(took < 1.5 for _, took in pages), [round(t, 2) for _, t in pages]
    for page, _ in pages:
        for w in page["workers"]:
            assert w["state"] != "busy" or w["request_duration_ms"] < HUNG_CALL_MAX_S * 1000, w
    assert load.unexpected() == []
    # Every call made while the store hung was answered within the bound,
    # and 000005 unless it ended after the store was back.
    during = [(round(d, 2), code, t0 + d <= hung_until) for t0, d, code in load.times
              if hung_at <= t0 <= hung_until]
    print("\nhung primary: %d calls, longest %.2f s, first 000000 %.2f s after SIGCONT"
          % (len(during), max(d for d, _, _ in during),
             min(t0 + d for t0, d, code in load.times if code == OK and t0 > hung_until)
             - hung_until))
    assert len([c for c in during if c[2]]) >= 4, during
    assert all(d <= HUNG_CALL_MAX_S and (code == RETRY or not ended)
               for d, code, ended in during), during
    check_answered_calls_are_stored(s, load)
    assert not re.search(r"store: the dsn names several hosts", s.mkpd.log())
    # Two workers, the jobs child and the status child: none stuck, none extra.
    workers = s.mkpd.wait_workers(2, timeout=30)
    assert len([p for p in s.mkpd.children() if p not in workers]) == 2
    s.mkpd.wait_log(r"db: no answer from the server in 3000 ms: giving the connection up")
    s.mkpd.wait_log(r"db: connected again")
    check_stopped_clean(s)


# --- a primary and a streaming standby ----------------------------------------

@pytest.fixture
def standby(private_pg, session_dir, request):
    """A streaming standby of private_pg, made with pg_basebackup as the
    cluster's OS user, on a port of its own, synchronous (the primary's
    commits wait for it: synchronous_standby_names = '*')."""
    from conftest import unique_dir
    base = unique_dir(session_dir, "standby") / "pg"
    sb = harness.Postgres(base)
    base.mkdir(parents=True)
    sb.sockdir.mkdir()
    for p in (base, sb.sockdir):
        harness.chown(p, sb.user)
    r = sb._run_as_pg([str(sb.bindir / "pg_basebackup"), "-h", private_pg.host,
                       "-p", str(private_pg.port), "-U", "postgres", "-D", str(sb.data),
                       "-R", "-X", "stream", "-c", "fast", "--no-sync"])
    assert r.returncode == 0, r.stdout + r.stderr
    with open(sb.data / "postgresql.conf", "a") as f:
        f.write("\n# the standby's own\nport = %d\nunix_socket_directories = '%s'\n"
                % (sb.port, sb.sockdir))
    sb.start()
    private_pg.psql("ALTER SYSTEM SET synchronous_standby_names = '*'; "
                    "SELECT pg_reload_conf()", db="postgres")
    wait_for(lambda: private_pg.psql("SELECT sync_state FROM pg_stat_replication",
                                     db="postgres") == "sync", 30,
             what="the standby streaming, synchronous")
    yield sb
    sb.stop("immediate")


def multi_host_dsn(primary, standby):
    return ("host=%s,%s port=%d,%d dbname=%s user=postgres target_session_attrs=read-write"
            % (primary.host, standby.host, primary.port, standby.port, primary.dbname))


def test_failover_to_promoted_standby(make_stack, private_pg,
                                                              standby):
    s = ha_stack(make_stack, private_pg, dsn=multi_host_dsn(private_pg, standby))
    s.mkpd.wait_log(r"store: commits wait for a synchronous standby \(synchronous_commit = "
                    r"on, 1 standby streaming\): an acknowledged call survives a failover")
    page = wait_for(lambda: (lambda p: p if p["synchronous_commit"] >= 0 else None)(
        status(s)[0]), what="the store's figures")
    assert page["synchronous_standbys"] == 1 and page["synchronous_commit"] == 1, page
    frozen = []
    try:
        with TimedLoad(s) as load:
            load.wait_calls(6)
            frozen = cluster_pids(private_pg)
            freeze(frozen, signal.SIGSTOP)
            hung_at = time.monotonic()
            load.wait_calls(3, code=RETRY, timeout=60)
            standby.psql("SELECT pg_promote()", db="postgres")
            promoted_at = time.monotonic()
            load.wait_calls(6, timeout=60)
        first_ok = min(t0 + d for t0, d, code in load.times
                       if code == OK and t0 + d >= promoted_at)
        print("\nfailover figures: hung for %.2f s before promotion; first 000000 "
              "%.2f s after promotion" % (promoted_at - hung_at, first_ok - promoted_at))
        assert first_ok - promoted_at < 8, first_ok - promoted_at
        assert load.unexpected() == []
        assert all(d <= HUNG_CALL_MAX_S * 2 for t0, d, code in load.times
                   if t0 >= hung_at), [round(d, 2) for t0, d, c in load.times]
        # Synchronous replication: what was acknowledged is on the standby.
        s.pg = standby
        check_answered_calls_are_stored(s, load)
        workers = s.mkpd.wait_workers(2, timeout=30)
        assert len([p for p in s.mkpd.children() if p not in workers]) == 2
    finally:
        freeze(frozen, signal.SIGCONT)
        # Stopped at once: two primaries must not both serve mkpd.
        private_pg.stop("immediate")


# --- the audit spool ------------------------------------------------------------

def spool_records(path):
    """The call_ids (first parameter) of the whole records of a spool file
    (format: src/store/spool.h)."""
    data = path.read_bytes() if path.exists() else b""
    ids, off = [], 0
    while off + 8 <= len(data) and data[off:off + 4] == b"MKS1":
        n = int.from_bytes(data[off + 4:off + 8], "little")
        if off + 12 + n > len(data):
            break
        p = data[off + 8:off + 8 + n]
        nl = int.from_bytes(p[0:2], "little")
        q = 2 + nl + 1
        vl = int.from_bytes(p[q:q + 4], "little")
        ids.append(p[q + 4:q + 4 + vl].decode())
        off += 12 + n
    return ids


def spool_dir(s):
    return s.mkpd.dir / "spool"


def spooled(s):
    return sum(len(spool_records(p)) for p in spool_dir(s).glob("*.spool"))


def audit_rows(s):
    return int(q(s, "SELECT count(*) FROM callback_log"))


def test_audit_spool_store_down(make_stack, private_pg):
    """Every call answered while the store was down has its audit row
    afterwards, once."""
    s = ha_stack(make_stack, private_pg)
    with Load(s) as load:
        load.wait_calls(6)
        # "fast": a crash ("immediate") may also lose the last audit rows
        # committed before it, which commit asynchronously (store/audit.c).
        private_pg.stop("fast")
        load.wait_calls(40, code=RETRY, timeout=90)
        wait_for(lambda: spooled(s) > 0, 20, what="rows in the spool")
        # The status page says how much waits there.
        wait_for(lambda: status(s)[0]["spool_bytes"] > 0, 10, what="the spool's size shown")
        private_pg.start()
        load.wait_calls(6, timeout=60)
    assert load.unexpected() == []
    answered = len(load.calls)
    # Every call has its row, once: spooled rows replayed, none twice.
    wait_for(lambda: audit_rows(s) >= answered, 30,
             what="%d audit rows (have %d)" % (answered, audit_rows(s)))
    assert audit_rows(s) == answered
    for activity, fields, code, r in load.calls:
        if activity == "newInstance":
            assert q(s, "SELECT count(*) FROM callback_log WHERE order_id = '%s'"
                     % fields["orderId"]) == "1", fields
    log = s.mkpd.log()
    assert "dropped" not in log
    # One line per worker and outage, not one per call.
    kept = len(re.findall(r"db: the store cannot take callback_log row now", log))
    assert 1 <= kept <= 2, kept
    assert re.search(r"db: the store takes deferred statements again: \d+ written "
                     r"from the spool, 0 lost", log)
    wait_for(lambda: spooled(s) == 0, 30, what="the spool emptied")
    wait_for(lambda: status(s)[0]["spool_bytes"] == 0, 10, what="an empty spool shown")
    check_stopped_clean(s)


def test_spool_dir_is_made_with_the_directories_above_it(make_stack):
    """mkpd makes spool_dir, and the directories above it that are missing:
    the default, LOCALSTATEDIR/spool/mkpd, is under /usr/local/var in a
    build from source, which need not exist, and every worker then ran
    without its journal (one error line each). Made at start and at a
    reload, for the workers' user only."""
    s = make_stack({"pool": {"pm": "static", "max_children": 2}})
    deep = s.mkpd.dir / "var" / "spool" / "mkpd"
    mark = s.mkpd.log_mark()
    s.mkpd.reload({"store.spool_dir": str(deep)})
    s.mkpd.wait_log(r"generation 2 is serving", since=mark)
    wait_for(lambda: sorted(p.name for p in deep.glob("*.spool")) or None, 20,
             what="the new workers' spool files in %s" % deep)
    st = os.stat(deep)
    assert st.st_mode & 0o777 == 0o700, oct(st.st_mode)
    if harness.RUN_USER:
        import pwd
        assert pwd.getpwuid(st.st_uid).pw_name == harness.RUN_USER
    assert os.stat(deep.parent).st_mode & 0o777 == 0o755
    log = s.mkpd.log()[mark:]
    assert not re.search(r"\] (warn|error): ", log), log
    assert s.call("queryInstance", {"instanceId": "nope"})[1]["resultCode"] == "000003"


def test_audit_spool_worker_killed(make_stack, private_pg):
    """A worker killed with rows in its spool loses none of them; a record
    cut short by the kill is dropped, not replayed."""
    s = make_stack({"pool": {"pm": "static", "max_children": 2},
                    "jobs": {"purge_interval": 0}}, pg=private_pg)
    with Load(s) as load:
        load.wait_calls(4)
        private_pg.stop("fast")
        load.wait_calls(40, code=RETRY, timeout=90)
    # Both workers idle: what they hold in memory has gone to their files.
    wait_for(lambda: spooled(s) >= 30, 20, what="the rows in the spool")
    in_files = {p.name: spool_records(p) for p in spool_dir(s).glob("*.spool")}
    for pid in s.mkpd.worker_pids():
        os.kill(pid, signal.SIGKILL)
    s.mkpd.wait_workers(2, timeout=30)
    # A record cut short by the kill (half written) is dropped, not replayed.
    names = sorted(in_files, key=lambda n: len(in_files[n]))
    name = names[-1]
    s.mkpd.stop()
    with open(spool_dir(s) / name, "ab") as f:
        f.write(b"MKS1\x40\x00\x00\x00\x0c\x00audit_re")
    # And as if its slot were no longer used (the pool shrank): another
    # worker adopts it.
    orphan = spool_dir(s) / "worker-9.spool"
    (spool_dir(s) / name).rename(orphan)
    private_pg.start()
    s.mkpd.start()
    # Traffic: a worker looks for files left behind after it wrote its own rows.
    load = Load(s)
    with load:
        load.wait_calls(6)
    want = [i for ids in in_files.values() for i in ids]
    wait_for(lambda: q(s, "SELECT count(*) FROM callback_log WHERE call_id IN (%s)"
                       % ", ".join("'%s'" % i for i in want)) == str(len(want)), 30,
             what="every row the killed workers had written replayed")
    s.mkpd.wait_log(r"db: writing %s to the store: its worker is gone" % orphan)
    s.mkpd.wait_log(r"spool %s: \d+ bytes of a record cut short dropped" % orphan)
    wait_for(lambda: spooled(s) == 0, 30, what="the spool emptied")
    assert "malformed" not in s.mkpd.log()
    check_stopped_clean(s)


class Locked:
    """A psql session holding LOCK TABLE name IN ACCESS EXCLUSIVE MODE until
    release()."""

    def __init__(self, s, table):
        pg = s.pg
        self.proc = subprocess.Popen(
            [str(pg.bindir / "psql"), "-X", "-q", "-h", pg.host, "-p", str(pg.port),
             "-U", "postgres", "-d", q(s, "SELECT current_database()")],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            text=True)
        self.proc.stdin.write("BEGIN;\nLOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\n" % table)
        self.proc.stdin.flush()
        wait_for(lambda: q(s, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON "
                              "c.oid = l.relation WHERE c.relname = '%s' AND "
                              "l.mode = 'AccessExclusiveLock' AND l.granted" % table) == "1",
                 10, what="the lock on %s" % table)

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("COMMIT;\n\\q\n")
            self.proc.stdin.close()
            self.proc.wait(10)


def test_audit_journal_keeps_the_rows_of_a_worker_killed_while_the_store_refuses_them(
        make_stack):
    """The audit row is written to the worker's journal (its spool file)
    once the answer is out, and goes to the store in batches: while the
    store cannot take them (callback_log locked: every insert times out)
    they wait in the file, and a worker killed then loses none of them; the
    worker after it sends them, each once."""
    s = make_stack({"pool": {"pm": "static", "max_children": 1},
                    "jobs": {"enabled": False},
                    "store": {"statement_timeout": 500}}, fresh_db=True)
    orders = [new_order() for _ in range(5)]
    lock = Locked(s, "callback_log")
    try:
        for o in orders:
            r = s.call("newInstance", {"orderId": o[0], "orderLineId": o[1],
                                       "businessId": "b"}, args=["--test"])
            assert r.result_code == OK, r
        wait_for(lambda: spooled(s) >= 5, 20, what="the rows in the journal")
        [worker] = s.mkpd.worker_pids()
        os.kill(worker, signal.SIGKILL)
        s.mkpd.wait_workers(1, timeout=30)
    finally:
        lock.release()
    # Nothing asks: the new worker sends them when it waits idle after its
    # first call, or a call's own flush.
    o = new_order()
    assert s.call("newInstance", {"orderId": o[0], "orderLineId": o[1], "businessId": "b"},
                  args=["--test"]).result_code == OK
    for o in orders:
        wait_for(lambda: q(s, "SELECT count(*) FROM callback_log WHERE order_id = '%s'"
                           % o[0]) == "1", 30, what="the audit row of %s" % o[0])
    wait_for(lambda: spooled(s) == 0, 30, what="the journal emptied")
    assert audit_rows(s) == 6
    assert "dropped" not in s.mkpd.log()


def test_multi_host_dsn_without_synchronous_standby_is_warned(make_stack, pg):
    multi = ("host=%s,%s port=%d,%d dbname=%s user=postgres target_session_attrs=read-write"
             % (pg.host, pg.host, pg.port, pg.port, "mkpd"))
    s = make_stack(dsn=multi)
    s.mkpd.wait_log(r"warn: .*store: the dsn names several hosts but commits do not wait "
                    r"for a synchronous standby")


def test_pgbouncer_session_pooling_serves_calls(make_stack, pg, workdir):
    """mkpd prepares its statements per connection and pipelines: a pooler
    in session mode (one server connection per mkpd connection, for its
    life) passes that through; doc/operations.md says what transaction
    pooling would need."""
    pgbouncer = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.path.exists(pgbouncer):
        pytest.skip("pgbouncer is not installed")
    d = workdir / "pgbouncer"
    d.mkdir()
    harness.chown(d, pg.user)
    port = harness.free_port()
    (d / "users.txt").write_text('"postgres" ""\n')
    ini = d / "pgbouncer.ini"
    ini.write_text("[databases]\nmkpd = host=%s port=%d dbname=mkpd user=postgres\n"
                   "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\n"
                   "unix_socket_dir =\nauth_type = trust\nauth_file = %s\n"
                   "pool_mode = session\nmax_client_conn = 50\ndefault_pool_size = 20\n"
                   % (pg.host, pg.port, port, d / "users.txt"))
    proc = harness.spawn([pgbouncer, str(ini)], d / "pgbouncer.log", user=pg.user)
    try:
        wait_for(lambda: harness.listening("127.0.0.1:%d" % port), 20,
                 what="pgbouncer listening")
        s = make_stack(dsn="host=127.0.0.1 port=%d dbname=mkpd user=postgres" % port)
        for _ in range(5):
            order = harness.new_order()
            r = s.call("newInstance", {"orderId": order[0], "orderLineId": order[1],
                                       "businessId": order[0]})
            assert r.result_code in (OK, "000004"), (r.json, r.stderr)
            r = s.call("queryInstance", {"instanceId": r.json["instanceId"]})
            assert r.result_code in (OK, "000004"), (r.json, r.stderr)
        # Through pgbouncer: it saw mkpd's workers log in.
        assert re.search(r"login attempt: db=mkpd user=postgres",
                         (d / "pgbouncer.log").read_text())
        assert "prepared statement" not in s.mkpd.log()
    finally:
        harness.end_process(proc)


def test_two_hosts_primary_killed_standby_promoted(make_stack, private_pg, standby):
    """Two mkpd hosts on the multi-host dsn, each under load; the primary
    killed (as a crash), the synchronous standby promoted: both hosts
    answer 000000 again within seconds and no acknowledged call is lost."""
    dsn = multi_host_dsn(private_pg, standby)
    hosts = [ha_stack(make_stack, private_pg, dsn=dsn) for _ in range(2)]
    loads = [TimedLoad(s) for s in hosts]
    try:
        for load in loads:
            load.__enter__()
        for load in loads:
            load.wait_calls(6)
        private_pg.stop("immediate")
        killed_at = time.monotonic()
        standby.psql("SELECT pg_promote()", db="postgres")
        promoted_at = time.monotonic()
        for load in loads:
            load.wait_calls(6, timeout=60)
    finally:
        for load in loads:
            load.__exit__(None, None, None)
    for s, load in zip(hosts, loads):
        first_ok = min(t0 + d for t0, d, code in load.times
                       if code == OK and t0 + d >= promoted_at)
        print("\nkilled primary: promotion %.2f s after the kill; first 000000 %.2f s "
              "after the promotion" % (promoted_at - killed_at, first_ok - promoted_at))
        assert first_ok - promoted_at < 8
        assert load.unexpected() == []
        s.pg = standby
        check_answered_calls_are_stored(s, load)
        workers = s.mkpd.wait_workers(2, timeout=30)
        assert len([p for p in s.mkpd.children() if p not in workers]) == 2
    # Every call of both hosts has its audit row, once: those committed
    # asynchronously in the last instant before the crash (store/audit.c)
    # were still kept by their workers, who wrote them again.
    total = sum(len(load.calls) for load in loads)
    try:
        wait_for(lambda: audit_rows(hosts[0]) >= total, 30, interval=0.2,
                 what="every audit row")
    except AssertionError:
        pytest.fail("audit rows lost in the crash: %d of %d"
                    % (total - audit_rows(hosts[0]), total))
    assert audit_rows(hosts[0]) == total


def test_async_standby_failover_loss_is_reported(make_stack, private_pg, standby):
    """The same failover with asynchronous replication: mkpd warns at start
    that acknowledged calls may be lost, and the test reports (does not
    fail on) acknowledged instances missing after the promotion."""
    private_pg.psql("ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf()",
                    db="postgres")
    wait_for(lambda: private_pg.psql("SELECT sync_state FROM pg_stat_replication",
                                     db="postgres") == "async", 30, what="async replication")
    s = ha_stack(make_stack, private_pg, dsn=multi_host_dsn(private_pg, standby))
    s.mkpd.wait_log(r"warn: .*store: the dsn names several hosts but commits do not wait "
                    r"for a synchronous standby")
    with TimedLoad(s) as load:
        load.wait_calls(10)
        private_pg.stop("immediate")
        standby.psql("SELECT pg_promote()", db="postgres")
        promoted_at = time.monotonic()
        load.wait_calls(6, timeout=60)
    assert load.unexpected() == []
    first_ok = min(t0 + d for t0, d, code in load.times if code == OK and t0 + d >= promoted_at)
    assert first_ok - promoted_at < 8
    s.pg = standby
    acked = [r.json["instanceId"] for activity, fields, code, r in load.calls
             if activity == "newInstance" and code in (OK, "000004")]
    missing = int(q(s, "SELECT count(*) FROM (VALUES %s) v(i) WHERE NOT EXISTS "
                       "(SELECT 1 FROM instance WHERE instance_id = v.i)"
                    % ", ".join("('%s')" % i for i in acked)))
    print("\nasynchronous failover: %d of %d acknowledged newInstance lost"
          % (missing, len(acked)))


def test_audit_rows_of_answered_calls_survive_failover(make_stack, private_pg, standby):
    """Audit rows commit asynchronously (store/audit.c): the primary does
    not wait for their flush, nor for the synchronous standby. A worker
    keeps them until a later synchronous commit covers them, and puts them
    in its spool when the connection is lost first: a failover right after
    the calls loses none of their rows."""
    # The WAL writer flushes asynchronous commits every 10 s only: what no
    # synchronous commit covered has not reached the standby.
    private_pg.psql("ALTER SYSTEM SET wal_writer_delay = '10s'; "
                    "ALTER SYSTEM SET wal_writer_flush_after = '64MB'; "
                    "SELECT pg_reload_conf()", db="postgres")
    s = ha_stack(make_stack, private_pg, dsn=multi_host_dsn(private_pg, standby))
    iid = harness.create_instance(s)
    n = 6
    for _ in range(n):
        assert s.call("queryInstance", {"instanceId": iid}).result_code == OK
    rows = ("SELECT count(*) FROM callback_log WHERE activity = 'queryInstance' "
            "AND instance_id = '%s'" % iid)
    wait_for(lambda: q(s, rows) == str(n), 10, what="the audit rows on the primary")
    replicated = standby.psql(rows)
    private_pg.stop("immediate")
    standby.psql("SELECT pg_promote()", db="postgres")
    s.pg = standby
    print("\naudit rows on the standby at the failover: %s of %d" % (replicated, n))
    try:
        wait_for(lambda: q(s, rows) == str(n), 30, interval=0.2,
                 what="every answered call's audit row after the failover")
    except AssertionError:
        pytest.fail("audit rows of answered calls lost in the failover: %s of %d kept"
                    % (q(s, rows), n))
    assert not re.search(r"callback_log row dropped", s.mkpd.log())
    workers = s.mkpd.wait_workers(2, timeout=30)
    assert len([p for p in s.mkpd.children() if p not in workers]) == 2


# --- a primary behind a network that drops its packets ------------------------------

class NetnsPostgres(harness.Postgres):
    """A cluster run inside network namespace ns, listening on addr (the
    namespace's end of a veth pair), reachable from the host."""

    def __init__(self, base, ns, addr):
        super().__init__(base)
        self.ns = ns
        self.host = addr

    def init(self):
        super().init()
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("listen_addresses = '%s'\n" % self.host)
        with open(self.data / "pg_hba.conf", "a") as f:
            f.write("host all all 10.0.0.0/8 trust\nhost replication all 10.0.0.0/8 trust\n")

    def start(self, timeout=60):
        if not (self.data / "PG_VERSION").exists():
            self.init()
        self.proc = harness.spawn(["ip", "netns", "exec", self.ns, "setpriv",
                                   "--reuid=postgres", "--regid=postgres", "--init-groups",
                                   str(self.bindir / "postgres"), "-D", str(self.data)],
                                  self.logfile)
        wait_for(lambda: self._run_as_pg([str(self.bindir / "pg_isready"), "-q", "-h",
                                          self.host, "-p", str(self.port)]).returncode == 0,
                 timeout, what="PostgreSQL in %s" % self.ns)
        if self.psql("SELECT 1 FROM pg_database WHERE datname = '%s'" % self.dbname,
                     db="postgres") != "1":
            self.psql("CREATE DATABASE %s" % self.dbname, db="postgres")


def _ip(*argv, ns=None):
    pre = ["ip", "netns", "exec", ns] if ns else []
    return subprocess.run(pre + list(argv), capture_output=True, text=True)


@pytest.fixture
def netns_pg(build, session_dir, keys):
    """A primary in a network namespace of the test's own (a veth pair on
    a 10.x address), its database migrated; the namespace is removed
    afterwards whatever happened."""
    from conftest import migrated_database, unique_dir
    if os.geteuid() != 0 or not (shutil.which("ip") and shutil.which("nft")) \
            or not shutil.which("setpriv") or harness.pg_bindir() is None:
        pytest.skip("needs root, ip, nft, setpriv and PostgreSQL")
    tag = secrets.token_hex(3)
    ns, host_if, ns_if = "mkpt-" + tag, "mkh" + tag, "mkn" + tag
    net = "10.%d.%d" % (200 + secrets.randbelow(50), secrets.randbelow(256))
    if _ip("ip", "netns", "add", ns).returncode != 0:
        pytest.skip("cannot make a network namespace here")
    pg = None
    try:
        for argv in (("link", "add", host_if, "type", "veth", "peer", "name", ns_if),
                     ("link", "set", ns_if, "netns", ns),
                     ("addr", "add", net + ".1/30", "dev", host_if),
                     ("link", "set", host_if, "up")):
            r = _ip("ip", *argv)
            assert r.returncode == 0, (argv, r.stderr)
        for argv in (("addr", "add", net + ".2/30", "dev", ns_if),
                     ("link", "set", ns_if, "up"), ("link", "set", "lo", "up")):
            r = _ip("ip", *argv, ns=ns)
            assert r.returncode == 0, (argv, r.stderr)
        pg = NetnsPostgres(unique_dir(session_dir, "netns") / "pg", ns, net + ".2")
        pg.start()
        pg.psql("ALTER SYSTEM SET synchronous_commit = on; SELECT pg_reload_conf()",
                db="postgres")
        migrated_database(build, pg, session_dir, keys, pg.dsn)
        yield pg
    finally:
        if pg is not None:
            pg.stop("immediate")
        _ip("ip", "netns", "del", ns)
        _ip("ip", "link", "del", host_if)
        assert ns not in _ip("ip", "netns", "list").stdout


def test_primary_behind_dropped_packets(make_stack, netns_pg, session_dir):
    """Every packet to the primary dropped (nftables in its namespace): the
    calls answer 000005 within the bound, and 000000 once the standby is
    promoted, without waiting for the old primary."""
    from conftest import unique_dir
    from test_failover import make_standby, replication
    sb = harness.Postgres(unique_dir(session_dir, "netns-standby") / "pg")
    try:
        make_standby(sb, netns_pg)
        replication(netns_pg, "sync")
        s = ha_stack(make_stack, netns_pg, dsn=multi_host_dsn(netns_pg, sb))
        with TimedLoad(s) as load:
            load.wait_calls(6)
            r = _ip("nft", "add table inet mkpt; add chain inet mkpt in { type filter hook "
                    "input priority 0; policy accept; }; add rule inet mkpt in tcp dport "
                    "%d drop" % netns_pg.port, ns=netns_pg.ns)
            assert r.returncode == 0, r.stderr
            dropped_at = time.monotonic()
            load.wait_calls(2, code=RETRY, timeout=60)
            sb.psql("SELECT pg_promote()", db="postgres")
            promoted_at = time.monotonic()
            load.wait_calls(6, timeout=60)
        assert load.unexpected() == []
        first_ok = min(t0 + d for t0, d, code in load.times
                       if code == OK and t0 >= promoted_at)
        during = [(round(d, 2), code, t0 + d < promoted_at) for t0, d, code in load.times
                  if dropped_at <= t0 < promoted_at]
        print("\ndropped packets: %d calls before the promotion, longest %.2f s; first "
              "000000 %.2f s after the promotion" % (len(during), max(c[0] for c in during),
                                                    first_ok - promoted_at))
        # Within the bound, and 000005 unless it ended after the promotion.
        assert all(d <= HUNG_CALL_MAX_S and (code == RETRY or not before)
                   for d, code, before in during), during
        assert first_ok - promoted_at < 10, first_ok - promoted_at
        assert all(d <= HUNG_CALL_MAX_S * 2 for t0, d, code in load.times
                   if t0 >= dropped_at), [round(d, 2) for t0, d, c in load.times]
        s.pg = sb
        check_answered_calls_are_stored(s, load)
        workers = s.mkpd.wait_workers(2, timeout=30)
        assert len([p for p in s.mkpd.children() if p not in workers]) == 2
    finally:
        sb.stop("immediate")

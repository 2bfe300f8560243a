"""Failover under load (issue 17, doc/operations.md "High availability",
figures in doc/proof.md): a primary and a streaming standby on loopback,
two mkpd hosts on the multi-host dsn behind one nginx upstream, V2 calls,
Kit calls and usage ingest going on, and then, one after the other:

1. the primary restarted;
2. the primary killed (a crash), the synchronous standby promoted;
3. the primary hung (its processes frozen, as a host that stops
   answering), the standby promoted without waiting for it;
4. the primary killed with asynchronous replication: what is lost is
   reported, not failed.

Between phases the old primary comes back as the new one's standby
(pg_basebackup), so the one pair of clusters serves every phase. At the
end, for everything acknowledged before phase 4: every call answered
000000 (000004) is in the store, every accepted usage event and Kit change
too, every call has its audit row, no instance is stuck in provisioning,
every closed usage hour reached the marketplace once with its sum; the
pools are whole and stop clean."""

import datetime
import hashlib
import hmac
import json
import os
import shutil
import signal
import threading
import time
import uuid

import pytest

import harness
from harness import wait_for
from test_faults import (OK, BUSY, RETRY, Load, check_answered_calls_are_stored,  # noqa: F401
                         check_no_stuck_provisioning, check_pool_whole, check_stopped_clean, q)
from test_store_ha import HUNG_CALL_MAX_S, TimedLoad, cluster_pids, freeze

TOKEN = "usage-token-for-failover-tests"
USAGE_KEY = "usage-key-for-failover-tests"
METERED = ["i-fo-%d" % n for n in range(3)]


# --- the pair of clusters ---------------------------------------------------------

def make_standby(sb, primary):
    """sb (a harness.Postgres, stopped) made a streaming standby of primary:
    its data directory replaced by pg_basebackup's copy, its own port."""
    if sb.data.exists():
        shutil.rmtree(sb.data)
    sb.base.mkdir(parents=True, exist_ok=True)
    sb.sockdir.mkdir(exist_ok=True)
    for p in (sb.base, sb.sockdir):
        harness.chown(p, sb.user)
    r = sb._run_as_pg([str(sb.bindir / "pg_basebackup"), "-h", primary.host,
                       "-p", str(primary.port), "-U", "postgres", "-D", str(sb.data),
                       "-R", "-X", "stream", "-c", "fast", "--no-sync"])
    assert r.returncode == 0, r.stdout + r.stderr
    with open(sb.data / "postgresql.conf", "a") as f:
        f.write("\n# the standby's own\nlisten_addresses = '%s'\nport = %d\n"
                "unix_socket_directories = '%s'\n" % (sb.host, sb.port, sb.sockdir))
    sb.start()


def replication(primary, mode):
    """Sets the primary's commits to wait for its standby (mode "sync") or
    not ("async"), and waits until pg_stat_replication says so."""
    if mode == "sync":
        primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'; "
                     "SELECT pg_reload_conf()", db="postgres")
    else:
        primary.psql("ALTER SYSTEM RESET synchronous_standby_names; "
                     "SELECT pg_reload_conf()", db="postgres")
    wait_for(lambda: primary.psql("SELECT sync_state FROM pg_stat_replication",
                                  db="postgres") == mode, 30,
             what="the standby streaming, %s" % mode)


@pytest.fixture(scope="module")
def pair(build, session_dir, keys):
    """[primary, standby]: a cluster of this module's own, its database
    migrated and commits durable (synchronous_commit = on), and a
    synchronous streaming standby of it."""
    from conftest import migrated_database, unique_dir
    if harness.pg_bindir() is None:
        pytest.skip("no PostgreSQL server installed")
    primary = harness.Postgres(unique_dir(session_dir, "failover-a") / "pg")
    primary.start()
    primary.psql("ALTER SYSTEM SET synchronous_commit = on; SELECT pg_reload_conf()",
                 db="postgres")
    migrated_database(build, primary, session_dir, keys, primary.dsn)
    standby = harness.Postgres(unique_dir(session_dir, "failover-b") / "pg")
    made = [primary, standby]
    try:
        make_standby(standby, primary)
        replication(primary, "sync")
        yield made
    finally:
        for pg in made:
            if pg.proc is not None:
                try:
                    os.kill(pg.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            pg.stop("immediate")


# --- two hosts behind one upstream --------------------------------------------------

def two_hosts(make_stack, pair, sim, session_dir):
    """Two mkpd hosts on the multi-host dsn (one master key: the sealed
    secrets are the store's), one nginx whose upstream names both."""
    from conftest import unique_dir
    a, b = pair
    dsn = ("host=%s,%s port=%d,%d dbname=%s user=postgres target_session_attrs=read-write"
           % (a.host, b.host, a.port, b.port, a.dbname))
    conf = {"pool": {"pm": "static", "max_children": 2},
            "jobs": {"purge_interval": 0, "backoff_base": 1, "backoff_max": 1,
                     "max_attempts": 100, "poll_interval": 200, "lease": 5},
            "usage": {"token": TOKEN, "push_interval": 2, "usage_key": USAGE_KEY},
            "marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "", "ak": sim.ak,
                            "sk": sim.sk, "connect_timeout": 1000, "timeout": 2000}}
    hosts = [make_stack(conf, pg=a, dsn=dsn, start=False) for _ in range(2)]
    hosts[1].mkpd.master_key.write_bytes(hosts[0].mkpd.master_key.read_bytes())
    for h in hosts:
        h.mkpd.start()
    front = harness.make_front("nginx", unique_dir(session_dir, "failover-nginx"),
                               hosts[0].mkpd.listen_addr())
    path = front.dir / "mkpd.conf"
    one = "server unix:%s;" % hosts[0].mkpd.listen_addr()
    text = path.read_text()
    assert one in text, text
    path.write_text(text.replace(one, one + "\n\tserver unix:%s;"
                                 % hosts[1].mkpd.listen_addr()))
    for h in hosts:
        h.front = front		# stopped with the stacks
    front.start()
    return hosts


# --- Kit and usage callers ----------------------------------------------------------

class Caller:
    """A thread making one kind of call until stopped; .calls keeps
    (monotonic start, seconds, ok, key) per call, key what an acknowledged
    call must have stored."""

    def __init__(self, s):
        self.s = s
        self.calls = []
        self.stop_evt = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.n = 0

    def run(self):
        while not self.stop_evt.is_set():
            self.n += 1
            t0 = time.monotonic()
            try:
                ok, key = self.one()
            except (OSError, ValueError):
                ok, key = False, None
            self.calls.append((t0, time.monotonic() - t0, ok, key))
            self.stop_evt.wait(0.05)	# a steady trickle, not a flood

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_evt.set()
        self.thread.join(120)
        assert not self.thread.is_alive(), "the caller did not stop"

    def acked(self, before=None):
        return [k for t0, d, ok, k in self.calls if ok and (before is None or t0 < before)]

    def wait_ok(self, n, timeout=60):
        base = len(self.acked())
        wait_for(lambda: len(self.acked()) >= base + n, timeout,
                 what="%d more acknowledged %s calls" % (n, type(self).__name__))


class KitCaller(Caller):
    """tenantSync adds of new tenants (V2 Kit signature)."""

    def one(self):
        key = self.s.keys["kit"]
        tenant = "T" + uuid.uuid4().hex
        body = {"instanceId": "inst-fo", "orderId": "CS1906666666ABCDE", "tenantId": tenant,
                "tenantCode": "fo", "name": "Failover", "domainName": "https://fo.example.com",
                "flag": 1, "testFlag": 0,
                "timeStamp": datetime.datetime.now().strftime("%Y%m%d%H%M%S%f")[:17]}
        ts, nonce = str(int(time.time() * 1000)), uuid.uuid4().hex.upper()
        payload = json.dumps({k: body[k] for k in sorted(body)}, separators=(",", ":"))
        sig = hmac.new(key.encode(), (key + nonce + ts + payload).encode(),
                       hashlib.sha256).hexdigest().upper()
        status, _, out = self.s.http("POST", "/produceAPI/v2/tenantSync",
                                     json.dumps(body).encode(),
                                     {"Content-Type": "application/json", "x-sign": sig,
                                      "x-timestamp": ts, "x-nonce": nonce}, timeout=30)
        code = json.loads(out)["resultCode"] if status == 200 else None
        assert code in (OK, RETRY, None), (status, out)
        return code == OK, tenant


def past_hour_time(hours_ago, minute):
    now = datetime.datetime.now(datetime.timezone.utc)
    t = now.replace(minute=minute, second=0, microsecond=0) - \
        datetime.timedelta(hours=hours_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class UsageCaller(Caller):
    """POST /-/usage, one event a call, for the last closed hour of one of
    the metered instances (a push may have closed it: then the event is
    booked into the open hour, never dropped)."""

    def one(self):
        ev = {"id": "fo-%s" % uuid.uuid4().hex, "instanceId": METERED[self.n % len(METERED)],
              "value": "0.5", "time": past_hour_time(1, self.n % 60)}
        status, _, out = self.s.http("POST", "/-/usage", json.dumps({"events": [ev]}).encode(),
                                     {"Content-Type": "application/json",
                                      "Authorization": "Bearer " + TOKEN}, timeout=30)
        assert status in (200, 503, 502, 504), (status, out)
        return status == 200 and json.loads(out)["accepted"] == 1, ev["id"]


# --- the test ------------------------------------------------------------------------

class Phase:
    """What one phase measured: from its event (restart, kill, freeze) to
    the first 000000 of every V2 load after the store came back."""

    def __init__(self, name, loads):
        self.name = name
        self.loads = loads
        self.at = time.monotonic()
        self.marks = {}

    def mark(self, what):
        self.marks[what] = time.monotonic() - self.at

    def recovered(self, since, timeout=60):
        for load in self.loads:
            load.wait_calls(2, timeout=timeout)
        back = max(min(t0 + d for t0, d, code in load.times if code == OK and t0 >= since)
                   for load in self.loads)
        self.mark("back")
        self.first_ok = back - since
        during = [d for load in self.loads for t0, d, code in load.times if t0 >= self.at]
        self.longest = max(during)
        self.retries = sum(1 for load in self.loads for t0, d, code in load.times
                           if t0 + d >= self.at and code == RETRY)

    def line(self):
        return ("%-28s %s; first 000000 of every host %.2f s after it; longest call "
                "%.2f s; %d answers 000005"
                % (self.name, ", ".join("%s at %.2f s" % kv for kv in self.marks.items()
                                        if kv[0] != "back"),
                   self.first_ok, self.longest, self.retries))


class Calls:
    """The calls of several loads, as check_answered_calls_are_stored takes them."""

    def __init__(self, calls):
        self.calls = calls


def test_failover_under_load(make_stack, make_sim_server, pair, session_dir):
    sim = make_sim_server(args=["--usage-key", USAGE_KEY])
    hosts = two_hosts(make_stack, pair, sim, session_dir)
    a = hosts[0]
    q(a, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id, "
         "charging_mode, state) VALUES %s"
         % ", ".join("('%s', 'o-%s', 'l-%s', 'b', 'ON_DEMAND', 'active')" % (i, i, i)
                     for i in METERED))
    # Debug calls (testFlag): provisioning leaves the order API alone.
    loads = [TimedLoad(h, args=["--test"]) for h in hosts]
    kit, usage = KitCaller(a), UsageCaller(a)
    phases = []
    primary, standby = pair

    def promote(old, new):
        new.psql("SELECT pg_promote()", db="postgres")
        for h in hosts:
            h.pg = new
        return new, old

    with loads[0], loads[1], kit, usage:
        for load in loads:
            load.wait_calls(4)
        kit.wait_ok(2)
        usage.wait_ok(2)

        # 1. Restarted (fast shutdown, then up again).
        p = Phase("primary restarted", loads)
        primary.stop("fast")
        p.mark("stopped")
        primary.start()
        p.mark("up")
        p.recovered(p.at)
        phases.append(p)

        # 2. Killed, the synchronous standby promoted.
        p = Phase("killed, standby promoted", loads)
        primary.stop("immediate")
        primary, standby = promote(primary, standby)
        p.mark("promoted")
        p.recovered(p.at)
        phases.append(p)
        make_standby(standby, primary)
        replication(primary, "sync")
        kit.wait_ok(1)
        usage.wait_ok(1)

        # 3. Hung: the calls answer 000005 within the bound; promoted
        # without waiting for the frozen one, which is then killed (it
        # must never serve again).
        p = Phase("hung, standby promoted", loads)
        frozen = cluster_pids(primary)
        freeze(frozen, signal.SIGSTOP)
        try:
            for load in loads:
                load.wait_calls(1, code=RETRY, timeout=60)
            p.mark("every host answered 000005")
            primary, standby = promote(primary, standby)
            p.mark("promoted")
            p.recovered(p.at + p.marks["promoted"])
        finally:
            freeze(frozen, signal.SIGKILL)
            freeze(frozen, signal.SIGCONT)
        standby.proc.wait(30)
        standby.proc = None
        phases.append(p)
        make_standby(standby, primary)
        kit.wait_ok(1)
        usage.wait_ok(1)

        # 4. Asynchronous replication: killed, promoted; only V2 calls go on.
        kit.__exit__(None, None, None)
        usage.__exit__(None, None, None)
        replication(primary, "async")
        async_from = time.monotonic()
        p = Phase("async: killed, promoted", loads)
        primary.stop("immediate")
        primary, standby = promote(primary, standby)
        p.mark("promoted")
        p.recovered(p.at)
        phases.append(p)

    print("\nfailover phases (two hosts of 2 workers, one nginx upstream):")
    for p in phases:
        print("  " + p.line())
    for load in loads:
        assert load.unexpected() == []
    # Within the bound while the primary hung (phase 3): no call waits
    # for an answer that does not come.
    hung = phases[2]
    assert all(d <= HUNG_CALL_MAX_S * 2 for load in loads for t0, d, code in load.times
               if hung.at <= t0 < hung.at + hung.marks["promoted"]), hung.line()

    # What was acknowledged before phase 4 is on the promoted standby.
    sync = Calls([c for load in loads for c, (t0, _, _) in zip(load.calls, load.times)
                  if t0 < async_from])
    check_answered_calls_are_stored(a, sync)
    tenants = kit.acked()
    missing = q(a, "SELECT string_agg(v.t, ' ') FROM (VALUES %s) v(t) WHERE NOT EXISTS "
                   "(SELECT 1 FROM tenant WHERE tenant_id = v.t)"
                % ", ".join("('%s')" % t for t in tenants))
    assert missing == "", "Kit changes acknowledged and lost: " + missing
    events = usage.acked()
    missing = q(a, "SELECT string_agg(v.e, ' ') FROM (VALUES %s) v(e) WHERE NOT EXISTS "
                   "(SELECT 1 FROM usage_event WHERE event_id = v.e)"
                % ", ".join("('%s')" % e for e in events))
    assert missing == "", "usage events acknowledged and lost: " + missing
    # Every answered V2 call has its audit row (those of phase 4 but for
    # what asynchronous replication lost).
    answered = [f["orderId"] for act, f, code, r in sync.calls
                if code is not None and act in ("newInstance", "refreshInstance")]
    no_row = ("SELECT coalesce(string_agg(v.o, ' '), '') FROM (VALUES %s) v(o) WHERE NOT "
              "EXISTS (SELECT 1 FROM callback_log WHERE order_id = v.o)"
              % ", ".join("('%s')" % o for o in answered))
    # (Rows of calls answered while the store was away come from the spool.)
    try:
        wait_for(lambda: q(a, no_row) == "", 30, interval=0.5, what="every audit row")
    except AssertionError:
        pytest.fail("answered calls without an audit row: " + q(a, no_row))
    # The asynchronous phase: reported, not failed.
    acked = [r.json["instanceId"] for load in loads
             for (act, f, code, r), (t0, _, _) in zip(load.calls, load.times)
             if t0 >= async_from and act == "newInstance" and code in (OK, BUSY)]
    lost = int(q(a, "SELECT count(*) FROM (VALUES %s) v(i) WHERE NOT EXISTS "
                    "(SELECT 1 FROM instance WHERE instance_id = v.i)"
                 % ", ".join("('%s')" % i for i in acked))) if acked else 0
    print("  asynchronous replication: %d of %d acknowledged newInstance lost"
          % (lost, len(acked)))

    check_no_stuck_provisioning(a)
    # Every closed hour of usage reaches the marketplace once, with its sum.
    wait_for(lambda: q(a, "SELECT count(*) FROM usage_record WHERE state <> 'delivered' "
                          "AND window_begin < date_trunc('hour', now())") == "0", 60,
             what="every closed hour of usage delivered")
    got = sim._control("GET", "usage")
    pushed = {}
    for r in got["records"]:
        key = (r["instance_id"], r["begin_time"])
        assert key not in pushed, ("an hour pushed twice", r, got)
        pushed[key] = float(r["usage_value"])
    rows = q(a, "SELECT instance_id, to_char(window_begin AT TIME ZONE 'UTC', "
                "'YYYYMMDD\"T\"HH24MISS\"Z\"'), value FROM usage_record WHERE state = "
                "'delivered'")
    stored = {(i, b): float(v) for i, b, v in (r.split("|") for r in rows.splitlines())}
    assert stored and pushed == stored, (pushed, stored)
    print("  usage: %d events acknowledged, %d hours pushed, %d resent (duplicates)"
          % (len(events), len(pushed), sum(r["duplicates"] for r in got["records"])))
    for h in hosts:
        check_pool_whole(h, 2)
    for h in hosts:
        check_stopped_clean(h)

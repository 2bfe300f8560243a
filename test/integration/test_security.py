"""Security checks (issue 8, doc/proof.md): no secret in any log a run
wrote, secrets at rest refused when others may read them, workers
unprivileged, requests bounded in size, count and time. (SQL only through
literals with parameters is scripts/check-sql, run by make check; its own
test is here.)"""

import json
import pwd
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import harness
import test_kit as kit
import test_v1_basic as v1b
from harness import wait_for

USAGE_TOKEN = "usage-token-" + uuid.uuid4().hex
USAGE_KEY = "usage-key-" + uuid.uuid4().hex
HOOK_PASSWORD = "Hook-Pass-" + uuid.uuid4().hex[:12]


def q(s, sql):
    return s.pg.psql(sql, db=re.search(r"dbname=(\S+)", s.dsn).group(1))


def log_files(*dirs):
    """Every log-like file under dirs: what the stack and mkp-sim wrote."""
    out = []
    for d in dirs:
        for p in Path(d).rglob("*"):
            if p.is_file() and (p.suffix in (".log", ".out") or p.name == "error.log"):
                out.append(p)
    return out


def test_no_secret_in_any_log(make_stack, make_sim_server, workdir, pg):
    sim = make_sim_server(args=["--usage-key", USAGE_KEY])
    hook = workdir / "hook"
    hook.write_text("#!/bin/sh\ncat >/dev/null\necho '{\"frontEndUrl\":\"https://s.example/x\","
                    "\"userName\":\"u\",\"password\":\"%s\"}'\n" % HOOK_PASSWORD)
    hook.chmod(0o755)
    s = make_stack({
        "kit": {"private_key_file": kit.KEYFILE},
        "usage": {"token": USAGE_TOKEN, "push_interval": 0, "usage_key": USAGE_KEY},
        "marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "", "ak": sim.ak,
                        "sk": sim.sk, "connect_timeout": 1000, "timeout": 2000},
        "app": {"hook": str(hook), "encrypt_app_info": True},
        "jobs": {"backoff_base": 1, "backoff_max": 1, "purge_interval": 0},
    }, fresh_db=True)
    # V2: a purchase provisioned through the marketplace's order API and
    # the hook, queried back (the password goes out encrypted).
    r = s.call("newInstance", {"orderId": "MOCKONDEMAND", "orderLineId": "MOCKONDEMAND-000001",
                               "businessId": str(uuid.uuid4())})
    assert r.result_code == "000004", r
    iid = r.json["instanceId"]
    wait_for(lambda: s.call("queryInstance", {"instanceId": iid}).result_code == "000000",
             30, what="provisioned")
    # V1 basic.
    ans = v1b.v1_get(s, "newInstance", v1b.new_fields())
    assert ans["resultCode"] in ("000000", "000004"), ans
    # Kit V2 with an encrypted clientSecret, and the V1 Kit dialect.
    t = kit.new_tenant()
    client_secret = "client-secret-" + uuid.uuid4().hex
    kit.ok(s, "tenantSync", kit.tenant_body(t, 1))
    kit.ok(s, "applicationSync", kit.app_body(t, 1, kit.encrypt(client_secret)))
    t1 = kit.new_tenant()
    kit.v1_call(s, "tenantSync", kit.tenant_body(t1, 1))
    sealed = q(s, "SELECT client_secret FROM app WHERE tenant_id = '%s'" % t)
    assert sealed.startswith("s1:")
    # Usage in, and pushed to the marketplace.
    hour = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 3600))
    status, _, out = s.http("POST", "/-/usage", json.dumps({"events": [
        {"id": "sec-1", "instanceId": iid, "value": "1", "time": hour}]}).encode(),
        {"Content-Type": "application/json", "Authorization": "Bearer " + USAGE_TOKEN})
    assert status == 200 and json.loads(out)["accepted"] == 1, out
    q(s, "INSERT INTO job (kind) VALUES ('usage_push')")
    wait_for(lambda: q(s, "SELECT state FROM usage_record WHERE instance_id = '%s'" % iid)
             == "delivered", 30, what="usage delivered")
    # mkpctl, whose output is no log but reads the same config.
    s.mkpd.mkpctl("jobs")
    s.stop()
    sim.stop()

    secrets = {
        "basic_key": s.keys["basic"], "kit_key": s.keys["kit"], "v1_key": s.keys["v1"],
        "marketplace sk": sim.sk, "usage token": USAGE_TOKEN, "usage key": USAGE_KEY,
        "master key": s.mkpd.master_key.read_text().strip(),
        "clientSecret": client_secret, "sealed clientSecret": sealed[3:],
        "hook password": HOOK_PASSWORD,
    }
    files = log_files(s.dir, sim.dir) + [pg.logfile]
    names = {p.name for p in files}
    for must in ("mkpd.log", "mkpd.out", "error.log", "access.log", "mkp-sim-serve.log",
                 "postgresql.log"):
        assert must in names, (must, names)
    assert "usage: pushed 1 record" in s.mkpd.log()
    for p in files:
        text = p.read_text(errors="replace")
        for what, value in secrets.items():
            assert value not in text, "%s found in %s" % (what, p)


# --- secrets at rest ------------------------------------------------------------

def test_config_readable_by_others_is_refused(make_stack):
    s = make_stack(start=False)
    conf = s.mkpd.conf_path
    conf.chmod(0o644)
    r = s.mkpd.check_config()
    assert r.returncode != 0
    assert "lets other users read the secret [keys] basic_key; chmod o-rwx it" in r.stderr, \
        r.stderr
    assert s.keys["basic"] not in r.stdout + r.stderr
    r = s.mkpd.mkpctl("migrate")
    assert r.returncode != 0 and "chmod o-rwx" in r.stderr, r.stderr
    p = subprocess.run([str(s.mkpd.bin), "-c", str(conf)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode != 0 and "chmod o-rwx" in p.stderr, p.stderr
    # Group-readable is the admin's choice (a group of operators).
    conf.chmod(0o640)
    assert s.mkpd.check_config().returncode == 0


def test_master_key_readable_by_others_is_refused(make_stack):
    s = make_stack(start=False)
    s.mkpd.master_key.chmod(0o644)
    s.mkpd.start(wait=False)
    wait_for(lambda: not s.mkpd.running() or
             "chmod 600" in s.mkpd.log() + s.mkpd.output(), 30,
             what="the master key refused")
    assert "grants group/other access; chmod 600 it" in s.mkpd.log() + s.mkpd.output()
    # No worker ever serves with it.
    r = s.mkpd.stop()
    assert r is not None
    s.mkpd.master_key.chmod(0o600)


# --- privileges -------------------------------------------------------------------

@pytest.mark.skipif(not harness.IS_ROOT, reason="needs root to drop privileges")
def test_workers_and_jobs_child_run_unprivileged(fresh_stack):
    s = fresh_stack
    nobody = pwd.getpwnam(harness.RUN_USER)
    workers = s.mkpd.wait_workers(2)
    kids = s.mkpd.children()
    assert len(kids) == 3, kids		# two workers and the jobs child
    for pid in kids:
        status = harness.read_text("/proc/%d/status" % pid)
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
        groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
        assert uids == [str(nobody.pw_uid)] * 4, (pid, uids)
        assert gids == [str(nobody.pw_gid)] * 4, (pid, gids)
        assert groups in ([], [str(nobody.pw_gid)]), (pid, groups)
        caps = re.search(r"^CapEff:\s+(\S+)$", status, re.M).group(1)
        assert int(caps, 16) == 0, (pid, caps)
    assert set(workers) < set(kids)


# --- limits -------------------------------------------------------------------------

def test_oversize_bodies_are_answered_and_nothing_breaks(make_stack):
    s = make_stack({"mkpd": {"max_body": 4096},
                    "kit": {"private_key_file": kit.KEYFILE},
                    "usage": {"token": USAGE_TOKEN}})
    workers = s.mkpd.wait_workers(2)
    pad = "x" * 8000
    r = s.call("queryInstance", {"instanceId": "i", "padding": pad})
    assert r.result_code == "000002" and "larger than 4096" in r.json["resultMsg"], r
    assert r.body_sign == "ok"
    ans = kit.kit_call(s, "tenantSync", dict(kit.tenant_body(kit.new_tenant(), 1), name=pad))
    assert ans["resultCode"] == "000002", ans
    status, _, out = s.http("POST", "/-/usage", json.dumps({"events": [], "pad": pad}),
                            {"Authorization": "Bearer " + USAGE_TOKEN})
    assert status == 413, out
    # Beyond the web server's own limit (16m): nginx refuses before mkpd;
    # Apache passes the request on while it reads the body, and mkpd refuses
    # the announced length (test_fronts.py).
    big = b"{" + b" " * (17 << 20) + b"}"
    status, _, out = s.http("POST", "/", big, {"Content-Type": "application/json"})
    if s.front.KIND == "nginx":
        assert status == 413
    else:
        assert status == 413 or json.loads(out)["resultCode"] == "000002", (status, out)
    # No worker died on any of it.
    assert sorted(s.mkpd.worker_pids()) == sorted(workers)
    assert "died of signal" not in s.mkpd.log()
    # Too many events in one usage call (with room for them in the body).
    many = [{"id": "m%d" % i, "instanceId": "i", "value": "1", "time": "2026-01-01T00:00:00Z"}
            for i in range(10001)]
    s.mkpd.reload({"mkpd": {"max_body": 4 << 20}})

    def refused():
        status, _, out = s.http("POST", "/-/usage", json.dumps({"events": many}),
                                {"Authorization": "Bearer " + USAGE_TOKEN})
        return status == 413 and b"more than 10000 events" in out
    wait_for(refused, 30, what="10001 events refused as too many")
    o = "CS" + uuid.uuid4().hex[:16].upper()
    assert s.call("newInstance", {"orderId": o, "orderLineId": o + "-1",
                                  "businessId": "b"}).result_code == "000000"


def test_a_call_waiting_on_the_store_is_cut_by_statement_timeout(make_stack):
    s = make_stack({"store": {"statement_timeout": 1000}}, fresh_db=True)
    o = "CS" + uuid.uuid4().hex[:16].upper()
    r = s.call("newInstance", {"orderId": o, "orderLineId": o + "-1", "businessId": "b"})
    iid = r.json["instanceId"]
    db = re.search(r"dbname=(\S+)", s.dsn).group(1)
    holder = subprocess.Popen(
        [str(s.pg.bindir / "psql"), "-X", "-q", "-h", s.pg.host, "-p", str(s.pg.port),
         "-U", "postgres", "-d", db, "-c",
         "BEGIN; SELECT 1 FROM instance WHERE instance_id = '%s' FOR UPDATE; "
         "SELECT pg_sleep(20); COMMIT;" % iid],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    holder_sql = ("FROM pg_stat_activity WHERE query LIKE '%%pg_sleep(20)%%' "
                  "AND pid <> pg_backend_pid()")
    try:
        wait_for(lambda: q(s, "SELECT count(*) " + holder_sql) == "1", 10,
                 what="the lock holder")
        t0 = time.monotonic()
        r = s.call("updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"})
        took = time.monotonic() - t0
        assert r.result_code == "000005", r
        assert took < 7, took
        # The statement was cancelled, not left waiting for the lock: while
        # the holder still holds it, nobody waits on a lock.
        assert q(s, "SELECT count(*) " + holder_sql) == "1", "the holder ended too soon"
        assert q(s, "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND "
                    "wait_event_type = 'Lock'" % db) == "0"
    finally:
        # Ended now rather than waited out.
        q(s, "SELECT pg_terminate_backend(pid) " + holder_sql)
        holder.wait(30)
    assert q(s, "SELECT state FROM instance WHERE instance_id = '%s'" % iid) == "active"


# --- SQL only as literals ---------------------------------------------------------------

def test_check_sql_passes_on_the_tree_and_catches_built_sql(tmp_path):
    script = harness.ROOT / "scripts/check-sql"
    r = subprocess.run([str(script), str(harness.ROOT / "src")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    bad = tmp_path / "src"
    bad.mkdir()
    (bad / "bad.c").write_text(r'''
static void
f(PGconn *c, const char *id, struct buf *b)
{
	char q[200];

	snprintf(q, sizeof(q), "SELECT * FROM instance WHERE id = '%s'", id);
	PQexec(c, q);
	buf_printf(b, "DELETE FROM job WHERE id = %s", id);
	PQexecParams(c, "SELECT 1 FROM t WHERE a = $1", 1, NULL, &id, NULL, NULL, 0);
	PQexec(c, "LISTEN " CHANNEL);
}
''')
    r = subprocess.run([str(script), str(bad)], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout
    lines = [x for x in r.stdout.splitlines() if x.startswith("check-sql: bad.c:")]
    assert [x.split(":")[2] for x in lines] == ["7", "8", "9"], r.stdout

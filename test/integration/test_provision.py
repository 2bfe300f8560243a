"""Provisioning in the background: newInstance answers 000004, the jobs
child reads the order from the marketplace (mkp-sim serve, which checks
every APIG signature), runs the seller's hook and makes the instance
active; failures are retried and end in a failed instance with the
reason. Later changes reach the hook too, and upgrade and renewal orders
are read and applied. Each test has its own marketplace and mkpd."""

import json
import os
import re
import signal
import uuid

from harness import wait_for


def write_hook(path, body):
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def runs_file(workdir, name="runs"):
    f = workdir / name
    f.write_text("")
    f.chmod(0o666)		# the jobs child runs unprivileged
    return f


def gate(workdir):
    """(shell line, path): the line waits, in a hook, until the test
    creates path (at most 20 s), so that what the test does lands while
    the hook runs, without a fixed sleep."""
    path = workdir / "gate"
    return ("i=0; while [ ! -e %s ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done"
            % path), path


def stack_for(make_stack, sim, hook, **jobs):
    conf = {
        "marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "", "ak": sim.ak,
                        "sk": sim.sk, "connect_timeout": 1000, "timeout": 2000},
        "app": {"hook": hook, "hook_timeout": 3000},
        "jobs": dict({"backoff_base": 1, "backoff_max": 1, "max_attempts": 3,
                      "lease": 4, "purge_interval": 0}, **jobs),
    }
    # A database of its own: the MOCK order ids are the same in every test.
    return make_stack(conf, fresh_db=True)


def q(s, sql):
    """psql in this stack's own database."""
    return s.pg.psql(sql, db=re.search(r"dbname=(\S+)", s.dsn).group(1))


def buy(s, order, test=False):
    code, ans, err = s.call("newInstance", {"orderId": order, "orderLineId": order + "-000001",
                                            "businessId": str(uuid.uuid4())},
                            args=["--test"] if test else [])
    assert code == 0, err
    assert ans["resultCode"] == "000004", ans
    return ans["instanceId"]


def query(s, iid, test=False):
    return s.call("queryInstance", {"instanceId": iid}, args=["--test"] if test else [])[1]


def ready(s, iid, test=False):
    return wait_for(lambda: (lambda a: a if a["resultCode"] != "000004" else None)(
        query(s, iid, test)), 30, what="instance %s provisioned" % iid)


def order_queries(sim):
    return [c for c in sim.calls() if c["path"].endswith("/order/query")]


def test_order_read_then_hook_then_app_info(make_stack, make_sim_server, workdir):
    sim = make_sim_server()
    docs = runs_file(workdir, "docs")
    hook = write_hook(workdir / "hook", """cat >> %s
echo '{"frontEndUrl":"https://seller.example/t/1","userName":"hookuser","password":"Hook-Pass-123"}'
""" % docs)
    s = stack_for(make_stack, sim, hook)
    iid = buy(s, "MOCKPERIODYEARNEW")
    ans = ready(s, iid)
    assert ans["resultCode"] == "000000", ans
    app = ans["info"][0]["appInfo"]
    assert app == {"frontEndUrl": "https://seller.example/t/1", "userName": "hookuser",
                   "password": "Hook-Pass-123"}
    # The order was read once, correctly signed, for this order line.
    calls = order_queries(sim)
    assert len(calls) == 1 and calls[0]["verdict"] == "ok", calls
    assert "orderId=MOCKPERIODYEARNEW" in calls[0]["query"]
    # The hook read the instance, the order and the buyer.
    doc = json.loads(docs.read_text().splitlines()[0])
    assert doc["event"] == "create" and doc["instance"]["instanceId"] == iid
    assert doc["order"]["orderId"] == "MOCKPERIODYEARNEW"
    assert doc["order"]["orderLine"][0]["chargingMode"] == "PERIOD"
    row = q(s, "SELECT state, charging_mode, to_char(expire_at, 'YYYYMMDD'), "
                    "order_info IS NOT NULL FROM instance WHERE instance_id = '%s'" % iid)
    assert row == "active|PERIOD|20251121|t"
    assert q(s, "SELECT string_agg(kind, ',' ORDER BY event_id) FROM instance_event "
                     "WHERE instance_id = '%s'" % iid) == "create,provisioned"


def test_debug_calls_never_reach_the_order_api(make_stack, make_sim_server, workdir):
    sim = make_sim_server()
    hook = write_hook(workdir / "hook", """cat >/dev/null
echo '{"frontEndUrl":"https://seller.example/debug"}'""")
    s = stack_for(make_stack, sim, hook)
    iid = buy(s, "CS" + uuid.uuid4().hex[:12].upper(), test=True)
    ans = ready(s, iid, test=True)
    assert ans["info"][0]["appInfo"]["frontEndUrl"] == "https://seller.example/debug"
    assert order_queries(sim) == []


def test_failing_hook_is_retried_then_the_instance_fails(make_stack, make_sim_server,
                                                         workdir):
    sim = make_sim_server()
    hook_path = workdir / "hook"
    write_hook(hook_path, "cat >/dev/null; echo 'seller API down' >&2; exit 1")
    s = stack_for(make_stack, sim, str(hook_path))
    iid = buy(s, "MOCKONETIMENEW")
    ans = ready(s, iid)
    assert ans["resultCode"] == "000005" and "provisioning failed" in ans["resultMsg"]
    row = q(s, "SELECT i.state, i.fail_reason LIKE '%%seller API down%%', j.state, "
                    "j.attempts, j.id FROM instance i JOIN job j ON j.payload->>'instanceId' "
                    "= i.instance_id WHERE i.instance_id = '%s'" % iid).split("|")
    assert row[:4] == ["failed", "t", "dead", "3"], row
    # Fixed hook, job retried by the administrator: the instance comes up.
    write_hook(hook_path, """cat >/dev/null
echo '{"frontEndUrl":"https://seller.example/fixed"}'""")
    r = s.mkpd.mkpctl("jobs", "retry", row[4])
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: query(s, iid)["resultCode"] == "000000", 30, what="the retried job")
    assert query(s, iid)["info"][0]["appInfo"]["frontEndUrl"] == "https://seller.example/fixed"


def test_hanging_hook_is_killed_and_retried(make_stack, make_sim_server, workdir):
    sim = make_sim_server()
    hook = write_hook(workdir / "hook", "exec sleep 60")
    s = stack_for(make_stack, sim, hook, max_attempts=2)
    iid = buy(s, "MOCKONETIMENEW")
    ans = ready(s, iid)
    assert ans["resultCode"] == "000005"
    assert q(s, "SELECT fail_reason LIKE '%%killed after 3000 ms%%' FROM instance "
                     "WHERE instance_id = '%s'" % iid) == "t"


def test_marketplace_failures_are_retried_until_it_answers(make_stack, make_sim_server,
                                                           workdir):
    sim = make_sim_server()
    hook = write_hook(workdir / "hook", """cat >/dev/null
echo '{"frontEndUrl":"https://seller.example/ok"}'""")
    s = stack_for(make_stack, sim, hook, max_attempts=5)
    for order, mode, kw in (("MOCKPERIODYEARNEW", "5xx", {"count": 2}),
                            ("MOCKONDEMAND", "429", {"count": 1}),
                            ("MOCKONETIMENEW", "timeout", {"count": 1, "delay_ms": 3000})):
        sim.clear_calls()
        sim.fail(mode, **kw)
        iid = buy(s, order)
        ans = ready(s, iid)
        assert ans["resultCode"] == "000000", (mode, ans)
        # mkp-sim records a call when it has finished with it: the one it
        # holds for a timeout may still be waiting out its delay_ms.
        wait_for(lambda: len(order_queries(sim)) >= kw["count"] + 1, 10,
                 what="mkp-sim to record the %s call" % mode)
        calls = order_queries(sim)
        assert len(calls) == kw["count"] + 1, (mode, calls)
        sim.fail("none")


def test_jobs_child_killed_mid_job_completes_once(make_stack, make_sim_server, workdir):
    sim = make_sim_server()
    runs = runs_file(workdir)
    hook = write_hook(workdir / "hook", """cat >/dev/null
echo start >> %s
sleep 2
echo '{"frontEndUrl":"https://seller.example/once"}'""" % runs)
    s = stack_for(make_stack, sim, hook)
    iid = buy(s, "MOCKPERIODYEARNEW")
    wait_for(lambda: "start" in runs.read_text(), 20, what="the hook to start")
    jobs = [p for p in s.mkpd.children() if p not in s.mkpd.worker_pids()]
    assert len(jobs) == 1
    os.kill(jobs[0], signal.SIGKILL)
    ans = ready(s, iid)
    assert ans["resultCode"] == "000000", ans
    assert q(s, "SELECT count(*) FROM instance_event WHERE instance_id = '%s' "
                     "AND kind = 'provisioned'" % iid) == "1"
    assert q(s, "SELECT state, attempts FROM job WHERE payload->>'instanceId' = '%s'"
                     % iid) == "done|2"


def test_hook_hears_every_change_and_orders_are_applied(make_stack, make_sim_server,
                                                        workdir):
    sim = make_sim_server()
    docs = runs_file(workdir, "docs")
    hook = write_hook(workdir / "hook", """cat >> %s
echo >> %s
[ "$1" = create ] && echo '{"frontEndUrl":"https://seller.example/all"}'
exit 0""" % (docs, docs))
    s = stack_for(make_stack, sim, hook)
    iid = buy(s, "MOCKPERIODYEARNEW")
    assert ready(s, iid)["resultCode"] == "000000"
    ok = {"instanceId": iid}
    for activity, fields in (
            ("updateInstanceStatus", dict(ok, status="FREEZE")),
            ("updateInstanceStatus", dict(ok, status="UNFREEZE")),
            ("refreshInstance", dict(ok, scene="RENEWAL", orderId="MOCKMONTYRENEW",
                                     orderLineId="MOCKMONTYRENEW-000001",
                                     expireTime="20300101000000")),
            ("upgradeInstance", dict(ok, orderId="MOCKMONTYCHANGE",
                                     orderLineId="MOCKMONTYCHANGE-000001")),
            ("releaseInstance", ok)):
        assert s.call(activity, fields)[1]["resultCode"] == "000000", activity

    def events():
        return [json.loads(line) for line in docs.read_text().splitlines() if line.strip()]
    wait_for(lambda: len(events()) == 6, 30, what="six hook runs")
    got = events()
    assert [d["event"] for d in got] == ["create", "freeze", "unfreeze", "renew",
                                         "upgrade", "release"]
    renew, upgrade = got[3], got[4]
    assert renew["change"] == {"scene": "RENEWAL", "orderId": "MOCKMONTYRENEW",
                               "orderLineId": "MOCKMONTYRENEW-000001"}
    assert renew["order"]["orderId"] == "MOCKMONTYRENEW"
    assert upgrade["order"]["orderType"] == "CHANGE"
    # The upgrade order's SKU is the instance's now; the renewal kept the
    # later expiry (the call's 2030, not the order's 2025).
    assert q(s, "SELECT sku_code, to_char(expire_at, 'YYYY') FROM instance "
                "WHERE instance_id = '%s'" % iid) == "sku-MOCKMONTYCHANGE|2030"
    assert q(s, "SELECT count(*) FROM instance_event WHERE instance_id = '%s' "
                "AND kind = 'order_applied'" % iid) == "2"
    queried = sorted(c["query"] for c in order_queries(sim))
    assert len(queried) == 3 and all("orderId=MOCK" in x for x in queried)


def test_on_demand_lines_of_one_product_share_one_instance(make_stack, make_sim_server,
                                                           workdir):
    line = {"chargingMode": "ON_DEMAND", "productInfo": [
        {"productId": "OFFI-OD-1", "skuCode": "sku-od", "linearValue": 1,
         "productName": "metered"}]}
    orders = workdir / "orders.json"
    orders.write_text(json.dumps({"orders": [{
        "orderId": "CSONDEMAND01", "orderType": "NEW", "createTime": "20261123000000",
        "orderLine": [dict(line, orderLineId="CSONDEMAND01-000001"),
                      dict(line, orderLineId="CSONDEMAND01-000002")]}]}))
    sim = make_sim_server(orders=orders)
    docs = runs_file(workdir, "docs")
    hook = write_hook(workdir / "hook", """cat >> %s
echo >> %s
echo '{"frontEndUrl":"https://seller.example/metered"}'""" % (docs, docs))
    s = stack_for(make_stack, sim, hook)
    ids = []
    for n in (1, 2):
        code, ans, err = s.call("newInstance", {"orderId": "CSONDEMAND01",
                                                "orderLineId": "CSONDEMAND01-00000%d" % n,
                                                "businessId": str(uuid.uuid4())})
        assert ans["resultCode"] == "000004", ans
        ids.append(ans["instanceId"])
    answers = [ready(s, iid) for iid in ids]
    assert [a["info"][0]["appInfo"]["frontEndUrl"] for a in answers] == \
        ["https://seller.example/metered"] * 2
    # One instance owns the product; the other line's is its alias, and the
    # seller's hook provisioned once.
    rows = q(s, "SELECT alias_of IS NULL, state FROM instance WHERE order_id = "
                "'CSONDEMAND01' ORDER BY alias_of IS NULL").splitlines()
    assert rows == ["f|active", "t|active"], rows
    assert len([d for d in docs.read_text().splitlines() if d.strip()]) == 1


def test_changes_during_provisioning_are_kept(make_stack, make_sim_server, workdir):
    sim = make_sim_server()
    runs = runs_file(workdir)
    wait_gate, gate_path = gate(workdir)
    hook = write_hook(workdir / "hook", """cat >/dev/null
echo start >> %s
%s
[ "$1" = create ] && echo '{"frontEndUrl":"https://seller.example/slow"}'
exit 0""" % (runs, wait_gate))
    s = stack_for(make_stack, sim, hook)
    iid = buy(s, "MOCKPERIODYEARNEW")
    wait_for(lambda: "start" in runs.read_text(), 20, what="the hook to start")
    # A renewal answered while the hook runs outlives the provisioning,
    # whose order says 2025.
    ans = s.call("refreshInstance", {"instanceId": iid, "scene": "RENEWAL",
                                     "orderId": "CSRENEW1", "orderLineId": "CSRENEW1-1",
                                     "expireTime": "20300101000000"})[1]
    assert ans["resultCode"] == "000000", ans
    gate_path.touch()
    assert ready(s, iid)["resultCode"] == "000000"
    assert q(s, "SELECT state, to_char(expire_at, 'YYYY') FROM instance "
                "WHERE instance_id = '%s'" % iid) == "active|2030"


def test_release_during_a_failing_provisioning_wins(make_stack, make_sim_server, workdir):
    sim = make_sim_server()
    runs = runs_file(workdir)
    wait_gate, gate_path = gate(workdir)
    hook = write_hook(workdir / "hook", """cat >/dev/null
echo start >> %s
%s
exit 1""" % (runs, wait_gate))
    s = stack_for(make_stack, sim, hook, max_attempts=1)
    iid = buy(s, "MOCKONETIMENEW")
    wait_for(lambda: "start" in runs.read_text(), 20, what="the hook to start")
    ans = s.call("releaseInstance", {"instanceId": iid})[1]
    assert ans["resultCode"] == "000000", ans
    gate_path.touch()
    wait_for(lambda: q(s, "SELECT state FROM job WHERE kind = 'provision' AND "
                          "payload->>'instanceId' = '%s'" % iid) == "dead", 30,
             what="the provision job to die")
    assert q(s, "SELECT state FROM instance WHERE instance_id = '%s'" % iid) == "released"


def test_graceful_stop_lets_a_running_hook_finish(make_stack, make_sim_server, workdir):
    """A stop while the create hook runs waits for the hook (up to its own
    hook_timeout, not shutdown_timeout): killed half-way, the job would
    run again after its lease, perhaps on another host, after the first
    run may have made what the hook makes."""
    sim = make_sim_server()
    runs = runs_file(workdir)
    hook = write_hook(workdir / "hook", """cat >/dev/null
echo start >> %s
sleep 3
echo end >> %s
echo '{"frontEndUrl":"https://seller.example/slow"}'""" % (runs, runs))
    s = stack_for(make_stack, sim, hook)
    s.mkpd.reload({"mkpd.shutdown_timeout": 1, "app.hook_timeout": 10000})
    s.mkpd.wait_log(r"reload")
    iid = buy(s, "MOCKPERIODYEARNEW")
    wait_for(lambda: runs.read_text() == "start\n", 20, what="the hook running")
    assert s.mkpd.stop(timeout=60) == 0
    assert runs.read_text() == "start\nend\n"
    assert "killing it" not in s.mkpd.log()
    assert q(s, "SELECT i.state || '|' || j.state FROM instance i JOIN job j ON "
                "j.payload->>'instanceId' = i.instance_id WHERE i.instance_id = '%s' "
                "AND j.kind = 'provision'" % iid) == "active|done"


def test_release_during_the_create_hook_reaches_the_hook_after_create(
        make_stack, make_sim_server, workdir):
    """Two hosts: a release that commits while host A's create hook runs
    is heard by host B's jobs child at once, before create has made
    anything; the hook hears release again once create is over."""
    sim = make_sim_server()
    runs = runs_file(workdir)
    wait_gate, gate_path = gate(workdir)
    hook = write_hook(workdir / "hook", """cat >/dev/null
echo "$1 start" >> %s
if [ "$1" = create ]; then %s; fi
echo "$1 end" >> %s
[ "$1" = create ] && echo '{"frontEndUrl":"https://seller.example/r"}'
exit 0""" % (runs, wait_gate, runs))
    a = stack_for(make_stack, sim, hook)
    b = make_stack({"marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "",
                                    "ak": sim.ak, "sk": sim.sk},
                    "app": {"hook": hook, "hook_timeout": 10000},
                    "jobs": {"purge_interval": 0}}, dsn=a.dsn)
    a.mkpd.reload({"app.hook_timeout": 10000})
    a.mkpd.wait_log(r"reload")
    iid = buy(a, "MOCKPERIODYEARNEW")
    wait_for(lambda: runs.read_text() == "create start\n", 20, what="the create hook")
    ans = a.call("releaseInstance", {"instanceId": iid})[1]
    assert ans["resultCode"] == "000000", ans
    # Host B's jobs child runs the release hook while create still runs.
    wait_for(lambda: runs.read_text() == "create start\nrelease start\nrelease end\n", 20,
             what="the release hook to run while create runs")
    gate_path.touch()
    wait_for(lambda: runs.read_text().endswith("release end\n") and
             "create end" in runs.read_text() and
             runs.read_text().index("create end") < runs.read_text().rindex("release start"),
             30, what="release heard after create ended: %r" % runs.read_text())
    assert q(a, "SELECT state FROM instance WHERE instance_id = '%s'" % iid) == "released"
    assert b.mkpd.running()


def test_an_older_upgrade_applied_late_never_brings_its_sku_back(make_stack,
                                                                 make_sim_server, workdir):
    """Change jobs of one instance may run out of order (two hosts, a retry):
    the upgrade ordered later (createTime) keeps its SKU even when the
    earlier one is applied after it; the expiry only moves forward."""
    def upgrade(oid, created, sku, expire):
        return {"orderId": oid, "orderType": "CHANGE", "createTime": created,
                "orderLine": [{"orderLineId": oid + "-000001", "chargingMode": "PERIOD",
                               "periodType": "month", "periodNumber": 1,
                               "expireTime": expire,
                               "productInfo": [{"productId": "P-UP", "skuCode": sku,
                                                "linearValue": 1}]}]}
    orders = workdir / "orders.json"
    orders.write_text(json.dumps({"orders": [
        upgrade("CSUPOLD01", "20260101000000", "sku-old", "20270101000000"),
        upgrade("CSUPNEW01", "20260201000000", "sku-new", "20260601000000")]}))
    sim = make_sim_server(orders=orders)
    hook = write_hook(workdir / "hook", """cat >/dev/null
[ "$1" = create ] && echo '{"frontEndUrl":"https://seller.example/up"}'
exit 0""")
    s = stack_for(make_stack, sim, hook)
    iid = buy(s, "MOCKPERIODYEARNEW")
    assert ready(s, iid)["resultCode"] == "000000"

    def applied():
        return q(s, "SELECT count(*) FROM instance_event WHERE instance_id = '%s' "
                    "AND kind = 'order_applied'" % iid)
    for oid, n in (("CSUPNEW01", "1"), ("CSUPOLD01", "2")):
        ans = s.call("upgradeInstance", {"instanceId": iid, "orderId": oid,
                                         "orderLineId": oid + "-000001"})[1]
        assert ans["resultCode"] == "000000", ans
        wait_for(lambda: applied() == n, 30, what="upgrade %s applied" % oid)
    assert q(s, "SELECT sku_code, to_char(expire_at, 'YYYYMMDD') FROM instance "
                "WHERE instance_id = '%s'" % iid) == "sku-new|20270101"
    s.mkpd.wait_log(r"order CSUPOLD01/CSUPOLD01-000001 is older than the one applied last")

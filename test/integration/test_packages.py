"""Stop-when-used-up and pay-per-use packages (issue 15): a package order's
quota (its linearValue, or [packages] skus) is recorded when it is
provisioned and linked to the buyer's on-demand instance of the same
product; usage draws it down with the ingest, oldest expiry first; in stop
mode the event reaching the quota is taken only up to it and later ones are
refused 'package used up'; the seller's hook hears quota_low, exhausted and
resumed; the pushed hours carry relate_pkg_instance and never draw more than
a package holds (mkp-sim checks it). Each test has its own marketplace,
database and mkpd."""

import decimal
import json
import threading
import uuid

from harness import wait_for
from test_provision import q, ready, runs_file, write_hook
from test_usage import TOKEN, USAGE_KEY, past_hour, post_usage, push_now, sim_usage
from test_usage import udb  # noqa: F401 (a fixture)

HOOK = """cat >> %s
echo >> %s
[ "$1" = create ] && echo '{"frontEndUrl":"https://seller.example/metered"}'
exit 0"""


def second_package_orders(workdir):
    """A second package of the MOCKONDEMAND product, bought by the MOCK
    buyer: the orders file of mkp-sim serve."""
    renew = {"orderId": "CSPKGRENEW", "orderType": "RENEW", "createTime": "20261124000000",
             "orderLine": [{"orderLineId": "CSPKGRENEW-000001", "chargingMode": "ON_DEMAND_PKG",
                            "expireTime": "20991231235959",
                            "productInfo": [{"productId": "OFFI-MKP-SIM-ON_DEMAND",
                                             "skuCode": "sku-MOCKONDEMANDPKG",
                                             "linearValue": 50}]}],
             "buyerInfo": {"customerId": "mock-customer-id"}}
    f = workdir / "orders.json"
    f.write_text(json.dumps({"orders": [renew, {
        "orderId": "CSPKGTWO", "orderType": "NEW", "createTime": "20261123000000",
        "orderLine": [{"orderLineId": "CSPKGTWO-000001", "chargingMode": "ON_DEMAND_PKG",
                       "periodType": "month", "periodNumber": 1,
                       "expireTime": "20991231235959",
                       "productInfo": [{"productId": "OFFI-MKP-SIM-ON_DEMAND",
                                        "skuCode": "sku-MOCKONDEMANDPKG",
                                        "linearValue": 100, "productName": "package"}]}],
        "buyerInfo": {"customerId": "mock-customer-id", "userName": "mock-user"}}]}))
    return f


def package_stack(make_stack, make_sim_server, workdir, skus=""):
    sim = make_sim_server(args=["--usage-key", USAGE_KEY],
                          orders=second_package_orders(workdir))
    docs = runs_file(workdir, "docs")
    hook = write_hook(workdir / "hook", HOOK % (docs, docs))
    s = make_stack({
        "marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "", "ak": sim.ak,
                        "sk": sim.sk, "connect_timeout": 1000, "timeout": 2000},
        "app": {"hook": hook, "hook_timeout": 3000},
        "usage": {"token": TOKEN, "push_interval": 0, "usage_key": USAGE_KEY},
        "packages": {"skus": skus},
        "jobs": {"backoff_base": 1, "backoff_max": 1, "max_attempts": 3, "lease": 4,
                 "purge_interval": 0},
    }, fresh_db=True)

    def hook_events():
        return [json.loads(line) for line in docs.read_text().splitlines() if line.strip()]
    return s, sim, hook_events


def buy(s, order):
    code, ans, err = s.call("newInstance", {"orderId": order, "orderLineId": order + "-000001",
                                            "businessId": str(uuid.uuid4())})
    assert code == 0, err
    assert ans["resultCode"] == "000004", ans
    assert ready(s, ans["instanceId"])["resultCode"] == "000000"
    return ans["instanceId"]


def package_events(hook_events):
    return [(d["event"], d["package"].get("threshold")) for d in hook_events()
            if "package" in d]


def usage_value(s, iid):
    code, ans, err = s.call("queryInstance", {"instanceId": iid})
    assert code == 0, err
    return ans["info"][0]["usageInfo"][0]["usageValue"]


def test_stop_package_stops_on_time_and_resumes(make_stack, make_sim_server, workdir):
    s, sim, hook_events = package_stack(make_stack, make_sim_server, workdir)
    iid = buy(s, "MOCKONDEMAND")
    pkg = buy(s, "MOCKONDEMANDPKG")
    # The order's linearValue is the quota; same buyer and product: linked.
    assert q(s, "SELECT instance_id, linked_by, mode, quota FROM package "
                "WHERE pkg_instance_id = '%s'" % pkg) == "%s|order|stop|100.0000" % iid
    sim._control("POST", "packages", {"instanceId": pkg, "orderId": "MOCKONDEMANDPKG"})

    status, ans = post_usage(s, [{"id": "e1", "instanceId": iid, "value": "60",
                                  "time": past_hour(10)}])
    assert status == 200 and ans["accepted"] == 1, ans
    assert ans["quota"] == [{"instanceId": iid, "remaining": "40.0000", "mode": "stop"}]
    status, ans = post_usage(s, [{"id": "e2", "instanceId": iid, "value": "50",
                                  "time": past_hour(20)}])
    assert status == 200, ans
    assert ans["accepted"] == 1 and ans["rejected"] == [], ans
    assert ans["capped"] == [{"id": "e2", "taken": "40.0000",
                              "reason": "package used up: 40.0000 of 50 taken"}], ans
    assert ans["quota"][0]["remaining"] == "0.0000"
    status, ans = post_usage(s, [{"id": "e3", "instanceId": iid, "value": "1",
                                  "time": past_hour(30)}])
    assert ans["accepted"] == 0 and ans["rejected"] == [
        {"id": "e3", "reason": "package used up"}], ans

    wait_for(lambda: len(package_events(hook_events)) == 3, 30, what="three hook runs")
    assert package_events(hook_events) == [("quota_low", 80), ("quota_low", 95),
                                           ("exhausted", None)]
    last = hook_events()[-1]
    assert last["instance"]["instanceId"] == iid
    assert last["package"]["remaining"] == "0.0000" and last["package"]["drawn"] == "100.0000"
    assert q(s, "SELECT count(*) FROM instance_event WHERE instance_id = '%s'"
                " AND kind = 'package_exhausted'" % iid) == "1"
    assert usage_value(s, pkg) == 100
    r = s.mkpd.mkpctl("packages", iid, "--json")
    assert r.returncode == 0, r.stderr
    assert [{k: p[k] for k in ("package", "instance", "quota", "drawn", "remaining",
                               "mode", "state", "linked_by")} for p in json.loads(r.stdout)] \
        == [{"package": pkg, "instance": iid, "quota": 100, "drawn": 100, "remaining": 0,
             "mode": "stop", "state": "used_up", "linked_by": "order"}]

    # The closed hour: one record of 100 drawn from the package, accepted.
    push_now(s)
    recs = sim_usage(sim)
    assert [(r["instance_id"], r.get("relate_pkg_instance"), decimal.Decimal(r["usage_value"]))
            for r in recs["records"]] == [(iid, pkg, 100)], recs
    assert recs["packages"] == [{"instanceId": pkg, "quota": "100.0000",
                                 "drawn": "100.0000"}]

    # A second package: the hook hears resumed, usage is taken again.
    pkg2 = buy(s, "CSPKGTWO")
    wait_for(lambda: len(package_events(hook_events)) == 4, 30, what="the resumed hook")
    assert package_events(hook_events)[-1] == ("resumed", None)
    status, ans = post_usage(s, [{"id": "e4", "instanceId": iid, "value": "5",
                                  "time": past_hour(40)}])
    assert ans["accepted"] == 1 and "capped" not in ans, ans
    assert ans["quota"][0]["remaining"] == "95.0000"
    assert q(s, "SELECT drawn FROM package WHERE pkg_instance_id = '%s'" % pkg2) == "5.0000"


def test_overflow_package_bills_the_excess_on_demand(make_stack, make_sim_server, workdir):
    s, sim, hook_events = package_stack(make_stack, make_sim_server, workdir,
                                        skus="sku-MOCKONDEMANDPKG:order:overflow")
    iid = buy(s, "MOCKONDEMAND")
    pkg = buy(s, "MOCKONDEMANDPKG")
    sim._control("POST", "packages", {"instanceId": pkg, "orderId": "MOCKONDEMANDPKG"})
    for eid, value in (("o1", "60"), ("o2", "50")):
        status, ans = post_usage(s, [{"id": eid, "instanceId": iid, "value": value,
                                      "time": past_hour(10)}])
        assert status == 200 and ans["accepted"] == 1 and "capped" not in ans, ans
    assert ans["quota"] == [{"instanceId": iid, "remaining": "0.0000", "mode": "overflow"}]
    wait_for(lambda: ("exhausted", None) in package_events(hook_events), 30,
             what="the exhausted hook")
    assert usage_value(s, pkg) == 100
    push_now(s)
    recs = sorted((r.get("relate_pkg_instance") or "", decimal.Decimal(r["usage_value"]))
                  for r in sim_usage(sim)["records"])
    assert recs == [("", 10), (pkg, 100)], recs
    # A renewal of the package adds its order line's quota, once.
    for _ in range(2):
        code, ans, err = s.call("refreshInstance", {
            "instanceId": pkg, "scene": "RENEWAL", "orderId": "CSPKGRENEW",
            "orderLineId": "CSPKGRENEW-000001", "expireTime": "20991231235959"})
        assert ans["resultCode"] == "000000", ans
    wait_for(lambda: ("resumed", None) in package_events(hook_events), 30,
             what="the resumed hook")
    assert q(s, "SELECT quota, drawn FROM package WHERE pkg_instance_id = '%s'" % pkg) == \
        "150.0000|100.0000"


def test_two_hosts_never_overdraw(make_stack):
    one = make_stack({"usage": {"token": TOKEN, "push_interval": 0},
                      "jobs": {"purge_interval": 0}}, fresh_db=True)
    two = make_stack({"usage": {"token": TOKEN, "push_interval": 0},
                      "jobs": {"purge_interval": 0}}, dsn=one.dsn)
    q(one, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
           " product_id, charging_mode, state, buyer_id) VALUES"
           " ('od', 'o1', 'l1', 'b1', 'P', 'ON_DEMAND', 'active', 'buyer'),"
           " ('od2', 'o3', 'l3', 'b3', 'P', 'ON_DEMAND', 'active', 'buyer'),"
           " ('pk', 'o2', 'l2', 'b2', 'P', 'ON_DEMAND_PKG', 'active', 'buyer')")
    # Two on-demand instances of the buyer: the orders do not tell, the seller does.
    assert q(one, "SELECT mkp_package_grant('pk', 'o2', 'l2', 100, 'order', 'stop', 'GB',"
                  " '{80,95}')") == ""
    r = one.mkpd.mkpctl("packages", "link", "pk", "od")
    assert r.returncode == 0 and "package pk serves od" in r.stdout, r.stderr
    r = one.mkpd.mkpctl("packages", "link", "pk", "nope")
    assert r.returncode == 1 and "no instance nope" in r.stderr, r.stderr
    results, errors = [], []

    def report(s, n):
        try:
            for k in range(10):
                events = [{"id": "h%d-%d-%d" % (n, k, j), "instanceId": "od", "value": "1.5",
                           "time": past_hour(k + j)} for j in range(5)]
                status, ans = post_usage(s, events)
                assert status == 200, ans
                results.append(ans)
        except Exception as e:      # re-raised below, in the test's thread
            errors.append(e)
    threads = [threading.Thread(target=report, args=(s, n))
               for n, s in enumerate((one, two, one, two))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    # 4 x 10 x 5 events of 1.5 = 300 offered; exactly 100 taken.
    taken = sum(decimal.Decimal(c["taken"]) for a in results for c in a.get("capped", []))
    full = sum(a["accepted"] for a in results) - sum(len(a.get("capped", [])) for a in results)
    assert full * decimal.Decimal("1.5") + taken == 100
    assert q(one, "SELECT drawn FROM package") == "100.0000"
    assert q(one, "SELECT sum(value) FROM usage_event WHERE instance_id = 'od'") == "100.0000"
    refused = sum(1 for a in results for r in a["rejected"] if r["reason"] == "package used up")
    assert refused + full + len([c for a in results for c in a.get("capped", [])]) == 200


def test_status_counts_packages_low_and_used_up(make_stack):
    from test_status import status_stack
    s = status_stack(make_stack)
    tag = uuid.uuid4().hex[:8]

    def figures():
        r = s.mkpd.mkpctl("status", "--openmetrics")
        assert r.returncode == 0, r.stderr
        return {k: int(v) for k, v in (line.split() for line in r.stdout.splitlines()
                                       if line.startswith("mkpd_packages_"))}
    before = figures()
    assert set(before) == {"mkpd_packages_low", "mkpd_packages_used_up"}, before
    for n, use in ((1, "9"), (2, "10")):
        q(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
             " product_id, charging_mode, state, buyer_id) VALUES"
             " ('od{t}{n}', 'o{t}{n}', 'l', 'b', 'P', 'ON_DEMAND', 'active', 'b{t}{n}'),"
             " ('pk{t}{n}', 'p{t}{n}', 'l', 'b', 'P', 'ON_DEMAND_PKG', 'active', 'b{t}{n}')"
             .format(t=tag, n=n))
        q(s, "SELECT mkp_package_grant('pk{t}{n}', 'p{t}{n}', 'l', 10, 'order', NULL, NULL,"
             " '{{80,95}}')".format(t=tag, n=n))
        # The seller's own session ingests through the same quota.
        assert q(s, "SELECT mkp_usage_ingest('ev{t}{n}', 'od{t}{n}', {u}, now())"
                    .format(t=tag, n=n, u=use)) == "accepted"
    # The status child refreshes its store figures once a second.
    want = {"mkpd_packages_low": before["mkpd_packages_low"] + 1,
            "mkpd_packages_used_up": before["mkpd_packages_used_up"] + 1}
    wait_for(lambda: figures() == want, 10, what="packages low and used up: %s" % want)
    assert q(s, "SELECT mkp_usage_ingest('ev{t}x', 'od{t}2', 1, now())".format(t=tag)) \
        == "rejected: package used up"


def test_an_event_across_two_packages_is_cut_oldest_expiry_first(make_stack,
                                                                  make_sim_server):
    from test_usage import push_stack
    sim = make_sim_server(args=["--usage-key", USAGE_KEY])
    s = push_stack(make_stack, sim)
    q(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
         " product_id, charging_mode, state, buyer_id, expire_at) VALUES"
         " ('od', 'o1', 'l1', 'b1', 'P', 'ON_DEMAND', 'active', 'buyer', NULL),"
         " ('pa', 'o2', 'l2', 'b2', 'P', 'ON_DEMAND_PKG', 'active', 'buyer',"
         "  now() + interval '10 days'),"
         " ('pb', 'o3', 'l3', 'b3', 'P', 'ON_DEMAND_PKG', 'active', 'buyer',"
         "  now() + interval '20 days'),"
         " ('pc', 'o4', 'l4', 'b4', 'P', 'ON_DEMAND_PKG', 'active', 'someone else', NULL),"
         " ('pd', 'o5', 'l5', 'b5', 'P', 'ON_DEMAND_PKG', 'released', 'buyer', NULL)")
    # The later-expiring package is bought first: expiry, not age, decides.
    for pkg, quota in (("pb", 100), ("pa", 30), ("pc", 10), ("pd", 10)):
        q(s, "SELECT mkp_package_grant('%s', 'o-%s', 'l', %d, 'order', NULL, NULL, '{80,95}')"
             % (pkg, pkg, quota))
        sim._control("POST", "packages", {"instanceId": pkg, "quota": quota})
    status, ans = post_usage(s, [
        {"id": "x1", "instanceId": "od", "value": "50", "time": past_hour(5)},
        {"id": "x2", "instanceId": "od", "packageInstanceId": "pb", "value": "5",
         "time": past_hour(6)},
        {"id": "x3", "instanceId": "od", "packageInstanceId": "pc", "value": "1",
         "time": past_hour(7)},
        {"id": "x4", "instanceId": "od", "packageInstanceId": "pd", "value": "1",
         "time": past_hour(8)},
        {"id": "x5", "instanceId": "od", "packageInstanceId": "no-such-package", "value": "2",
         "time": past_hour(9)}])
    assert status == 200, ans
    # Named packages must be live packages of the instance (pc: another
    # buyer's, never linked; pd: released); an instance with packages draws
    # from none it does not know.
    assert ans["accepted"] == 2, ans
    assert sorted((r["id"], r["reason"]) for r in ans["rejected"]) == [
        ("x3", "package instance pc is not a package of od"),
        ("x4", "package instance pd is not live"),
        ("x5", "package instance no-such-package is not a package of od")], ans
    assert ans["quota"] == [{"instanceId": "od", "remaining": "75.0000", "mode": "stop"}]
    assert q(s, "SELECT string_agg(pkg_instance_id || '=' || drawn, ' '"
                " ORDER BY pkg_instance_id) FROM package WHERE instance_id = 'od'") == \
        "pa=30.0000 pb=25.0000 pd=0.0000"
    # The event drawn from two packages is two parts, booked in its hour.
    assert q(s, "SELECT string_agg(event_id || ':' || pkg_instance_id || '=' || value, ' '"
                " ORDER BY event_id) FROM usage_event") == \
        "x1:pa=30.0000 x1#2:pb=20.0000 x2:pb=5.0000"
    push_now(s)
    got = sorted((r["relate_pkg_instance"], decimal.Decimal(r["usage_value"]))
                 for r in sim_usage(sim)["records"])
    assert got == [("pa", 30), ("pb", 25)], got
    assert {p["instanceId"]: p["drawn"] for p in sim_usage(sim)["packages"]} == \
        {"pa": "30.0000", "pb": "25.0000", "pc": "0.0000", "pd": "0.0000"}


def test_mkp_sim_refuses_a_push_drawing_more_than_the_package_holds(make_stack,
                                                                    make_sim_server):
    from test_usage import push_stack
    sim = make_sim_server(args=["--usage-key", USAGE_KEY])
    s = push_stack(make_stack, sim)
    q(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
         " charging_mode, state) VALUES ('od', 'o1', 'l1', 'b1', 'ON_DEMAND', 'active')")
    # A package mkpd has no quota for (as before packages were known) but
    # the marketplace does: the push that over-draws it is refused.
    sim._control("POST", "packages", {"instanceId": "pz", "quota": "10"})
    assert post_usage(s, [{"id": "z1", "instanceId": "od", "packageInstanceId": "pz",
                           "value": "12", "time": past_hour(5)}])[1]["accepted"] == 1
    q(s, "SELECT mkp_usage_close_windows()")
    r = s.mkpd.mkpctl("usage", "push", "--now")
    assert r.returncode == 1 and "records draw more than package pz holds" in r.stderr, \
        (r.stdout, r.stderr)
    assert sim_usage(sim)["records"] == []


def test_repeats_and_resent_calls_draw_once(udb):
    udb("UPDATE instance SET buyer_id = 'b', product_id = 'P' WHERE instance_id = 'i-on';"
        "INSERT INTO instance (instance_id, order_id, order_line_id, business_id, product_id,"
        " charging_mode, state, buyer_id) VALUES ('pk', 'o9', 'l9', 'b9', 'P', 'ON_DEMAND_PKG',"
        " 'active', 'b');"
        "SELECT mkp_package_grant('pk', 'o9', 'l9', 10, 'order', 'stop', '', '{80,95}')")

    def ingest(events, before=""):
        ids, values = zip(*events)
        return udb(before + "SELECT string_agg(event_id || ' ' || outcome || coalesce(' ' || taken, ''),"
                   " '; ' ORDER BY outcome, event_id) FROM mkp_usage_ingest_packages("
                   "ARRAY['%s'], array_fill('i-on'::text, ARRAY[%d]), array_fill(NULL::text,"
                   " ARRAY[%d]), ARRAY['%s'], array_fill(now(), ARRAY[%d]), '20 days',"
                   " '{80,95}')" % ("','".join(ids), len(ids), len(ids), "','".join(values),
                                    len(ids)))
    # An id twice in one call counts once; the draw is not given back.
    assert ingest([("a", "4"), ("a", "4"), ("b", "3")]) == \
        "a duplicate; i-on quota 3.0000"
    assert udb("SELECT drawn FROM package") == "7.0000"
    # The whole call sent again: duplicates, nothing drawn or given back.
    assert ingest([("a", "4"), ("b", "3")]) == "a duplicate; b duplicate; i-on quota 3.0000"
    assert udb("SELECT drawn FROM package") == "7.0000"
    # The session that listens on mkpd_instance hears it at the commit.
    out = ingest([("c", "5"), ("d", "1")], before="LISTEN mkpd_instance;\n").splitlines()
    assert out[0] == "c capped 3.0000; i-on quota 0.0000; d rejected", out
    assert any('"kind" : "package_exhausted"' in line and '"instance_id" : "i-on"' in line
               for line in out[1:]), out
    assert udb("SELECT drawn, (SELECT sum(value) FROM usage_event) FROM package") == \
        "10.0000|10.0000"

"""Outbound TLS: the marketplace client (order query, usage push) verifies the
marketplace's certificate and host name, against [marketplace] ca_file (a
private CA here) or the system's store. mkp-sim serve plays the marketplace
over HTTPS: with a certificate of the right CA both calls succeed; with one
of another CA, or for another host name, the call is refused, the log says
why, the job is retried later and no usage record is marked delivered."""

import datetime
import json
import re
import uuid

import pytest

from harness import make_tls, test_ca, wait_for

TOKEN = "outbound-tls-usage-token"
USAGE_KEY = "usage-interface-key-for-tls-tests"


def q(s, sql):
    return s.pg.psql(sql, db=re.search(r"dbname=(\S+)", s.dsn).group(1))


def tls_stack(make_stack, sim, ca_file):
    s = make_stack({
        "marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "", "ak": sim.ak,
                        "sk": sim.sk, "connect_timeout": 1000, "timeout": 2000,
                        "ca_file": ca_file},
        "usage": {"token": TOKEN, "push_interval": 0, "usage_key": USAGE_KEY},
        # Retried every second, and long enough not to give up in the test.
        "jobs": {"backoff_base": 1, "backoff_max": 1, "max_attempts": 100, "lease": 4,
                 "purge_interval": 0},
    }, fresh_db=True)
    q(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
         " charging_mode, state) VALUES ('i-a', 'o1', 'l1', 'b1', 'ON_DEMAND', 'active')")
    return s


def buy(s):
    order = "MOCKPERIODYEARNEW"
    code, ans, err = s.call("newInstance", {"orderId": order, "orderLineId": order + "-000001",
                                            "businessId": str(uuid.uuid4())})
    assert code == 0, err
    assert ans["resultCode"] == "000004", ans
    return ans["instanceId"]


def report_usage(s):
    h = datetime.datetime.now(datetime.timezone.utc).replace(
        minute=0, second=0, microsecond=0) - datetime.timedelta(minutes=50)
    status, _, out = s.http("POST", "/-/usage", json.dumps({"events": [
        {"id": "u-" + uuid.uuid4().hex, "instanceId": "i-a", "value": "1.5",
         "time": h.strftime("%Y-%m-%dT%H:%M:%SZ")}]}).encode(),
        {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
    assert status == 200 and json.loads(out)["accepted"] == 1, out
    q(s, "INSERT INTO job (kind) VALUES ('usage_push')")


def test_the_right_ca_reads_the_order_and_pushes_usage(make_stack, make_sim_server):
    sim = make_sim_server(tls=make_tls(), args=["--usage-key", USAGE_KEY])
    assert sim.url.startswith("https://")
    s = tls_stack(make_stack, sim, test_ca())
    iid = buy(s)
    ans = wait_for(lambda: (lambda a: a if a["resultCode"] != "000004" else None)(
        s.call("queryInstance", {"instanceId": iid})[1]), 30, what="provisioned")
    assert ans["resultCode"] == "000000", ans
    assert any(c["path"].endswith("/order/query") for c in sim.calls())
    report_usage(s)
    wait_for(lambda: q(s, "SELECT state FROM usage_record") == "delivered", 30,
             what="the usage record delivered")
    assert sim._control("GET", "usage")["pushes"] == 1


@pytest.mark.parametrize("wrong", ["another CA", "another host name"])
def test_a_wrong_certificate_is_refused_and_retried(make_stack, make_sim_server, workdir,
                                                   wrong):
    if wrong == "another CA":
        # Signed by a CA mkpd was not told of, for the right name.
        tls = make_tls(ca_dir=workdir / "other-ca")
        why = r"SSL certificate problem: unable to get local issuer certificate"
    else:
        # The right CA, for a name that is not the one called (127.0.0.1).
        tls = make_tls(name="other-host", sans=["DNS:marketplace.example"])
        why = (r"SSL: no alternative certificate subject name matches target host name "
               r"'127\.0\.0\.1'")
    sim = make_sim_server(tls=tls, args=["--usage-key", USAGE_KEY])
    s = tls_stack(make_stack, sim, test_ca())
    iid = buy(s)
    report_usage(s)

    # Both jobs fail on the handshake, say why, and are tried again.
    def retried(kind):
        return q(s, "SELECT attempts >= 2 AND state IN ('queued', 'running') FROM job"
                    " WHERE kind = '%s'" % kind) == "t"
    wait_for(lambda: retried("provision") and retried("usage_push"), 30,
             what="both jobs retried")
    log = s.mkpd.log()
    for kind in ("provision", "usage_push"):
        assert re.search(r"job \d+ \(%s\) failed \(attempt 1 of 100\): .*%s.*; next attempt"
                         % (kind, why), log), log[-3000:]
    assert q(s, "SELECT state FROM instance WHERE instance_id = '%s'" % iid) == "provisioning"
    assert q(s, "SELECT count(*) FROM usage_record WHERE state = 'delivered'") == "0"
    assert q(s, "SELECT count(*) FROM usage_record") == "1"
    # Nothing reached the marketplace: the handshake failed first.
    assert sim.calls() == []
    assert sim._control("GET", "usage")["pushes"] == 0

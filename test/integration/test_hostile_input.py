"""Hostile and sloppy input (issue 13): what a probe of a running
deployment found, each now refused with its reason in the layer its rule
belongs to, and never at the cost of what was accepted."""

import datetime
import json
import time
import uuid

import pytest

from harness import wait_for

from test_kit import all_body, ok, sql, stamp
from test_usage import TOKEN, past_hour, post_usage, q, udb, ustack  # noqa: F401 (fixtures)

# The Kit tests' stack: 20 000 departments with a parent code are about 1.2 MB.
MKPD_OVERRIDES = {"mkpd": {"max_body": 4 << 20}}

HUGE = "9999999999999999.9999"


def hours_ago(n, minutes=10):
    now = datetime.datetime.now(datetime.timezone.utc)
    h = now.replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=n)
    return (h + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- 1. usage values the hourly sum cannot hold -------------------------------

def test_an_oversized_value_is_refused_and_the_good_events_kept(ustack):
    t = past_hour(10)
    status, ans = post_usage(ustack, [
        {"id": "b1", "instanceId": "i-a", "value": HUGE, "time": t},
        {"id": "b2", "instanceId": "i-a", "value": "100000000", "time": t},
        {"id": "ok", "instanceId": "i-b", "value": "99999999.9999", "time": t},
    ])
    assert status == 200, ans
    assert ans["accepted"] == 1 and ans["rejected"] == [
        {"id": "b1", "reason": "value is larger than 99999999.9999"},
        {"id": "b2", "reason": "value is larger than 99999999.9999"}], ans
    assert q(ustack, "SELECT string_agg(event_id, ',') FROM usage_event") == "ok"


def test_one_record_that_cannot_close_does_not_stop_the_others(udb):
    """Events stored before the bound (or the sum of very many) that no
    record can hold: that record fails with the sum as its reason, every
    other one closes, and the failed one counts as at risk."""
    hour = "date_trunc('hour', now()) - interval '1 hour'"
    udb("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
        " charging_mode, state) VALUES ('i-two', 'o9', 'l9', 'b9', 'ON_DEMAND', 'active')")
    # As stored before the bound existed.
    udb("ALTER TABLE usage_event DROP CONSTRAINT IF EXISTS usage_event_value_max")
    for i in range(3):
        assert udb("SELECT mkp_usage_ingest('big%d', 'i-on', %s, %s + interval '10 minutes')"
                   % (i, HUGE, hour)) == "accepted"
    assert udb("SELECT mkp_usage_ingest('small', 'i-two', 1.5, %s + interval '10 minutes')"
               % hour) == "accepted"
    assert udb("SELECT mkp_usage_close_windows()") == "2"
    assert udb("SELECT instance_id, state, value FROM usage_record ORDER BY 1") == \
        "i-on|failed|0.0000\ni-two|pending|1.5000"
    assert udb("SELECT fail_reason FROM usage_record WHERE instance_id = 'i-on'") == \
        "hourly sum 29999999999999999.9997 exceeds what a record holds (numeric(20,4))"
    assert udb("SELECT instance_id, at_risk FROM usage_unpushed ORDER BY 1") == \
        "i-on|t\ni-two|f"
    assert udb("SELECT mkp_usage_close_windows()") == "0"


def test_a_record_left_open_past_the_deadline_is_at_risk(make_stack):
    """An hour that ended more than an hour ago and was never closed (the
    closing cannot run) is at risk on every surface."""
    ustack = make_stack({"usage": {"token": TOKEN, "push_interval": 0},
                         "jobs": {"purge_interval": 0},
                         "mkpd": {"control_socket": "CONTROL"}},
                        fresh_db=True, start=False)
    ustack.mkpd.overrides["mkpd"]["control_socket"] = str(ustack.mkpd.dir / "control.sock")
    ustack.mkpd.write_config()
    ustack.start()
    q(ustack, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
              " charging_mode, state) VALUES ('i-a', 'o1', 'l1', 'b1', 'ON_DEMAND', 'active'),"
              " ('i-b', 'o3', 'l3', 'b3', 'ON_DEMAND', 'active')")
    status, ans = post_usage(ustack, [
        {"id": "o1", "instanceId": "i-a", "value": "1", "time": hours_ago(3)},
        {"id": "o2", "instanceId": "i-b", "value": "1", "time": hours_ago(0, 0)},
    ])
    assert status == 200 and ans["accepted"] == 2, ans
    assert q(ustack, "SELECT string_agg(state, ',') FROM usage_record") == "open,open"
    r = ustack.mkpd.mkpctl("usage", "status", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["atRisk"] == 1, r.stdout
    om = lambda: ustack.mkpd.mkpctl("status", "--openmetrics").stdout  # noqa: E731
    assert wait_for(lambda: "mkpd_usage_records_at_risk 1\n" in om(),
                    what="at risk 1 in the OpenMetrics figures"), om()
    # A failed record counts too.
    q(ustack, "UPDATE usage_record SET state = 'failed', fail_reason = 'x'"
              " WHERE instance_id = 'i-b'")
    r = ustack.mkpd.mkpctl("usage", "status", "--json")
    assert json.loads(r.stdout)["atRisk"] == 2, r.stdout


# --- 6. each event checked whole before the store sees it ---------------------

def test_a_time_the_store_would_refuse_is_one_events_refusal(ustack):
    t = past_hour(5)
    long_fraction = t[:-1] + "." + "1" * 200 + "Z"
    status, ans = post_usage(ustack, [
        {"id": "t1", "instanceId": "i-a", "value": "1", "time": long_fraction},
        {"id": "t2", "instanceId": "i-a", "value": "1", "time": t[:-1] + ".123456Z"},
        {"id": "t3", "instanceId": "i-a", "value": "1", "time": t[:-1] + ".1234567Z"},
        {"id": "t4", "instanceId": "i-a", "value": "2", "time": t},
    ])
    assert status == 200, ans
    assert ans["accepted"] == 2 and [r["id"] for r in ans["rejected"]] == ["t1", "t3"], ans
    assert ans["rejected"][0]["reason"] == \
        "time has more than 6 fraction digits (microseconds)", ans
    assert q(ustack, "SELECT string_agg(event_id, ',' ORDER BY event_id)"
                     " FROM usage_event") == "t2,t4"


# --- 2. a full department sync of a large organisation ------------------------

def org_list(n, fanout=0):
    """n departments: flat (fanout 0), or a tree where department i's
    parent is department i // fanout."""
    return [{"orgCode": "d%d" % i, "orgName": "Dept %d" % i,
             "parentCode": "" if fanout == 0 or i == 0 else "d%d" % (i // fanout)}
            for i in range(n)]


@pytest.mark.parametrize("n,fanout", [(5000, 0), (20000, 0), (20000, 8)])
def test_a_full_org_sync_at_the_limit_succeeds_in_linear_time(stack, n, fanout):
    t = "T" + uuid.uuid4().hex
    body = all_body(t, org_list(n, fanout))
    start = time.monotonic()
    ok(stack, "allOrgSync", body)
    took = time.monotonic() - start
    # The marketplace waits a few seconds; the store's statement timeout is 5 s.
    assert took < 4.5, "%d departments took %.1f s" % (n, took)
    assert sql(stack, "SELECT count(*), count(path) FROM org WHERE tenant_id = '%s'"
               " AND deleted_at IS NULL" % t) == "%d|%d" % (n, n)
    deepest = "d%d" % (n - 1)
    want = []
    i = n - 1
    while True:
        want.insert(0, "Dept %d" % i)
        if fanout == 0 or i == 0:
            break
        i //= fanout
    assert sql(stack, "SELECT path FROM org WHERE tenant_id = '%s' AND org_code = '%s'"
               % (t, deepest)) == "/" + "/".join(want)
    # Again, as the marketplace retries: the same call, nothing to change.
    body["timeStamp"] = stamp()
    start = time.monotonic()
    ok(stack, "allOrgSync", body)
    assert time.monotonic() - start < 4.5

"""Hostile and sloppy input (issue 13): what a probe of a running
deployment found, each now refused with its reason in the layer its rule
belongs to, and never at the cost of what was accepted."""

import datetime
import hashlib
import hmac
import json
import secrets
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest

import harness
from harness import free_port, wait_for

from test_kit import all_body, auth_body, code, kit_call, ok, sql, stamp, tenant_body, user
from test_usage import TOKEN, past_hour, post_usage, q, udb, ustack  # noqa: F401, F811

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
    # The marketplace waits a few seconds: 1.7 s on a quiet machine, a generous bound.
    assert took < 5.0, "%d departments took %.1f s" % (n, took)
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
    assert time.monotonic() - start < 5.0


# --- 3. connections that never deliver a request ------------------------------

def fcgi_record(rtype, content, rid=1):
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), 0, 0) + content


def test_idle_and_trickling_connections_do_not_hold_the_pool(make_stack):
    """Two idle and two trickling TCP connections straight to the FastCGI
    listener of a two-worker pool: each is closed after
    request_read_timeout, and a signed call through nginx is answered."""
    port = free_port()
    s = make_stack({"mkpd": {"listen": "127.0.0.1:%d" % port},
                    "pool": {"pm": "static", "max_children": 2,
                             "request_read_timeout": 2}})
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    # A BEGIN_REQUEST and a PARAMS record that never ends, a byte at a time.
    slow = fcgi_record(1, struct.pack(">HB5x", 1, 0)) + \
        fcgi_record(4, b"\x0e\x04REQUEST_METHODPOST" * 40)
    trickling = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    cut = []

    def trickle(sock):
        deadline = time.monotonic() + 20
        for b in slow:
            if time.monotonic() > deadline:
                return
            try:
                sock.send(bytes([b]))
            except OSError:
                cut.append(sock)
                return
            time.sleep(0.2)

    threads = [threading.Thread(target=trickle, args=(t,), daemon=True) for t in trickling]
    for t in threads:
        t.start()
    start = time.monotonic()
    r = s.call("queryInstance", {"instanceId": "no-such-instance"}, timeout=20)
    took = time.monotonic() - start
    assert r.json is not None and r.json["resultCode"] == "000003", r
    assert took < 12, "answered after %.1f s" % took
    for c in idle:
        c.settimeout(10)
        assert c.recv(1) == b"", "an idle connection was not closed"
        c.close()
    for t in threads:
        t.join(25)
    assert len(cut) == 2, "a trickling connection was not closed"
    for c in trickling:
        c.close()
    assert wait_for(lambda: s.mkpd.log_path.read_text().count(
        "within request_read_timeout (2 s)") >= 4, what="four warnings")


# --- 5. Kit stamps that are no instant ----------------------------------------

def test_an_impossible_kit_stamp_is_refused_and_freezes_nothing(stack):
    t = "T" + uuid.uuid4().hex
    for bad in ("99991399999999999", "00000000000000000", "20261340000000000",
                "99991231235959999"):
        ans = code(stack, "tenantSync", tenant_body(t, 1, ts=bad), "000002")
        assert ans["resultMsg"].startswith("timeStamp: "), ans
    assert sql(stack, "SELECT count(*) FROM tenant WHERE tenant_id = '%s'" % t) == "0"
    ok(stack, "tenantSync", tenant_body(t, 1, name="Acme"))
    ok(stack, "tenantSync", tenant_body(t, 2, name="Renamed"))
    assert sql(stack, "SELECT name FROM tenant WHERE tenant_id = '%s'" % t) == "Renamed"
    # currentSyncTime too.
    body = auth_body(t, 1, [user("alice")], sync="20261399000000000")
    ans = code(stack, "authSync", body, "000002")
    assert ans["resultMsg"].startswith("currentSyncTime: "), ans


# --- 4. lengths in characters; ids never cut; audit rows never lost -----------

def v2_post(stack, body, nonce=None, ts=None, sig=None, query_tail=b""):
    """A V2 basic call signed over the raw body bytes; nonce and ts are
    bytes as they go in the query (percent-encoded here)."""
    key = stack.keys["basic"].encode()
    nonce = nonce if nonce is not None else uuid.uuid4().hex.encode()
    ts = ts if ts is not None else str(int(time.time() * 1000)).encode()
    digest = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    sig = sig if sig is not None else \
        hmac.new(key, key + nonce + ts + digest, hashlib.sha256).hexdigest().upper().encode()
    q = b"signature=" + urllib.parse.quote_from_bytes(sig).encode() + query_tail + \
        b"&timestamp=" + urllib.parse.quote_from_bytes(ts).encode() + \
        b"&nonce=" + urllib.parse.quote_from_bytes(nonce).encode()
    status, headers, out = stack.http("POST", "/?" + q.decode(), body,
                                      {"Content-Type": "application/json"})
    assert status == 200, out
    return json.loads(out.decode("utf-8"))     # valid UTF-8 JSON, or this raises


CHARS = ["a", "\u00e9", "\u4e2d", "\U0001F600"]


@pytest.mark.parametrize("ch", CHARS, ids=["1-byte", "2-byte", "3-byte", "4-byte"])
def test_a_64_character_business_id_is_the_whole_instance_id(stack, ch):
    bid = ch * 63 + uuid.uuid4().hex[:1]
    order = "O" + uuid.uuid4().hex
    body = json.dumps({"activity": "newInstance", "orderId": order,
                       "orderLineId": order + "-1", "businessId": bid, "testFlag": "1"},
                      ensure_ascii=False).encode()
    ans = v2_post(stack, body)
    assert ans["resultCode"] == "000000", ans
    assert ans["instanceId"] == bid, ans
    assert sql(stack, "SELECT instance_id = '%s' FROM instance WHERE order_id = '%s'"
               % (bid, order)) == "t"
    ans = v2_post(stack, json.dumps({"activity": "queryInstance", "instanceId": bid,
                                     "testFlag": "1"},
                                    ensure_ascii=False).encode())
    assert ans["resultCode"] in ("000000", "000004"), ans
    # The audit rows of both calls, with the whole id.
    assert wait_for(lambda: sql(stack, "SELECT count(*) FROM callback_log"
                                " WHERE instance_id = '%s'" % bid) == "2",
                    what="two audit rows")
    # 65 characters are refused, whatever their width.
    body = json.dumps({"activity": "newInstance", "orderId": order,
                       "orderLineId": order + "-2",
                       "businessId": ch * 65, "testFlag": "1"}, ensure_ascii=False).encode()
    ans = v2_post(stack, body)
    assert ans["resultCode"] == "000002" and "businessId" in ans["resultMsg"], ans


@pytest.mark.parametrize("ch", CHARS, ids=["1-byte", "2-byte", "3-byte", "4-byte"])
def test_a_query_of_100_ids_of_64_characters_is_taken(stack, ch):
    ids = ",".join(ch * 62 + "%02d" % i for i in range(100))
    ans = v2_post(stack, json.dumps({"activity": "queryInstance", "instanceId": ids},
                                    ensure_ascii=False).encode())
    assert ans["resultCode"] == "000003", ans       # none known, but not refused


# --- 7. what the store refuses of a call's content is 000002 ------------------

def kit2_post(stack, name, raw, nonce):
    """A V2 Kit call signed over the raw body; nonce is bytes as sent."""
    key = stack.keys["kit"].encode()
    ts = str(int(time.time() * 1000)).encode()
    sig = hmac.new(key, key + nonce + ts + raw, hashlib.sha256).hexdigest().upper()
    headers = {"Content-Type": "application/json", "x-sign": sig, "x-timestamp": ts.decode(),
               "x-nonce": nonce.decode("latin-1")}
    status, _, out = stack.http("POST", "/produceAPI/v2/" + name, raw, headers)
    assert status == 200, out
    return json.loads(out.decode("utf-8"))


def test_values_the_store_refuses_answer_000002_with_a_reason(stack):
    log = stack.mkpd.log_path
    # A V2 basic nonce holding byte 0xFF.
    text = lambda: log.read_text(errors="replace")  # noqa: E731
    nonces, values = text().count("refused by the store"), text().count("refused a value")
    ans = v2_post(stack, json.dumps({"activity": "queryInstance",
                                     "instanceId": "x"}).encode(),
                  nonce=b"\xffnonce-" + uuid.uuid4().hex.encode())
    assert ans["resultCode"] == "000002" and ans["resultMsg"].startswith("nonce: "), ans
    # A Kit x-nonce of \xff\xfe.
    t = "T" + uuid.uuid4().hex
    raw = json.dumps(tenant_body(t, 1)).encode()
    ans = kit2_post(stack, "tenantSync", raw, b"\xff\xfe")
    assert ans["resultCode"] == "000002" and ans["resultMsg"].startswith("x-nonce: "), ans
    # A Kit user extension holding a number no numeric holds.
    ok(stack, "tenantSync", tenant_body(t, 1))
    body = auth_body(t, 1, [user("alice", extension={"x": 1})])
    raw = json.dumps(body).replace('{"x": 1}', '{"x":1e999999}')
    ans = kit_call(stack, "authSync", None, raw=raw)
    assert ans["resultCode"] == "000002", ans
    assert "refused a value" in ans["resultMsg"], ans
    assert sql(stack, "SELECT count(*) FROM app_user WHERE tenant_id = '%s'" % t) == "0"
    # Each said so in the log, and each has its audit row.
    assert wait_for(lambda: text().count("refused by the store") >= nonces + 2 and
                    text().count("refused a value") >= values + 1, what="the log lines")
    assert wait_for(lambda: sql(stack, "SELECT count(*) FROM callback_log WHERE result_code"
                                " = '000002' AND (reason LIKE '%%nonce: refused by the store%%'"
                                " OR reason LIKE '%%refused a value%%')"
                                " AND received_at > now() - interval '1 minute'") == "3",
                    what="three audit rows")



# --- 8. NUL and control characters in what the verifiers read -----------------

def test_a_nul_or_control_character_in_a_parameter_is_refused(stack):
    body = json.dumps({"activity": "queryInstance", "instanceId": "x"}).encode()
    key = stack.keys["basic"].encode()
    nonce = uuid.uuid4().hex.encode()
    ts = str(int(time.time() * 1000)).encode()
    digest = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    good = hmac.new(key, key + nonce + ts + digest, hashlib.sha256).hexdigest().upper().encode()
    # The signature is valid up to the NUL; the rest must not be ignored.
    ans = v2_post(stack, body, nonce=nonce, ts=ts, sig=good + b"\x00anything")
    assert ans["resultCode"] == "000002" and ans["resultMsg"].startswith("signature: "), ans
    # A timestamp with junk after a NUL.
    sig = hmac.new(key, key + nonce + ts + b"\x00junk" + digest,
                   hashlib.sha256).hexdigest().upper().encode()
    ans = v2_post(stack, body, nonce=nonce, ts=ts + b"\x00junk", sig=sig)
    assert ans["resultCode"] == "000002" and ans["resultMsg"].startswith("timestamp: "), ans
    ans = v2_post(stack, body, nonce=b"tab\there")
    assert ans["resultCode"] == "000002" and ans["resultMsg"].startswith("nonce: "), ans
    # The same call, clean, is answered (nothing above claimed its nonce).
    ans = v2_post(stack, body, nonce=nonce, ts=ts, sig=good)
    assert ans["resultCode"] == "000003", ans
    # A Kit header with a control character.
    t = "T" + uuid.uuid4().hex
    ans = kit_call(stack, "tenantSync", tenant_body(t, 1), nonce="n\x01" + uuid.uuid4().hex)
    assert ans["resultCode"] == "000002" and ans["resultMsg"].startswith("x-nonce: "), ans


# --- 9. the marketplace's SK off mkp-sim's command line -----------------------

@pytest.mark.parametrize("how", ["file", "environment"])
def test_mkp_sim_serve_reads_its_sk_from_a_file_or_the_environment(build, tmp_path,
                                                                   monkeypatch, how):
    sk = secrets.token_hex(20)
    sim = harness.SimServer(build, tmp_path, sk=sk)
    argv = sim.argv()
    i = argv.index("--sk")
    del argv[i:i + 2]
    if how == "file":
        path = tmp_path / "sk"
        path.write_text(sk + "\n")
        path.chmod(0o600)
        argv += ["--sk-file", str(path)]
    else:
        monkeypatch.setenv("MKP_SIM_SK", sk)
    sim.argv = lambda: argv
    sim.start()
    try:
        with open("/proc/%d/cmdline" % sim.proc.pid, "rb") as f:
            assert sk.encode() not in f.read()
        assert sim.order_query("MOCKPERIODYEARNEW")[0] == 200
        assert sim.order_query("MOCKPERIODYEARNEW", sk="mkp-sim-sk")[0] == 401
    finally:
        sim.stop()


def test_mkp_sim_serve_refuses_an_empty_sk_file_and_both_ways(build, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    mkp_sim = str(build / "mkp-sim")
    r = subprocess.run([mkp_sim, "serve", "--sk-file", str(empty)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "empty" in r.stderr, r.stderr
    r = subprocess.run([mkp_sim, "serve", "--sk-file", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "No such file" in r.stderr, r.stderr
    r = subprocess.run([mkp_sim, "serve", "--sk", "x", "--sk-file", str(empty)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "one or the other" in r.stderr, r.stderr

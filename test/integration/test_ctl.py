"""mkpctl: key rotation with an overlap window (against the real stack), and
the output of the administration verbs: instances, callbacks, purge, config
check, keys status, tenants/users/orgs, as tables and as JSON."""
import datetime
import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

from harness import wait_for


def new_key():
    return str(uuid.uuid4())


def rfc3339(seconds_from_now):
    """Now + seconds_from_now as RFC 3339 UTC, to the millisecond (mkpd
    compares the previous key's end with the clock to the millisecond)."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def order():
    o = "CS" + uuid.uuid4().hex[:16].upper()
    return {"orderId": o, "orderLineId": o + "-000001"}


def debug_call(stack, key, **kw):
    """A debug newInstance signed with key; returns the CallResult."""
    return stack.call("newInstance", order(), key=key, args=["--test"], **kw)


def code_with(stack, key):
    return debug_call(stack, key).result_code


def ctl(stack, *args, stdin=None):
    return subprocess.run([str(stack.build / "mkpctl"), "-c", str(stack.mkpd.conf_path), *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def sql(stack, text):
    """psql in the stack's own database (make_stack(fresh_db=True) has one)."""
    return stack.pg.psql(text, db=re.search(r"dbname=(\S+)", stack.dsn).group(1))


# --- key rotation ----------------------------------------------------------------

def test_rotation_accepts_both_keys_during_the_overlap_and_only_the_new_after(make_stack):
    s = make_stack()
    old, new = s.keys["basic"], new_key()
    first = debug_call(s, old)
    assert first.result_code == "000000" and first.body_sign == "ok"

    # The administrator rotates: the new key on standard input, never argv.
    r = ctl(s, "keys", "rotate", "basic", "--overlap", "1h", stdin=new + "\n")
    assert r.returncode == 0, r.stderr
    assert "reload mkpd on every host" in r.stdout.lower()
    text = s.mkpd.conf_path.read_text()
    assert re.search(r"^basic_key = %s$" % new, text, re.M)
    assert re.search(r"^previous_basic_key = %s$" % old, text, re.M)
    assert oct(s.mkpd.conf_path.stat().st_mode & 0o777) == "0o600"
    assert new not in r.stdout + r.stderr		# a fingerprint, never the key

    mark = s.mkpd.log_mark()
    reload_began = time.monotonic()
    s.mkpd.signal(__import__("signal").SIGHUP)
    s.mkpd.wait_log(r"reloaded: generation", since=mark)
    wait_for(lambda: code_with(s, new) == "000000", 30, what="the new key accepted")
    # Overlap: the old key still works, and the answer is signed with the key
    # that verified the call (the marketplace checks it with the key it used).
    during = debug_call(s, old)
    reload_took = time.monotonic() - reload_began
    assert during.result_code == "000000" and during.body_sign == "ok", during.stderr
    s.mkpd.wait_log(r"verified with the previous basic key \(accepted until ", since=mark)
    fresh = debug_call(s, new)
    assert fresh.result_code == "000000" and fresh.body_sign == "ok"

    status = json.loads(ctl(s, "keys", "status", "--json").stdout)
    basic = [d for d in status if d["dialect"] == "basic"][0]
    assert basic["overlap"] == "open" and basic["previous"] and basic["current"] != basic["previous"]

    # The overlap ends (a short one now, so the test sees it pass): the old key
    # is accepted by the reloaded mkpd, then refused with the signature error
    # once the end passes while it runs; the new one keeps working. The end
    # is a few times what the same reload and calls took above (at least
    # 3 s), so that the call before it lands before it on a slow build too.
    # (The harness writes the whole file again: give it the rotated keys too.)
    overlap = max(3.0, 4 * reload_took)
    ends, until = time.monotonic() + overlap, rfc3339(overlap)
    s.mkpd.reload({"keys": {"basic_key": new, "previous_basic_key": old,
                            "previous_basic_until": until}})
    s.mkpd.wait_log(r"reloaded: generation 2", since=mark)
    wait_for(lambda: code_with(s, new) == "000000", 30, what="the new key after reload")
    before_end = code_with(s, old)
    assert before_end == "000000", (
        "the old key refused before its end" if time.monotonic() < ends
        else "too slow: the old key's end passed before the call that needs it accepted")
    wait_for(lambda: code_with(s, old) == "000001", overlap + 30, interval=0.2,
             what="the old key refused once the overlap is over")
    refused = debug_call(s, old)
    assert refused.result_code == "000001" and "signature" in refused.json["resultMsg"]
    assert debug_call(s, new).result_code == "000000"
    status = json.loads(ctl(s, "keys", "status", "--json").stdout)
    assert [d["overlap"] for d in status if d["dialect"] == "basic"] == ["over"]
    check = ctl(s, "config", "check")
    assert "overlap ended" in check.stdout and check.returncode == 0


def test_kit_and_v1_previous_keys_and_no_cross_dialect_use(make_stack):
    s = make_stack()
    old_kit, old_v1 = s.keys["kit"], s.keys["v1"]
    new_kit, new_v1 = new_key(), new_key()
    s.mkpd.reload({"keys": {"kit_key": new_kit, "previous_kit_key": old_kit,
                            "previous_kit_until": rfc3339(3600),
                            "v1_key": new_v1, "previous_v1_key": old_v1,
                            "previous_v1_until": rfc3339(3600)}})
    tenant = {"tenantId": "T" + uuid.uuid4().hex[:8], "tenantCode": "t1", "name": "Acme",
              "domainName": "https://acme.example.com", "flag": 1}

    def kit(key):
        return s.call("tenantSync", tenant, key=key, args=["--kit", "--test"])

    wait_for(lambda: kit(new_kit).result_code == "000000", 30, what="the new kit key")
    r = kit(old_kit)
    assert r.result_code == "000000" and r.body_sign == "ok", r.stderr
    # The previous key of one dialect is no key of another.
    assert kit(s.keys["basic"]).result_code == "000001"
    assert code_with(s, old_kit) == "000001"

    v1 = {"orderId": "CS" + uuid.uuid4().hex[:16].upper(), "productId": "00301-666666-0--0",
          "customerId": uuid.uuid4().hex, "expireTime": "20301231000000"}
    for key in (new_v1, old_v1):
        r = s.call("newInstance", v1, key=key, args=["--v1", "--test"])
        assert r.result_code == "000000" and r.body_sign == "ok", r.stderr
    s.mkpd.wait_log(r"verified with the previous v1 key")
    s.mkpd.wait_log(r"verified with the previous kit key")


def test_rotate_refuses_the_current_key_and_bad_input(make_stack):
    s = make_stack(start=False)
    before = s.mkpd.conf_path.read_text()
    r = ctl(s, "keys", "rotate", "basic", stdin=s.keys["basic"] + "\n")
    assert r.returncode == 1 and "already the current" in r.stderr
    assert ctl(s, "keys", "rotate", "basic", stdin="\n").returncode == 1
    assert ctl(s, "keys", "rotate", "nosuch", stdin="x\n").returncode == 2
    assert ctl(s, "keys", "rotate", "kit", "--overlap", "soon", stdin="x\n").returncode == 2
    assert s.mkpd.conf_path.read_text() == before
    # --key-file, and a dialect with no key yet keeps no previous one.
    kf = s.mkpd.dir / "new.key"
    kf.write_text("k-" + new_key() + "\n")
    s.mkpd.write_config({"keys.v1_key": None})
    r = ctl(s, "keys", "rotate", "v1", "--key-file", str(kf), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["previous_until"] is None
    text = s.mkpd.conf_path.read_text()
    assert re.search(r"^v1_key = k-", text, re.M)
    assert re.search(r"^previous_v1_key =$", text, re.M), text
    assert s.mkpd.check_config().returncode == 0


# --- instances and callbacks ---------------------------------------------------------

def test_instances_list_show_history(stack):
    o = order()
    r = stack.call("newInstance", o, args=["--test"])
    iid = r.json["instanceId"]
    stack.call("updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"}, args=["--test"])

    table = stack.mkpd.mkpctl("instances", "--test", "--limit", "5", check=True).stdout
    header = table.splitlines()[0]
    assert header.split() == ["INSTANCE_ID", "STATE", "TEST", "ORDER_ID", "ORDER_LINE_ID",
                              "PRODUCT_ID", "CHARGING_MODE", "EXPIRE_AT", "UPDATED_AT"]
    row = [l for l in table.splitlines() if l.startswith(iid)][0]
    assert row.split()[1:4] == ["frozen", "yes", o["orderId"]]
    # Aligned: every column starts where its header does.
    assert row.index(o["orderId"]) == header.index("ORDER_ID")

    listed = json.loads(stack.mkpd.mkpctl("instances", "list", "--state", "frozen", "--test",
                                          "--json", check=True).stdout)
    assert iid in [i["instance_id"] for i in listed]
    assert all(i["state"] == "frozen" and i["test"] is True for i in listed)
    assert stack.mkpd.mkpctl("instances", "--state", "melted").returncode == 2

    one = json.loads(stack.mkpd.mkpctl("instances", "show", iid, "--json", check=True).stdout)
    assert one["instance_id"] == iid and one["state"] == "frozen" and one["test"] is True
    assert "app_password" not in one
    shown = stack.mkpd.mkpctl("instances", "show", iid, check=True).stdout
    assert re.search(r"^order_id:\s+%s$" % o["orderId"], shown, re.M)
    missing = stack.mkpd.mkpctl("instances", "show", "no-such-instance")
    assert missing.returncode == 1 and "no instance" in missing.stderr

    hist = json.loads(stack.mkpd.mkpctl("instances", "history", iid, "--json", check=True).stdout)
    calls = [(h["what"], h["detail"][:6]) for h in hist if h["source"] == "call"]
    events = [h["what"] for h in hist if h["source"] == "event"]
    assert calls == [("newInstance", "000000"), ("updateInstanceStatus", "000000")]
    assert events[0] == "create" and events[-1] == "freeze"
    assert [h["time"] for h in hist] == sorted(h["time"] for h in hist)


def test_callbacks_tail_search_show(stack):
    o = order()
    good = stack.call("newInstance", o, args=["--test"])
    bad = stack.call("newInstance", o, args=["--test", "--bad-signature"])
    assert good.result_code == "000000" and bad.result_code == "000001"

    found = json.loads(stack.mkpd.mkpctl("callbacks", "search", "--order", o["orderId"],
                                         "--json", check=True).stdout)
    assert [(c["activity"], c["code"]) for c in found] == [("newInstance", "000000")]
    assert found[0]["test"] is True and found[0]["http"] == 200
    assert isinstance(found[0]["ms"], (int, float))

    failed = json.loads(stack.mkpd.mkpctl("callbacks", "search", "--failed", "--code", "000001",
                                          "--limit", "5", "--json", check=True).stdout)
    assert failed and all(c["code"] == "000001" for c in failed)
    assert "signature" in failed[0]["reason"]
    since = json.loads(stack.mkpd.mkpctl("callbacks", "search", "--since", "2100-01-01",
                                         "--json", check=True).stdout)
    assert since == []
    bad_time = stack.mkpd.mkpctl("callbacks", "search", "--since", "yesterday-ish")
    assert bad_time.returncode == 1

    tail = json.loads(stack.mkpd.mkpctl("callbacks", "tail", "-n", "2", "--json",
                                        check=True).stdout)
    assert len(tail) == 2 and tail[0]["time"] <= tail[1]["time"]
    assert tail[-1]["code"] == "000001"		# the newest last, as a log reads
    text = stack.mkpd.mkpctl("callbacks", "tail", "-n", "1", check=True).stdout.splitlines()
    assert text[0].split()[:4] == ["TIME", "CALL_ID", "DIALECT", "ACTIVITY"]
    assert len(text) == 2

    show = stack.mkpd.mkpctl("callbacks", "show", found[0]["call_id"], check=True).stdout
    assert re.search(r"^body:\s+\{.*%s" % o["orderId"], show, re.M)
    assert stack.mkpd.mkpctl("callbacks", "search", "--bogus").returncode == 2


def test_jobs_limit(stack):
    all_jobs = json.loads(stack.mkpd.mkpctl("jobs", "--json", check=True).stdout)
    one = json.loads(stack.mkpd.mkpctl("jobs", "--limit", "1", "--json", check=True).stdout)
    assert len(one) == min(1, len(all_jobs)) and one == all_jobs[:1]
    assert stack.mkpd.mkpctl("jobs", "--limit", "0").returncode == 2


def test_jobs_attempts_say_of_how_many(stack):
    """ATTEMPTS reads "tries of the most allowed": the job's own limit, else
    [jobs] max_attempts of the config (it said "1/-")."""
    own = sql(stack, "INSERT INTO job (kind, max_attempts) VALUES ('purge', 7) RETURNING id")
    dflt = sql(stack, "INSERT INTO job (kind) VALUES ('purge') RETURNING id")
    own, dflt = own.split()[0], dflt.split()[0]
    lines = stack.mkpd.mkpctl("jobs", check=True).stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "KIND", "STATE", "ATTEMPTS"], lines
    cfg_max = re.search(r"^max_attempts\s*=\s*(\d+)", stack.mkpd.conf_path.read_text(), re.M)
    rows = {l.split()[0]: l for l in lines[1:]}
    assert re.search(r"\b\d+ of 7\b", rows[own]), rows[own]
    assert re.search(r"\b\d+ of %s\b" % (cfg_max.group(1) if cfg_max else "5"),
                     rows[dflt]), rows[dflt]
    assert not any("/-" in l for l in lines)


# --- purge -----------------------------------------------------------------------

def test_purge_test_data_audit_and_nonces(make_stack):
    # No jobs child: its own nonce purge would race the one tested here.
    s = make_stack({"jobs": {"enabled": False}}, fresh_db=True)
    t = s.call("newInstance", order(), args=["--test"]).json["instanceId"]
    sql(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id, state)"
           " VALUES ('real-1', 'CSREAL', 'CSREAL-000001', 'b', 'active');"
           "INSERT INTO callback_log (call_id, received_at, dialect, http_status, latency_us)"
           " VALUES ('old-call', now() - interval '40 days', 'v2', 200, 1);"
           "INSERT INTO nonce (nonce, seen_at) VALUES ('v2:stale', now() - interval '1 hour'),"
           " ('v2:fresh', now())")

    dry = json.loads(s.mkpd.mkpctl("purge", "--test-data", "--audit-older-than", "30",
                                   "--nonces", "--dry-run", "--json", check=True).stdout)
    counts = {}
    for d in dry["deleted"]:
        counts[d["table"]] = counts.get(d["table"], 0) + d["rows"]
    assert dry["dry_run"] is True
    assert counts["instance"] == 1 and counts["nonce"] == 1
    assert counts["callback_log"] == 2		# the debug call, and the 40-day-old row
    assert sql(s, "SELECT count(*) FROM instance") == "2"		# rolled back

    out = s.mkpd.mkpctl("purge", "--test-data", check=True).stdout
    assert re.search(r"^instance\s+1$", out, re.M), out
    assert sql(s, "SELECT instance_id FROM instance") == "real-1"
    assert sql(s, "SELECT count(*) FROM instance_event WHERE instance_id = '%s'" % t) == "0"
    out = s.mkpd.mkpctl("purge", "--audit-older-than", "30", "--nonces", check=True).stdout
    assert re.search(r"^callback_log\s+1$", out, re.M) and re.search(r"^nonce\s+1$", out, re.M)
    nonces = sql(s, "SELECT nonce FROM nonce").split("\n")
    assert "v2:fresh" in nonces and "v2:stale" not in nonces
    assert s.mkpd.mkpctl("purge").returncode == 2
    assert s.mkpd.mkpctl("purge", "--audit-older-than", "0").returncode == 2


def test_audit_log_is_kept_in_months_the_purge_job_makes_and_drops_whole(make_stack):
    """callback_log is partitioned by month (schema 018): the purge job
    makes this month's partition and moves into it the rows that waited in
    callback_log_default; mkpctl purge --audit-older-than drops a month
    wholly older than the limit and deletes the older rows left elsewhere."""
    s = make_stack({"jobs": {"enabled": False}}, fresh_db=True)
    s.call("newInstance", order(), args=["--test"])
    month = "callback_log_" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m")
    wait_for(lambda: sql(s, "SELECT count(*) FROM callback_log_default") == "1",
             10, what="the call's row, before any month is made")
    sql(s, "CREATE TABLE callback_log_202001 PARTITION OF callback_log"
           " FOR VALUES FROM ('2020-01-01 00:00Z') TO ('2020-02-01 00:00Z');"
           "INSERT INTO callback_log (call_id, received_at, dialect, http_status, latency_us)"
           " VALUES ('jan-1', '2020-01-05Z', 'v2', 200, 1), ('jan-2', '2020-01-06Z', 'v2', 200, 1),"
           " ('old-default', now() - interval '40 days', 'v2', 200, 1)")
    s.mkpd.stop()
    s.mkpd.overrides["jobs"] = {"enabled": True}
    s.mkpd.write_config()
    s.mkpd.start()
    wait_for(lambda: sql(s, "SELECT to_regclass('%s') IS NOT NULL" % month) == "t", 30,
             what="this month's partition made by the purge job")
    assert sql(s, "SELECT count(*) FROM %s" % month) == "1"
    assert sql(s, "SELECT count(*) FROM ONLY callback_log_default"
                  " WHERE received_at > now() - interval '1 day'") == "0"

    dry = json.loads(s.mkpd.mkpctl("purge", "--audit-older-than", "30", "--dry-run", "--json",
                                   check=True).stdout)
    assert dry["deleted"] == [{"table": "callback_log", "rows": 3}]
    assert sql(s, "SELECT to_regclass('callback_log_202001') IS NOT NULL") == "t"
    out = s.mkpd.mkpctl("purge", "--audit-older-than", "30", check=True).stdout
    assert re.search(r"^callback_log\s+3$", out, re.M), out
    assert sql(s, "SELECT to_regclass('callback_log_202001') IS NULL") == "t"
    assert sql(s, "SELECT count(*) FROM callback_log") == "1"
def test_purge_jobs_deletes_old_done_jobs_only(make_stack):
    s = make_stack({"jobs": {"enabled": False}}, fresh_db=True)
    sql(s, "INSERT INTO job (kind, state, done_at) VALUES"
           " ('purge', 'done', now() - interval '40 days'),"
           " ('purge', 'done', now() - interval '2 days'),"
           " ('provision', 'dead', now() - interval '40 days'),"
           " ('provision', 'queued', NULL)")
    out = s.mkpd.mkpctl("purge", "--jobs-older-than", "30", check=True).stdout
    assert re.search(r"^job\s+1$", out, re.M), out
    assert sql(s, "SELECT string_agg(state || ':' || kind, ',' ORDER BY id) FROM job") == \
        "done:purge,dead:provision,queued:provision"
    assert s.mkpd.mkpctl("purge", "--jobs-older-than", "0").returncode == 2


def test_purge_usage_drops_whole_months_and_keeps_the_cumulative_usage(make_stack):
    s = make_stack({"jobs": {"enabled": False}}, fresh_db=True)
    # Two old months delivered, one old month with a record never pushed,
    # and this month: each row lands in the default partition first.
    sql(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id, state)"
           " VALUES ('u-1', 'CSU', 'CSU-1', 'b', 'active');"
           "INSERT INTO usage_record (instance_id, window_begin, window_end, value,"
           " metering_sn, state) SELECT 'u-1', w, w + interval '1 hour', v,"
           " mkp_usage_metering_sn('u-1', '', w), st FROM (VALUES"
           "  (date_trunc('month', now()) - interval '5 months', 2.5, 'delivered'),"
           "  (date_trunc('month', now()) - interval '4 months', 1.25, 'expired'),"
           "  (date_trunc('month', now()) - interval '3 months', 4, 'pending'),"
           "  (date_trunc('hour', now()), 0, 'open')) AS x(w, v, st);"
           "INSERT INTO usage_event (event_id, instance_id, value, event_time, window_begin)"
           " SELECT 'e' || k, 'u-1', 1, w, w FROM (VALUES"
           "  (1, date_trunc('month', now()) - interval '5 months'),"
           "  (2, date_trunc('month', now()) - interval '4 months'),"
           "  (3, date_trunc('hour', now()))) AS x(k, w)")
    before = sql(s, "SELECT mkp_usage_cumulative('u-1', false)")
    month = lambda back: sql(s, "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC')"
                                " - interval '%d months', 'YYYYMM')" % back)
    m5, m4, m3 = month(5), month(4), month(3)

    dry = json.loads(s.mkpd.mkpctl("purge", "--usage-older-than", "40", "--dry-run", "--json",
                                   check=True).stdout)
    got = {d["table"]: (d["rows"], d["partition"]) for d in dry["deleted"]}
    assert got == {"usage_record_" + m5: (1, "dropped"), "usage_event_" + m5: (1, "dropped"),
                   "usage_record_" + m4: (1, "dropped"), "usage_event_" + m4: (1, "dropped"),
                   "usage_record_" + m3: (1, "kept: records not pushed yet")}, got
    assert sql(s, "SELECT count(*) FROM usage_record") == "4"		# rolled back

    out = s.mkpd.mkpctl("purge", "--usage-older-than", "40", check=True).stdout
    assert re.search(r"^usage_record_%s\s+1 \(partition dropped\)$" % m5, out, re.M), out
    assert re.search(r"^usage_record_%s\s+1 \(kept" % m3, out, re.M), out
    assert sql(s, "SELECT count(*) FROM usage_record") == "2"
    assert sql(s, "SELECT string_agg(event_id, ',') FROM usage_event") == "e3"
    assert sql(s, "SELECT to_regclass('usage_event_%s') IS NULL" % m5) == "t"
    assert sql(s, "SELECT count(*) FROM usage_record_default") == "0"
    assert sql(s, "SELECT value, records FROM usage_carry") == "3.7500|2"
    assert sql(s, "SELECT mkp_usage_cumulative('u-1', false)") == before
    # The last 21 days may still be pushed: never dropped.
    assert s.mkpd.mkpctl("purge", "--usage-older-than", "21").returncode == 2


# --- config check ------------------------------------------------------------------

def test_config_check_reports_errors_with_lines_modes_and_the_master_key(make_stack):
    s = make_stack(start=False)
    m = s.mkpd
    good = ctl(s, "config", "check")
    assert good.returncode == 0, good.stdout
    assert good.stdout.rstrip().endswith("0 errors, 0 warnings")

    text = m.conf_path.read_text()
    lines = text.splitlines()
    line = lines.index("[pool]") + 2
    bad = m.dir / "bad.conf"
    m.write_config(path=bad, text="\n".join(lines[:line - 1] + ["max_children = lots"] +
                                           lines[line - 1:]) + "\n")
    r = ctl(s, "config", "check", str(bad))
    assert r.returncode == 1
    assert re.search(r"^error: %s:%d: \[pool\] max_children: not an integer" %
                     (re.escape(str(bad)), line), r.stdout, re.M), r.stdout

    loose = m.dir / "loose.conf"
    m.write_config(path=loose, text=text)
    os.chmod(loose, 0o644)
    r = ctl(s, "config", "check", str(loose))
    assert r.returncode == 1 and "lets other users read the secret" in r.stdout and \
        "chmod o-rwx" in r.stdout, r.stdout

    nokey = m.dir / "nokey.conf"
    m.write_config(path=nokey, text=text.replace(str(m.master_key), str(m.dir / "absent.key")))
    r = ctl(s, "config", "check", str(nokey), "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["errors"] == 1 and doc["file"] == str(nokey)
    assert [c["level"] for c in doc["checks"] if "master_key_file" in c["message"]] == ["error"]
    assert ctl(s, "config").returncode == 2


# --- Kit listings in the shared table format -----------------------------------------

def test_tenants_as_table_and_json(stack):
    tenant = "T" + uuid.uuid4().hex[:8]
    r = stack.call("tenantSync", {"tenantId": tenant, "tenantCode": "tc", "name": "Acme",
                                  "domainName": "https://acme.example.com", "flag": 1},
                   key=stack.keys["kit"], args=["--kit", "--test"])
    assert r.result_code == "000000", r.stderr
    rows = json.loads(stack.mkpd.mkpctl("tenants", "--json", check=True).stdout)
    [mine] = [t for t in rows if t["tenant_id"] == tenant]
    assert mine["name"] == "Acme" and mine["test"] is True and mine["deleted"] is False
    table = stack.mkpd.mkpctl("tenants", check=True).stdout.splitlines()
    assert table[0].split()[:3] == ["TENANT_ID", "TENANT_CODE", "NAME"]
    assert [l.split()[:3] for l in table if l.startswith(tenant)] == [[tenant, "tc", "Acme"]]


def display_columns(line):
    """Terminal column where each whitespace-separated field starts (CJK
    characters take two columns)."""
    import unicodedata
    cols, col, prev_space = [], 0, True
    for ch in line:
        if ch != " " and prev_space:
            cols.append(col)
        prev_space = ch == " "
        col += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return cols


def test_users_and_orgs_columns_align_with_chinese_names(stack):
    tenant = "T" + uuid.uuid4().hex[:8]

    def kit(activity, fields):
        r = stack.call(activity, dict(fields, tenantId=tenant), key=stack.keys["kit"],
                       args=["--kit", "--test"])
        assert r.result_code == "000000", r.stderr
    kit("tenantSync", {"tenantCode": "tc", "name": "Acme",
                       "domainName": "https://acme.example.com", "flag": 1})
    kit("allOrgSync", {"orgInfoList": [
        {"orgCode": "D0", "orgName": "总部", "parentCode": ""},
        {"orgCode": "D1", "orgName": "研发部", "parentCode": "D0"}]})
    kit("authSync", {"appId": "APP1", "flag": 1, "currentSyncTime": "20261201000000000",
                     "userList": [{"userName": "zhangsan01", "name": "张三", "orgCode": "D1",
                                   "role": "user", "enable": "true"},
                                  {"userName": "li", "name": "Li Lei", "orgCode": "D0",
                                   "role": "admin", "enable": "true"}]})
    for verb in ("users", "orgs"):
        lines = stack.mkpd.mkpctl(verb, tenant, check=True).stdout.splitlines()
        assert len(lines) == 3, lines
        # No value here holds a space but "Li Lei": compare the columns after NAME.
        heads = display_columns(lines[0])
        for line in lines[1:]:
            cols = display_columns(line.replace("Li Lei", "Li_Lei"))
            assert cols == heads, "%s: %r starts its columns at %s, the header at %s" % (
                verb, line, cols, heads)


# --- socket activation (etc/systemd/mkpd.socket) ----------------------------------

def test_socket_activation_serves_on_the_inherited_fd3(make_stack):
    """As systemd starts mkpd-activated.service: the listening socket on fd 3,
    LISTEN_PID and LISTEN_FDS set; [mkpd] listen is then never bound."""
    import socket
    import harness

    s = make_stack(start=False)
    m = s.mkpd
    unused = m.dir / "never-bound.sock"
    m.write_config({"mkpd.listen": str(unused)})
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(m.socket)		# where nginx was told to connect
        os.chmod(m.socket, 0o666)
        sock.listen(16)
        fd = sock.fileno()
        def as_systemd():
            # In the child, before exec: the socket on fd 3, LISTEN_PID its pid.
            os.dup2(fd, 3)
            os.environ["LISTEN_PID"] = str(os.getpid())
            os.environ["LISTEN_FDS"] = "1"

        with open(m.out_path, "ab") as out:
            m.proc = subprocess.Popen(
                [str(m.bin), "-c", str(m.conf_path)], pass_fds=[fd, 3],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=as_systemd)
        harness._live.append(m.proc)
        m.wait_log(r"systemd socket \(fd 3", timeout=30)
        s.nginx.start()
        r = wait_for(lambda: (lambda c: c if c.result_code == "000000" else None)(
            s.call("newInstance", order(), args=["--test"])), 30, what="a call through fd 3")
        assert r.body_sign == "ok"
        assert not unused.exists()
    finally:
        sock.close()


# --- the manual follows the dispatch table ------------------------------------------

def test_every_mkpctl_command_is_in_its_manual_page(build):
    usage = subprocess.run([str(build / "mkpctl"), "--help"], capture_output=True,
                           text=True, check=True).stdout
    commands = re.findall(r"^  ([a-z][a-z0-9-]*) ", usage.split("commands:", 1)[1], re.M)
    assert "instances" in commands and "keys" in commands
    page = (Path(__file__).resolve().parents[2] / "doc/man/mkpctl.8").read_text()
    documented = set(re.findall(r"^\.B ([a-z][a-z0-9-]*)", page, re.M))
    assert [c for c in commands if c not in documented] == []


def test_statements_lists_what_mkpd_prepares_and_each_prepares_on_the_schema(stack):
    listed = json.loads(stack.mkpd.mkpctl("statements", "--json", check=True).stdout)
    names = [s["name"] for s in listed]
    assert len(names) == len(set(names))
    # The statements of a V2 call, the jobs child (with its job kinds) and
    # the status child.
    for name in ("nonce_claim_strict", "audit_record", "instance_store_create", "instance_store_fetch_one",
                 "job_store_claim", "usage_store_ingest", "package_store_grant", "status_figures"):
        assert name in names
    # Each one is valid against the migrated schema as the daemons send it
    # (untyped parameters, as PQprepare without types).
    sql = "".join("PREPARE mkp_s%d AS %s;\n" % (i, s["sql"]) for i, s in enumerate(listed))
    stack.pg.psql(sql + "SELECT count(*) FROM pg_prepared_statements;")
    counts = {s["name"]: s["params"] for s in listed}
    assert counts["instance_store_fetch_one"] == 1 and counts["audit_record"] == 14

    one = stack.mkpd.mkpctl("statements", "instance_store_fetch_one", check=True).stdout
    assert one.strip() == [s["sql"] for s in listed if s["name"] == "instance_store_fetch_one"][0]
    missing = stack.mkpd.mkpctl("statements", "instance_store_fetch_one", "no_such_statement")
    assert missing.returncode == 1 and "no_such_statement" in missing.stderr
    assert missing.stdout == ""
# --- where the config comes from ---------------------------------------------------

def test_config_from_mkpd_conf_and_a_missing_one_names_both_ways(stack, tmp_path):
    """Without -c, MKPD_CONF names the config; with neither, the error says
    how to name one rather than only that a default path cannot be opened."""
    env = dict(os.environ, MKPD_CONF=str(stack.mkpd.conf_path))
    r = subprocess.run([str(stack.build / "mkpctl"), "version"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # -c wins over MKPD_CONF.
    env["MKPD_CONF"] = str(tmp_path / "none.conf")
    r = subprocess.run([str(stack.build / "mkpctl"), "-c", str(stack.mkpd.conf_path),
                        "version"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(stack.build / "mkpctl"), "tenants"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert str(tmp_path / "none.conf") in r.stderr
    assert "-c FILE" in r.stderr and "MKPD_CONF" in r.stderr, r.stderr

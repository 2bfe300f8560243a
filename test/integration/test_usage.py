"""Metered usage (issue 5): events in through the SQL function and
POST /-/usage, idempotent by event id, validated per event, booked into UTC
hour windows; an event for a window already closed into a record is booked
into the next open window of the instance, never dropped."""

import datetime
import decimal
import json
import os
import re
import signal
import subprocess

import pytest

from harness import wait_for


@pytest.fixture
def udb(build, pg, session_dir, keys):
    """A fresh migrated database with two instances (one released); yields
    a psql function bound to it."""
    from conftest import migrated_database
    dsn = migrated_database(build, pg, session_dir, keys, pg.create_database())
    db = re.search(r"dbname=(\S+)", dsn).group(1)
    pg.psql("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
            " charging_mode, state) VALUES"
            " ('i-on', 'o1', 'l1', 'b1', 'ON_DEMAND', 'active'),"
            " ('i-gone', 'o2', 'l2', 'b2', 'ON_DEMAND', 'released')", db=db)
    return lambda sql: pg.psql(sql, db=db)


def test_sql_ingest_validates_and_is_idempotent(udb):
    past = "date_trunc('hour', now()) - interval '1 hour' + interval '10 minutes'"
    assert udb("SELECT mkp_usage_ingest('e1', 'i-on', 1.25, %s)" % past) == "accepted"
    assert udb("SELECT mkp_usage_ingest('e1', 'i-on', 1.25, %s)" % past) == "duplicate"
    assert udb("SELECT mkp_usage_ingest('e2', 'i-on', 2.5, %s)" % past) == "accepted"
    assert udb("SELECT mkp_usage_ingest('e3', 'nope', 1, now())") == \
        "rejected: unknown instance"
    assert udb("SELECT mkp_usage_ingest('e4', 'i-gone', 1, now())") == \
        "rejected: instance released"
    assert udb("SELECT mkp_usage_ingest('e5', 'i-on', -1, now())").startswith(
        "rejected: value")
    assert udb("SELECT mkp_usage_ingest('e6', 'i-on', 1.23456, now())").startswith(
        "rejected: value")
    assert udb("SELECT mkp_usage_ingest('e7', 'i-on', 1, now() + interval '1 hour')") == \
        "rejected: time is in the future"
    assert udb("SELECT mkp_usage_ingest('e8', 'i-on', 1, now() - interval '30 days')") == \
        "rejected: time is older than the push horizon"
    assert udb("SELECT value, events FROM usage_hourly WHERE instance_id = 'i-on'") == \
        "3.7500|2"
    assert udb("SELECT count(*) FROM usage_unpushed WHERE state = 'open'") == "1"


def test_sql_batch_keeps_good_events_of_a_bad_batch(udb):
    out = udb("SELECT event_id, outcome, reason FROM mkp_usage_ingest_batch("
              "ARRAY['a','b','c'], ARRAY['i-on','i-on','nope'], ARRAY[NULL,'pkg1',NULL],"
              "ARRAY['1','2.0001','3'], ARRAY[now(), now(), now()]) ORDER BY 1")
    assert out == "c|rejected|unknown instance"
    assert udb("SELECT string_agg(event_id || ':' || pkg_instance_id || ':' || value, ','"
               " ORDER BY event_id) FROM usage_event") == "a::1.0000,b:pkg1:2.0001"


def test_sql_batch_counts_repeats_once_and_shifts_late_events(udb):
    hour = "date_trunc('hour', now()) - interval '2 hours'"
    assert udb("SELECT mkp_usage_ingest('x1', 'i-on', 1, %s + interval '5 minutes')"
               % hour) == "accepted"
    assert udb("SELECT mkp_usage_close_windows()") == "1"
    out = udb("SELECT event_id, outcome, coalesce(reason, '') FROM mkp_usage_ingest_batch("
              "ARRAY['n1', 'n1', 'late1', 'x1', 'bad', 'n2'],"
              " ARRAY['i-on', 'i-on', 'i-on', 'i-on', 'i-gone', 'i-on'],"
              " ARRAY[NULL, NULL, NULL, NULL, NULL, 'pkg'], ARRAY['1', '2', '3', '4', '5', '6'],"
              " ARRAY[now(), now(), %s + interval '10 minutes', %s + interval '5 minutes',"
              " now(), now()]) ORDER BY 1, 2" % (hour, hour))
    late_hour = udb("SELECT to_char((%s + interval '1 hour') AT TIME ZONE 'UTC',"
                    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')" % hour)
    assert out.splitlines() == [
        "bad|rejected|instance released",
        "late1|shifted|booked into " + late_hour,
        "n1|duplicate|",
        "x1|duplicate|"], out
    assert udb("SELECT string_agg(event_id || ':' || value || ':' || shifted, ','"
               " ORDER BY event_id) FROM usage_event") == \
        "late1:3.0000:true,n1:1.0000:false,n2:6.0000:false,x1:1.0000:false"
    assert udb("SELECT mkp_usage_ingest('n3', 'i-on', 1, now())") == "accepted"
    assert udb("SELECT count(*) FROM mkp_usage_ingest_batch('{}', '{}', '{}', '{}', '{}')") \
        == "0"


def test_sql_batch_answers_in_order_and_checks_values_as_before(udb):
    # The rows come as mkp_usage_ingest_batch has always given them: the
    # refused in the batch's order, then the repeats, then the ids stored
    # before; values are checked as '^[0-9]{1,16}(\.[0-9]{1,4})?$' says.
    assert udb("SELECT mkp_usage_ingest('old', 'i-on', 1, now())") == "accepted"
    vals = ["1.23456", "12345678901234567", "1.", ".5", "1e5", "+1", " 1", "1\n", "\uff11",
            "12345678901234567.1", "1234567890123456.12345", "", "1.2.3"]
    ids = ["v%d" % i for i in range(len(vals))]
    good = ["1.2345", "00012.5", "99999999.9999", "7"]
    gids = ["g%d" % i for i in range(len(good))]
    batch_ids = ["rep"] + ids[:6] + ["old", "rep"] + ids[6:] + gids
    batch_vals = ["2"] + vals[:6] + ["3", "4"] + vals[6:] + good
    lit = lambda xs: "ARRAY[%s]::text[]" % ", ".join(
        "'%s'" % x.replace("'", "''") for x in xs)
    n = len(batch_ids)
    out = udb("SELECT event_id, outcome, coalesce(reason, '') FROM mkp_usage_ingest_batch("
              "%s, %s, array_fill(NULL::text, ARRAY[%d]), %s, array_fill(now(), ARRAY[%d]))"
              % (lit(batch_ids), lit(["i-on"] * n), n, lit(batch_vals), n))
    why = "value must be a non-negative decimal with at most 4 decimals"
    assert out.split("\n") == ["%s|rejected|%s" % (i, why) for i in ids] + [
        "rep|duplicate|", "old|duplicate|"], out
    assert udb("SELECT string_agg(event_id || ':' || value, ',' ORDER BY event_id)"
               " FROM usage_event") == \
        "g0:1.2345,g1:12.5000,g2:99999999.9999,g3:7.0000,old:1.0000,rep:2.0000"


def test_sql_batch_waits_for_a_concurrent_twin_and_answers_duplicate(udb, pg):
    # A call storing an id another call is storing in the same hour waits
    # for it, then answers that id as a duplicate and takes the others.
    import subprocess
    db = udb("SELECT current_database()")
    t = udb("SELECT now() - interval '1 minute'")
    # The hour's record exists already: the second call waits on the event.
    assert udb("SELECT mkp_usage_ingest('pre', 'i-on', 1, '%s')" % t) == "accepted"

    def session(name):
        return subprocess.Popen(
            [str(pg.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", pg.host, "-p", str(pg.port), "-U", "postgres", "-d", db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=dict(os.environ, PGAPPNAME=name))

    def state(name):
        return udb("SELECT coalesce(max(state || ':' || coalesce(wait_event_type, '')), '')"
                   " FROM pg_stat_activity WHERE application_name = '%s'" % name)
    batch = ("SELECT event_id, outcome FROM mkp_usage_ingest_batch(%s, %s, %s, %s, %s);\n")
    first = session("twin-a")
    try:
        first.stdin.write("BEGIN;\n" + batch % (
            "ARRAY['z']", "ARRAY['i-on']", "ARRAY[NULL]", "ARRAY['1']",
            "ARRAY['%s']::timestamptz[]" % t))
        first.stdin.flush()
        wait_for(lambda: state("twin-a") == "idle in transaction:Client", 20,
                 what="the first call to hold its event")
        second = session("twin-b")
        second.stdin.write(batch % ("ARRAY['y1', 'z', 'y2']", "ARRAY['i-on', 'i-on', 'i-on']",
                                    "ARRAY[NULL, NULL, NULL]::text[]",
                                    "ARRAY['2', '2', '2']",
                                    "ARRAY['%s', '%s', '%s']::timestamptz[]" % (t, t, t)))
        second.stdin.flush()
        wait_for(lambda: state("twin-b") == "active:Lock", 20,
                 what="the second call to wait for the first")
        first.stdin.write("COMMIT;\n")
        first.stdin.flush()
        out, err = second.communicate(timeout=30)
        assert second.returncode == 0, err
        assert out.strip() == "z|duplicate", out + err
        first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert udb("SELECT string_agg(event_id || ':' || value, ',' ORDER BY event_id)"
               " FROM usage_event") == "pre:1.0000,y1:2.0000,y2:2.0000,z:1.0000"


RACE_SQL = """
CREATE PROCEDURE race_client(p_k int, p_rounds int, p_per int, INOUT p_errors text)
LANGUAGE plpgsql AS $$
BEGIN
    p_errors := '';
    FOR r IN 1 .. p_rounds LOOP
        PERFORM pg_advisory_lock_shared(42, r);    -- the start of round r, for all
        BEGIN
            PERFORM count(*) FROM mkp_usage_ingest_batch(
                (SELECT array_agg(format('e%s-%s-%s', r, p_k, i)) FROM generate_series(1, p_per) i),
                (SELECT array_agg(format('race-%s', (r - 1) * p_per + i))
                   FROM generate_series(1, p_per) i),
                array_fill(NULL::text, ARRAY[p_per]), array_fill('1'::text, ARRAY[p_per]),
                array_fill(now() - interval '2 hours', ARRAY[p_per]));
        EXCEPTION WHEN OTHERS THEN
            p_errors := p_errors || SQLERRM || chr(10);
        END;
        COMMIT;
        PERFORM pg_advisory_unlock_shared(42, r);
    END LOOP;
END
$$;
-- Lets round r begin once p_clients wait for it (at most 10 s a round).
CREATE PROCEDURE race_gate(p_rounds int, p_clients int)
LANGUAGE plpgsql AS $$
DECLARE
    v_until timestamptz;
BEGIN
    FOR r IN 1 .. p_rounds LOOP
        v_until := clock_timestamp() + interval '10 s';
        WHILE (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 42
                  AND objid = r AND NOT granted) < p_clients LOOP
            IF clock_timestamp() > v_until THEN
                RAISE EXCEPTION 'round %: the clients did not come', r;
            END IF;
            PERFORM pg_sleep(0.001);
        END LOOP;
        PERFORM pg_advisory_unlock(42, r);
    END LOOP;
END
$$;
"""


def test_ingests_making_the_same_hours_at_once_all_succeed(build, pg, session_dir, keys):
    """Four calls booking into the same new hours at the same moment: each
    makes the hours' records it needs (ON CONFLICT), and none may fail on
    the records' other key (metering_sn, a hash of the same hour) when the
    other call's record reaches it first. That failed about one round in
    ten, and mkpd answered the call as invalid (HTTP 400)."""
    from conftest import migrated_database
    dsn = migrated_database(build, pg, session_dir, keys, pg.create_database())
    db = re.search(r"dbname=(\S+)", dsn).group(1)
    rounds, per, clients = 150, 5, 4
    pg.psql("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
            " charging_mode, state) SELECT 'race-' || i, 'o' || i, 'l' || i, 'b' || i,"
            " 'ON_DEMAND', 'active' FROM generate_series(1, %d) i;" % (rounds * per)
            + RACE_SQL, db=db)

    def session(sql):
        return subprocess.Popen(
            [str(pg.bindir / "psql"), "-X", "-q", "-A", "-t", "-h", pg.host, "-p", str(pg.port),
             "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    gate = session(None)
    gate.stdin.write("SELECT count(pg_advisory_lock(42, r)) FROM generate_series(1, %d) r;\n"
                     % rounds)
    gate.stdin.flush()
    wait_for(lambda: pg.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                             " AND granted", db=db) == str(rounds), 10,
             what="the gate's locks")
    procs = [session(None) for _ in range(clients)]
    for k, proc in enumerate(procs):
        proc.stdin.write("CALL race_client(%d, %d, %d, NULL);\n" % (k, rounds, per))
    gate.stdin.write("CALL race_gate(%d, %d);\n" % (rounds, clients))
    for proc in procs + [gate]:
        proc.stdin.close()
        proc.stdin = None	# communicate() below only reads
    outs = [p.communicate(timeout=120) for p in procs + [gate]]
    assert [p.returncode for p in procs + [gate]] == [0] * (clients + 1), outs
    errors = [line for out, _ in outs[:clients] for line in out.splitlines() if line]
    assert errors == [], errors[:3]
    # Every event went in, into one record per instance and hour.
    assert pg.psql("SELECT count(*) || ' ' || count(DISTINCT window_begin)"
                   " FROM usage_event", db=db) == "%d 1" % (rounds * per * clients)
    assert pg.psql("SELECT count(*) FROM usage_record", db=db) == str(rounds * per)


def test_windows_close_into_one_record_and_late_events_shift(udb):
    hour = "date_trunc('hour', now()) - interval '2 hours'"
    for i, v in enumerate(("1", "2.5", "0.0001")):
        assert udb("SELECT mkp_usage_ingest('x%d', 'i-on', %s, %s + interval '%d minutes')"
                   % (i, v, hour, i + 1)) == "accepted"
    assert udb("SELECT mkp_usage_ingest('p1', 'i-on', 7, %s, 'pkg-9')" % hour) == "accepted"
    assert udb("SELECT mkp_usage_ingest('now1', 'i-on', 1, now())") == "accepted"
    assert udb("SELECT count(*) FROM usage_record WHERE state = 'open'") == "3"
    # Only the windows whose hour ended close; the current one stays open.
    assert udb("SELECT mkp_usage_close_windows()") == "2"
    assert udb("SELECT mkp_usage_close_windows()") == "0"
    assert udb("SELECT pkg_instance_id, value, state FROM usage_record"
               " WHERE window_begin = %s ORDER BY 1" % hour) == \
        "|3.5001|pending\npkg-9|7.0000|pending"
    # A late event for the closed hour goes to the next open hour, flagged.
    assert udb("SELECT mkp_usage_ingest('late', 'i-on', 4, %s + interval '6 minutes')"
               % hour).startswith("accepted: booked into ")
    assert udb("SELECT shifted, window_begin = %s + interval '1 hour' FROM usage_event"
               " WHERE event_id = 'late'" % hour) == "t|t"
    assert udb("SELECT value FROM usage_record WHERE window_begin = %s AND pkg_instance_id = ''"
               % hour) == "3.5001"
    assert udb("SELECT mkp_usage_close_windows()") == "1"
    assert udb("SELECT value, state FROM usage_record"
               " WHERE window_begin = %s + interval '1 hour'" % hour) == "4.0000|pending"
    sn = udb("SELECT metering_sn FROM usage_record WHERE window_begin = %s"
             " AND pkg_instance_id = ''" % hour)
    assert re.fullmatch(r"[0-9a-f]{64}", sn)
    assert udb("SELECT mkp_usage_metering_sn('i-on', '', %s)" % hour) == sn


def test_closing_an_hour_reads_each_event_once(udb):
    """Closing costs what the hour's events are: each record's events are
    read once to sum them. The sum was a scalar subquery that PostgreSQL
    copied into each of the six places of the UPDATE that use it, and a
    record with usage read its events six times."""
    hour = "date_trunc('hour', now()) - interval '2 hours'"

    def book(prefix, pkg, n):
        """The events the batch did not simply accept: none."""
        return udb("SELECT count(*) FROM mkp_usage_ingest_batch("
                   " array(SELECT '%s' || g FROM generate_series(1, %d) g),"
                   " array_fill('i-on'::text, ARRAY[%d]), array_fill(%s::text, ARRAY[%d]),"
                   " array_fill('0.5'::text, ARRAY[%d]),"
                   " array_fill(%s + interval '7 minutes', ARRAY[%d]))"
                   % (prefix, n, n, pkg, n, n, hour, n))

    assert book("e", "NULL", 40) == "0"
    assert book("p", "'pkg-9'", 25) == "0"
    assert udb("SELECT count(*) FROM usage_event") == "65"
    out = udb("BEGIN; SELECT mkp_usage_close_windows();"
              " SELECT sum(seq_tup_read + coalesce(idx_tup_fetch, 0))"
              "  FROM pg_stat_xact_user_tables WHERE relname LIKE 'usage_event%%';"
              " ROLLBACK").splitlines()
    assert out == ["2", "65"], out
    assert udb("SELECT mkp_usage_close_windows()") == "2"
    assert udb("SELECT pkg_instance_id, value, state FROM usage_record"
               " WHERE window_begin = %s ORDER BY 1" % hour) == \
        "|20.0000|pending\npkg-9|12.5000|pending"


TOKEN = "usage-token-0123456789"


def q(s, sql):
    """psql in this stack's own database."""
    return s.pg.psql(sql, db=re.search(r"dbname=(\S+)", s.dsn).group(1))


DASHBOARD = "https://dash.example.com/u/{instanceId}?from=mkp"


@pytest.fixture
def ustack(make_stack):
    s = make_stack({"usage": {"token": TOKEN, "push_interval": 0,
                              "dashboard_url": DASHBOARD},
                    "jobs": {"purge_interval": 0}},
                   fresh_db=True)
    q(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
         " charging_mode, state) VALUES"
         " ('i-a', 'o1', 'l1', 'b1', 'ON_DEMAND', 'active'),"
         " ('i-b', 'o3', 'l3', 'b3', 'ON_DEMAND', 'active'),"
         " ('i-gone', 'o2', 'l2', 'b2', 'ON_DEMAND', 'released')")
    return s


def post_usage(s, events, token=TOKEN, raw=None):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    body = raw if raw is not None else json.dumps({"events": events}).encode()
    status, _, out = s.http("POST", "/-/usage", body, headers)
    return status, (json.loads(out) if out.startswith(b"{") else out)


def past_hour(minutes):
    """An RFC 3339 time in the previous UTC hour."""
    now = datetime.datetime.now(datetime.timezone.utc)
    h = now.replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=1)
    return (h + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_ingest_needs_the_token(ustack):
    assert post_usage(ustack, [], token=None)[0] == 401
    assert post_usage(ustack, [], token="wrong")[0] == 401
    assert post_usage(ustack, [], token=TOKEN + "x")[0] == 401
    assert post_usage(ustack, [])[0] == 200


def test_ingest_is_off_without_a_token(stack):
    status, _, _ = stack.http("POST", "/-/usage", b'{"events":[]}',
                              {"Authorization": "Bearer x"})
    assert status == 404


def test_ingest_accepts_counts_duplicates_and_rejects_with_reasons(ustack):
    t = past_hour(10)
    status, ans = post_usage(ustack, [
        {"id": "ev1", "instanceId": "i-a", "value": "1.5", "time": t},
        {"id": "ev2", "instanceId": "i-a", "value": 2.25, "time": t},
        {"id": "ev3", "instanceId": "i-b", "packageInstanceId": "pkg-1", "value": "0.0001",
         "time": t},
    ])
    assert status == 200, ans
    assert ans == {"accepted": 3, "duplicates": 0, "rejected": []}
    status, ans = post_usage(ustack, [
        {"id": "ev1", "instanceId": "i-a", "value": "1.5", "time": t},
        {"id": "ev4", "instanceId": "i-a", "value": "3", "time": t},
        {"id": "bad1", "instanceId": "nope", "value": "1", "time": t},
        {"id": "bad2", "instanceId": "i-gone", "value": "1", "time": t},
        {"id": "bad3", "instanceId": "i-a", "value": "-1", "time": t},
        {"id": "bad4", "instanceId": "i-a", "value": "1.23456", "time": t},
        {"id": "bad5", "instanceId": "i-a", "value": "1e3", "time": t},
        {"id": "bad6", "instanceId": "i-a", "value": "1", "time": "2099-01-01T00:00:00Z"},
        {"id": "bad7", "instanceId": "i-a", "value": "1", "time": "2020-01-01T00:00:00Z"},
        {"id": "bad8", "instanceId": "i-a", "value": "1", "time": "2026-02-30T00:00:00Z"},
        {"id": "bad9", "instanceId": "i-a", "value": "1", "time": "2026-11-23T10:15:00+08:00"},
        {"id": "bad10", "instanceId": "i-a", "value": True, "time": t},
        {"instanceId": "i-a", "value": "1", "time": t},
    ])
    assert status == 200, ans
    assert ans["accepted"] == 1 and ans["duplicates"] == 1, ans
    reasons = {r["id"]: r["reason"] for r in ans["rejected"]}
    assert reasons == {
        "bad1": "unknown instance", "bad2": "instance released",
        "bad3": "value is negative", "bad4": "value has more than 4 decimals",
        "bad5": "value is not a decimal number", "bad6": "time is in the future",
        "bad7": "time is older than the push horizon",
        "bad8": "time is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)",
        "bad9": "time is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)",
        "bad10": "value must be a string or a number", "": "id missing"}, ans
    assert q(ustack, "SELECT string_agg(instance_id || ':' || pkg_instance_id || ':' || value,"
                     " ',' ORDER BY instance_id, pkg_instance_id) FROM usage_hourly") == \
        "i-a::6.7500,i-b:pkg-1:0.0001"
    assert q(ustack, "SELECT count(*) FROM callback_log WHERE activity = 'usage'") != "0"


def test_ingest_refuses_a_malformed_call(ustack):
    assert post_usage(ustack, None, raw=b"{nope")[0] == 400
    assert post_usage(ustack, None, raw=b'{"events":{}}')[0] == 400
    many = [{"id": "m%d" % i, "instanceId": "i-a", "value": "1", "time": past_hour(1)}
            for i in range(10001)]
    assert post_usage(ustack, many)[0] in (413,)


def test_ingest_takes_ten_thousand_events_in_one_call(ustack):
    t = past_hour(20)
    many = [{"id": "k%d" % i, "instanceId": "i-b", "value": "0.5", "time": t}
            for i in range(10000)]
    status, ans = post_usage(ustack, many)
    assert status == 200 and ans == {"accepted": 10000, "duplicates": 0, "rejected": []}, ans
    assert q(ustack, "SELECT value FROM usage_hourly WHERE instance_id = 'i-b'") == "5000.0000"


def test_usage_push_job_closes_ended_windows(ustack):
    """Without a marketplace account the job closes windows and leaves
    the records pending for one."""
    t = past_hour(30)
    status, ans = post_usage(ustack, [
        {"id": "c1", "instanceId": "i-a", "value": "1.1", "time": t},
        {"id": "c2", "instanceId": "i-a", "value": "2.2", "time": t},
        {"id": "c3", "instanceId": "i-b", "value": "5", "time": t},
    ])
    assert status == 200 and ans["accepted"] == 3, ans
    q(ustack, "INSERT INTO job (kind) VALUES ('usage_push')")
    wait_for(lambda: q(ustack, "SELECT count(*) FROM job WHERE kind = 'usage_push'"
                               " AND state = 'done'") == "1", what="the push job")
    assert q(ustack, "SELECT string_agg(instance_id || ':' || value || ':' || state, ','"
                     " ORDER BY instance_id) FROM usage_record") == \
        "i-a:3.3000:pending,i-b:5.0000:pending"


USAGE_KEY = "usage-interface-key-for-tests"


@pytest.fixture
def pushing(make_stack, make_sim_server):
    """A stack pushing to mkp-sim serve (which checks both signatures)."""
    sim = make_sim_server(args=["--usage-key", USAGE_KEY])
    s = make_stack({
        "usage": {"token": TOKEN, "push_interval": 0, "usage_key": USAGE_KEY},
        "marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "", "ak": sim.ak,
                        "sk": sim.sk, "connect_timeout": 1000, "timeout": 2000},
        "jobs": {"purge_interval": 0, "backoff_base": 1, "backoff_max": 1,
                 "max_attempts": 5},
    }, fresh_db=True)
    q(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
         " charging_mode, state) VALUES"
         " ('i-a', 'o1', 'l1', 'b1', 'ON_DEMAND', 'active'),"
         " ('i-b', 'o3', 'l3', 'b3', 'ON_DEMAND', 'active')")
    return s, sim


def push_now(s):
    before = q(s, "SELECT count(*) FROM job WHERE kind = 'usage_push' AND state = 'done'")
    q(s, "INSERT INTO job (kind) VALUES ('usage_push')")
    wait_for(lambda: q(s, "SELECT count(*) FROM job WHERE kind = 'usage_push'"
                          " AND state IN ('queued', 'running')") == "0"
             and q(s, "SELECT count(*) FROM job WHERE kind = 'usage_push'"
                      " AND state = 'done'") != before,
             timeout=20, what="the push job")


def sim_usage(sim):
    return sim._control("GET", "usage")


def hour_begin():
    now = datetime.datetime.now(datetime.timezone.utc)
    h = now.replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=1)
    return h.strftime("%Y%m%dT%H%M%SZ")


def test_closed_hours_are_pushed_once_signed(pushing):
    s, sim = pushing
    hb = hour_begin()
    t = past_hour(30)
    status, ans = post_usage(s, [
        {"id": "p1", "instanceId": "i-a", "value": "1.1", "time": t},
        {"id": "p2", "instanceId": "i-a", "value": "2.2", "time": past_hour(59)},
        {"id": "p3", "instanceId": "i-b", "packageInstanceId": "pkg-7", "value": "5",
         "time": t},
    ])
    assert status == 200 and ans["accepted"] == 3, ans
    push_now(s)
    got = sim_usage(sim)
    assert got["pushes"] == 1, got
    recs = {(r["instance_id"], r["begin_time"]): r for r in got["records"]}
    assert set(recs) == {("i-a", hb), ("i-b", hb)}, got
    assert recs[("i-a", hb)]["usage_value"] == "3.3"
    assert recs[("i-b", hb)]["usage_value"] == "5"
    assert recs[("i-b", hb)]["relate_pkg_instance"] == "pkg-7"
    assert all(r["duplicates"] == 0 for r in got["records"])
    # mkp-sim serve prints what it received, per instance and hour.
    end = (datetime.datetime.strptime(hb, "%Y%m%dT%H%M%SZ")
           + datetime.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    assert "usage-data: push 1: instance i-a hour %s-%s usage_value 3.3 kept" % (
        hb, end) in sim.log(), sim.log()
    assert q(s, "SELECT string_agg(state, ',') FROM usage_record") == "delivered,delivered"
    assert q(s, "SELECT records, http_status, result_code FROM usage_push") == "2|200|MKT.0000"
    # Pushing again sends nothing: delivered is final.
    push_now(s)
    assert sim_usage(sim)["pushes"] == 1
    # A late event for the pushed hour is booked into the next one.
    status, ans = post_usage(s, [{"id": "late", "instanceId": "i-a", "value": "4",
                                  "time": past_hour(45)}])
    assert status == 200 and ans == {"accepted": 1, "duplicates": 0, "rejected": []}, ans
    assert "late event late of instance i-a booked into" in s.mkpd.log()
    assert q(s, "SELECT shifted, window_begin = date_trunc('hour', now())"
                " FROM usage_event WHERE event_id = 'late'") == "t|t"
    assert q(s, "SELECT state FROM usage_record WHERE window_begin = date_trunc('hour', now())"
                " AND instance_id = 'i-a'") == "open"


def test_a_failing_marketplace_gets_the_records_once_it_recovers(pushing):
    s, sim = pushing
    status, ans = post_usage(s, [{"id": "f1", "instanceId": "i-a", "value": "0.5",
                                  "time": past_hour(5)}])
    assert status == 200 and ans["accepted"] == 1, ans
    sim.fail("5xx", count=2)
    push_now(s)
    got = sim_usage(sim)
    assert got["pushes"] == 1, got
    assert [(r["instance_id"], r["usage_value"], r["duplicates"]) for r in got["records"]] \
        == [("i-a", "0.5", 0)]
    assert q(s, "SELECT state FROM usage_record") == "delivered"
    assert q(s, "SELECT attempts FROM job WHERE kind = 'usage_push'") == "3"


def test_a_refused_batch_fails_with_the_reason(make_stack, make_sim_server):
    sim = make_sim_server(args=["--usage-key", "not-the-key-mkpd-signs-with"])
    s = make_stack({
        "usage": {"token": TOKEN, "push_interval": 0, "usage_key": USAGE_KEY},
        "marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "", "ak": sim.ak,
                        "sk": sim.sk, "connect_timeout": 1000, "timeout": 2000},
        "jobs": {"purge_interval": 0, "backoff_base": 1, "backoff_max": 1},
    }, fresh_db=True)
    q(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
         " charging_mode, state) VALUES ('i-a', 'o1', 'l1', 'b1', 'ON_DEMAND', 'active')")
    assert post_usage(s, [{"id": "r1", "instanceId": "i-a", "value": "1",
                           "time": past_hour(5)}])[1]["accepted"] == 1
    push_now(s)
    assert sim_usage(sim)["pushes"] == 0
    assert q(s, "SELECT state, fail_reason, attempts FROM usage_record") == \
        "failed|MKT.0102: Invalid body sign|1"
    assert q(s, "SELECT http_status, result_code FROM usage_push") == "400|MKT.0102"
    assert q(s, "SELECT count(*) FROM usage_unpushed WHERE state = 'failed'") == "1"


def test_a_claim_is_exclusive_until_its_lease_runs_out(udb):
    for h in (2, 3):
        udb("INSERT INTO usage_record (instance_id, window_begin, window_end, value,"
            " metering_sn, state) VALUES ('i-on', date_trunc('hour', now()) - interval"
            " '%d hours', date_trunc('hour', now()) - interval '%d hours', 1.5,"
            " 'sn%d', 'pending')" % (h, h - 1, h))
    claim = ("SELECT push_id, string_agg(metering_sn, ',' ORDER BY id) FROM mkp_usage_claim("
             "10, interval '1 hour', '%s', 'req') GROUP BY push_id")
    first, sns = udb(claim % "host-a:1").split("|")
    assert sns == "sn2,sn3"
    assert udb("SELECT string_agg(DISTINCT state || ':' || claimed_by, ',') FROM usage_record")\
        == "sending:host-a:1"
    # Claimed: nobody else takes them, and no empty attempt is written.
    assert udb(claim % "host-b:2") == ""
    assert udb("SELECT count(*) FROM usage_push") == "1"
    # Its pusher died: once the lease ran out they go again, unchanged.
    udb("UPDATE usage_record SET lease_until = now() - interval '1 second'")
    second, sns = udb(claim % "host-b:2").split("|")
    assert sns == "sn2,sn3" and second != first
    assert udb("SELECT outcome, finished_at IS NOT NULL FROM usage_push WHERE id = %s"
               % first) == "retry|t"
    # The first pusher's late answer changes nothing; the second's settles.
    assert udb("SELECT mkp_usage_settle(%s, 'delivered', NULL, 200, 'MKT.0000', '')"
               % first) == "0"
    assert udb("SELECT mkp_usage_settle(%s, 'failed', 'MKT.0101: bad', 400, 'MKT.0101',"
               " '')" % second) == "2"
    assert udb("SELECT string_agg(state || ':' || fail_reason || ':' || attempts, ','"
               " ORDER BY id) FROM usage_record") == \
        "failed:MKT.0101: bad:2,failed:MKT.0101: bad:2"
    assert udb("SELECT count(*) FROM usage_unpushed WHERE state = 'failed'") == "2"
    # A person retries them: pending again, the reason kept as last_error.
    assert udb("SELECT mkp_usage_retry(NULL)") == "2"
    assert udb("SELECT string_agg(DISTINCT state || ':' || last_error, ',')"
               " FROM usage_record") == "pending:MKT.0101: bad"
    assert udb("SELECT outcome, http_status, result_code, records"
               " FROM usage_push_history WHERE id = %s" % second) == "failed|400|MKT.0101|2"


def test_records_past_21_days_expire(udb):
    udb("INSERT INTO usage_record (instance_id, window_begin, window_end, value,"
        " metering_sn, state) VALUES ('i-on', date_trunc('hour', now()) - interval '22 days',"
        " date_trunc('hour', now()) - interval '22 days' + interval '1 hour', 1, 'old', 'pending')")
    udb("SELECT mkp_usage_close_windows()")
    assert udb("SELECT state, fail_reason FROM usage_record") == \
        "expired|begin_time older than 21 days"


def test_query_instance_shows_cumulative_usage(ustack):
    q(ustack, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
              " charging_mode, state) VALUES ('pkg 1', 'o9', 'l9', 'b9', 'ON_DEMAND_PKG',"
              " 'active')")
    assert post_usage(ustack, [
        {"id": "u1", "instanceId": "i-a", "value": "1.25", "time": past_hour(1)},
        {"id": "u2", "instanceId": "i-a", "value": "2", "time": past_hour(2)},
        {"id": "u3", "instanceId": "i-b", "packageInstanceId": "pkg 1", "value": "0.5",
         "time": past_hour(3)},
        {"id": "u4", "instanceId": "i-b", "packageInstanceId": "pkg 1", "value": "0.0025",
         "time": past_hour(4)},
    ])[1]["accepted"] == 4

    def usage_info(instance):
        code, ans, err = ustack.call("queryInstance", {"instanceId": instance})
        assert code == 0, err
        assert ans["info"][0]["instanceId"] == instance
        return ans["info"][0].get("usageInfo")

    # Open hours count by their events, closed ones by their records.
    for closed in (False, True):
        if closed:
            assert q(ustack, "SELECT mkp_usage_close_windows()") == "2"
        info = usage_info("i-a")
        assert info[0]["usageValue"] == 3.25, info
        assert re.fullmatch(r"\d{17}", info[0]["statisticalTime"]), info
        assert info[0]["dashboardUrl"] == "https://dash.example.com/u/i-a?from=mkp"
        assert "relatedInstanceId" not in info[0]
        # A package: what was drawn from it, and by which on-demand instance.
        info = usage_info("pkg 1")
        assert info[0]["usageValue"] == 0.5025, info
        assert info[0]["relatedInstanceId"] == "i-b", info
        assert info[0]["dashboardUrl"] == "https://dash.example.com/u/pkg%201?from=mkp"
        assert usage_info("i-b")[0]["usageValue"] == 0.5025
    q(ustack, "UPDATE instance SET charging_mode = 'PERIOD' WHERE instance_id = 'i-a'")
    assert usage_info("i-a") is None


def test_query_instance_plan_does_not_grow_with_the_months_kept(udb, build):
    """queryInstance's fetch is set up by the executor at every call: what
    it plans must not grow with usage_record's months (two years of them in
    production), for any instance. A package's drawer and an on-demand
    instance's sum run in functions, for those instances only."""
    sql = subprocess.run([str(build / "mkpctl"), "statements", "instance_store_fetch_one"],
                         capture_output=True, text=True, check=True).stdout.strip()

    def plan():
        # Six executions first: PostgreSQL keeps the generic plan from then on.
        out = udb("PREPARE f(text) AS %s; %s EXPLAIN (COSTS OFF) EXECUTE f('i-on');"
                  " DEALLOCATE f" % (sql, "EXECUTE f('i-on'); " * 6))
        return "\n".join(x for x in out.splitlines() if not x.startswith("i-on|"))

    few = plan()
    assert udb("SELECT count(*) FROM (SELECT mkp_partition_ensure(t, now()"
               " - make_interval(months => k)) FROM unnest(ARRAY['usage_record',"
               " 'usage_event']) t, generate_series(1, 24) k) s") == "48"
    many = plan()
    assert "usage_record" not in many and "usage_event" not in many, many
    assert many == few, many


def test_status_counts_read_indexes_not_every_month(udb, build):
    """Every host's status child counts the unsent and failed records once a
    second: through the partial indexes of those few records, never by
    reading every record of every month kept (12.5 million in two years)."""
    sql = subprocess.run([str(build / "mkpctl"), "statements", "usage_store_status"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert udb("SELECT count(*) FROM (SELECT mkp_partition_ensure('usage_record', now()"
               " - make_interval(months => k)) FROM generate_series(1, 24) k) s") == "24"
    # Tables this small are read whole when allowed to: forbidden, a plan
    # that can use the indexes does, and one that cannot still scans.
    plan = udb("SET enable_seqscan = off; EXPLAIN (COSTS OFF) %s" % sql)
    scans = [x.strip() for x in plan.splitlines() if "usage_record" in x]
    assert scans and not [x for x in scans if "Seq Scan" in x], plan


def test_no_statement_of_mkpd_is_compiled_by_jit(make_stack):
    """mkpd's connections turn JIT off: PostgreSQL compiles a statement
    whose estimated cost passes jit_above_cost, which the usage statements'
    estimates over two years of months do (2.4 s of compiling for an ingest
    of 0.3 s). Here every statement passes it (jit_above_cost 0), and
    auto_explain logs whether each was compiled."""
    s = make_stack({"usage": {"token": TOKEN, "push_interval": 0},
                    "jobs": {"purge_interval": 0}}, fresh_db=True, start=False)
    db = re.search(r"dbname=(\S+)", s.dsn).group(1)
    for setting in ("jit = on", "jit_above_cost = 0", "session_preload_libraries = auto_explain",
                    "auto_explain.log_min_duration = 0",
                    "auto_explain.log_nested_statements = on"):
        s.pg.psql("ALTER DATABASE %s SET %s" % (db, setting), db=db)
    if q(s, "SELECT pg_jit_available()") != "t":
        pytest.skip("this PostgreSQL has no JIT (llvmjit)")
    q(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
         " charging_mode, state) VALUES ('i-a', 'o1', 'l1', 'b1', 'ON_DEMAND', 'active')")
    log = s.pg.logfile
    mark = log.stat().st_size

    def compiled(after):
        """The query texts auto_explain logged as compiled by JIT since
        the statement naming `after` (the log may lag behind statements)."""
        with open(log, "rb") as f:
            f.seek(mark)
            text = f.read().decode(errors="replace")
        text = text[text.index(after):] if after in text else ""
        entries = re.split(r"\n(?=\d{4}-\d\d-\d\d )", text)
        return [re.search(r"Query Text: (.*)", e).group(1) for e in entries
                if "JIT:" in e and "Query Text:" in e], text

    q(s, "SELECT 'mkpd starts'")
    s.start()
    status, ans = post_usage(s, [{"id": "jit-%d" % i, "instanceId": "i-a", "value": 1,
                                  "time": past_hour(i)} for i in range(20)])
    assert status == 200 and ans["accepted"] == 20, ans
    assert s.call("queryInstance", {"instanceId": "i-a"})[1]["resultCode"] is not None
    # The ingest's and queryInstance's statements, as auto_explain logs them.
    wait_for(lambda: "mkp_usage_ingest_batch" in compiled("mkpd starts")[1] and
             "mkp_usage_cumulative" in compiled("mkpd starts")[1],
             10, what="auto_explain's plans of mkpd's statements")
    # Only the statement that turns JIT off runs with it on.
    assert [x for x in compiled("mkpd starts")[0] if "set_config('jit', 'off'" not in x] == []
    # This session is not mkpd's: its statement is compiled (the check can fail).
    q(s, "SELECT 'psql', count(*) FROM usage_event")
    wait_for(lambda: any("'psql'" in x for x in compiled("mkpd starts")[0]), 10,
             what="a psql statement compiled by JIT")


def test_cumulative_usage_is_kept_as_records_close_change_move_and_go(udb):
    """queryInstance's cumulative usage is usage_total (records no longer
    open, kept by triggers on usage_record, months dropped included) plus
    the open hours' events: every way a record is written keeps it equal to
    the sum over the records, without reading them."""
    def cumulative():
        return udb("SELECT mkp_usage_cumulative('i-on', false)")

    def total():
        return udb("SELECT coalesce(sum(value), 0) || '/' || coalesce(sum(records), 0)"
                   " FROM usage_total WHERE instance_id = 'i-on'")

    udb("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
        " charging_mode, state) VALUES ('p-1', 'o3', 'l3', 'b3', 'ON_DEMAND_PKG', 'active')")
    old = "date_trunc('month', now()) - interval '3 months'"
    # Written closed (as a DBA or an older mkpd might), and open with events.
    udb("INSERT INTO usage_record (instance_id, window_begin, window_end, value, metering_sn,"
        " state) VALUES ('i-on', %s, %s + interval '1 hour', 2.5, 'm1', 'delivered'),"
        " ('i-on', date_trunc('hour', now()), date_trunc('hour', now()) + interval '1 hour',"
        " 0, 'm2', 'open');"
        "INSERT INTO usage_event (event_id, instance_id, value, event_time, window_begin)"
        " VALUES ('e1', 'i-on', 1.25, now(), date_trunc('hour', now()))" % (old, old))
    assert (cumulative(), total()) == ("3.7500", "2.5000/1")
    # Closing the hour moves its events into the record, and so into the total.
    udb("UPDATE usage_record SET state = 'pending', value = 1.25 WHERE metering_sn = 'm2'")
    assert (cumulative(), total()) == ("3.7500", "3.7500/2")
    # A record's value changed after closing, then pushed: the total follows.
    udb("UPDATE usage_record SET value = 2 WHERE metering_sn = 'm2'")
    udb("UPDATE usage_record SET state = 'delivered' WHERE metering_sn = 'm2'")
    assert (cumulative(), total()) == ("4.5000", "4.5000/2")
    # A package's draw is counted on the package's side too.
    udb("INSERT INTO usage_record (instance_id, pkg_instance_id, window_begin, window_end,"
        " value, metering_sn, state) VALUES ('i-on', 'p-1', %s, %s + interval '1 hour', 0.5,"
        " 'm3', 'pending')" % (old, old))
    assert udb("SELECT mkp_usage_cumulative('p-1', true)") == "0.5000"
    assert cumulative() == "5.0000"
    # Rows moved into their month's partition, and the month dropped: kept.
    assert udb("SELECT mkp_partitions_ensure(0) > 0") == "t"
    assert udb("SELECT count(*) FROM usage_record_default") == "0"
    assert cumulative() == "5.0000"
    udb("UPDATE usage_record SET state = 'delivered'")
    udb("SELECT count(*) FROM mkp_usage_drop_before(date_trunc('month', now())"
        " - interval '2 months')")
    assert udb("SELECT count(*) FROM usage_record") == "1"
    assert (cumulative(), udb("SELECT mkp_usage_cumulative('p-1', true)")) == \
        ("5.0000", "0.5000")
    # A record deleted is taken out.
    udb("DELETE FROM usage_record")
    assert (cumulative(), total()) == ("3.0000", "3.0000/2")


# --- exactly once under faults (issue 5, "Done when") ------------------------

def push_stack(make_stack, sim, dsn=None, **over):
    """A stack pushing to sim; over: extra [section] dicts merged in."""
    cfg = {
        "usage": {"token": TOKEN, "push_interval": 0, "usage_key": USAGE_KEY},
        "marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "", "ak": sim.ak,
                        "sk": sim.sk, "connect_timeout": 1000, "timeout": 2000},
        "jobs": {"purge_interval": 0, "backoff_base": 1, "backoff_max": 1,
                 "max_attempts": 20},
    }
    for section, opts in over.items():
        cfg.setdefault(section, {}).update(opts)
    if dsn is not None:
        return make_stack(cfg, dsn=dsn)
    return make_stack(cfg, fresh_db=True)


def add_instances(s, ids):
    q(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
         " charging_mode, state) VALUES " +
         ", ".join("('%s', 'o-%s', 'l-%s', 'b-%s', 'ON_DEMAND', 'active')" % (i, i, i, i)
                   for i in ids))


def this_hour():
    return datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0,
                                                                microsecond=0)


def events_for(instances, hours, per_hour, prefix, top=None):
    """Events spread over the given past hours (1 = the hour before top,
    default the current UTC hour), with 4-decimal values; and the sums the
    marketplace must receive, keyed (instance, begin_time)."""
    top = top or this_hour()
    events, sums = [], {}
    n = 0
    for inst in instances:
        for h in hours:
            begin = top - datetime.timedelta(hours=h)
            for k in range(per_hour):
                n += 1
                value = decimal.Decimal(n * 7919 % 100000) / 10000   # 0.0000 .. 9.9999
                if value == 0:
                    value = decimal.Decimal("0.0001")
                t = begin + datetime.timedelta(minutes=k * 59 // per_hour, seconds=n % 60)
                events.append({"id": "%s-%d" % (prefix, n), "instanceId": inst,
                               "value": str(value), "time": t.strftime("%Y-%m-%dT%H:%M:%SZ")})
                key = (inst, begin.strftime("%Y%m%dT%H%M%SZ"))
                sums[key] = sums.get(key, decimal.Decimal(0)) + value
    return events, sums


def assert_received_once(sim, sums, max_duplicates=0):
    """mkp-sim kept exactly one record per (instance, hour), each with the
    events' sum to 4 decimals."""
    got = sim_usage(sim)
    keys = [(r["instance_id"], r["begin_time"]) for r in got["records"]]
    assert sorted(keys) == sorted(sums), got
    for r in got["records"]:
        key = (r["instance_id"], r["begin_time"])
        assert decimal.Decimal(r["usage_value"]) == sums[key], (key, r, sums[key])
        assert r["duplicates"] <= max_duplicates, r
    return got


def all_delivered(s):
    return q(s, "SELECT count(*) FROM usage_record WHERE state <> 'delivered'") == "0" \
        and q(s, "SELECT count(*) FROM usage_record") != "0"


def test_push_gets_through_5xx_429_and_timeouts_exactly_once(make_stack, make_sim_server):
    sim = make_sim_server(args=["--usage-key", USAGE_KEY])
    s = push_stack(make_stack, sim, usage={"batch_size": 3})
    insts = ["q-%d" % i for i in range(4)]
    add_instances(s, insts)
    sums = {}
    top = this_hour()   # once: the phases' hours stay apart across an hour's end
    # One fault per phase, each phase its own hour of events, pushed to the end.
    for hour, fault in ((3, ("429", 2, None)), (2, ("timeout", 1, None)),
                        (1, ("5xx", 1, 503))):
        events, phase = events_for(insts, (hour,), 5, "q%d" % hour, top)
        sums.update(phase)
        status, ans = post_usage(s, events)
        assert status == 200 and ans["accepted"] == len(events), ans
        # The same events again: counted once.
        assert post_usage(s, events[:7])[1] == \
            {"accepted": 0, "duplicates": 7, "rejected": []}
        mode, count, code = fault
        sim.fail(mode, count=count, delay_ms=3000 if mode == "timeout" else None,
                 status=code)
        q(s, "INSERT INTO job (kind) VALUES ('usage_push')")
        wait_for(lambda: all_delivered(s), timeout=60, what="every record delivered")
    assert_received_once(sim, sums)
    # Every attempt is history: 2 throttled, 1 unanswered, 1 503, and two
    # batches of at most 3 records for each hour's 4 records.
    hist = q(s, "SELECT outcome, coalesce(http_status::text, '-'), count(*)"
                " FROM usage_push_history GROUP BY 1, 2 ORDER BY 1, 2")
    assert hist == "delivered|200|6\nretry|-|1\nretry|429|2\nretry|503|1", hist
    assert q(s, "SELECT count(*) FROM usage_push WHERE outcome = 'retry'"
                " AND error LIKE 'HTTP 429 APIG.0308%'") == "2"
    assert q(s, "SELECT sum(records) FROM usage_push WHERE outcome = 'delivered'") == \
        str(len(sums))
    # The records of a retried batch say how many attempts they took.
    assert q(s, "SELECT count(*) FROM usage_record WHERE attempts = 3") == "3"


def test_a_pusher_killed_mid_batch_loses_nothing_and_sends_once(make_stack,
                                                                 make_sim_server):
    from harness import is_jobs_child
    sim = make_sim_server(args=["--usage-key", USAGE_KEY])
    # The claim lasts timeout + connect_timeout + 30 s at least; keep it short.
    s = push_stack(make_stack, sim, usage={"batch_size": 1000, "push_interval": 1},
                   marketplace={"connect_timeout": 500, "timeout": 4000},
                   jobs={"lease": 1})
    insts = ["k-%d" % i for i in range(3)]
    add_instances(s, insts)
    events, sums = events_for(insts, (1, 3), 4, "k")
    sim.fail("slow", count=1, delay_ms=3000)
    assert post_usage(s, events)[1]["accepted"] == len(events)
    # The claim is committed before the call: the batch is seen in flight.
    wait_for(lambda: q(s, "SELECT count(*) FROM usage_record WHERE state = 'sending'")
             == str(len(sums)), timeout=20, what="the batch in flight")
    jobs = [p for p in s.mkpd.children() if is_jobs_child(p)]
    assert len(jobs) == 1, jobs
    os.kill(jobs[0], signal.SIGKILL)
    wait_for(lambda: [p for p in s.mkpd.children() if is_jobs_child(p)
                      and p != jobs[0]], timeout=20, what="a new jobs child")
    wait_for(lambda: all_delivered(s), timeout=90, what="every record delivered")
    # The batch may have reached the marketplace before the kill: then it
    # came twice, identical, and was kept once.
    got = assert_received_once(sim, sums, max_duplicates=1)
    sn = dict(row.split("|") for row in q(
        s, "SELECT instance_id || ' ' || to_char(window_begin AT TIME ZONE 'UTC',"
           " 'YYYYMMDD\"T\"HH24MISS\"Z\"'), metering_sn FROM usage_record").splitlines())
    assert {(r["instance_id"] + " " + r["begin_time"]): r["metering_sn"]
            for r in got["records"]} == sn
    # The killed attempt is history too, ended by the one that took over.
    assert q(s, "SELECT outcome, error FROM usage_push ORDER BY id LIMIT 1") == \
        "retry|no answer recorded: the pusher stopped, its claim ran out"
    assert q(s, "SELECT outcome FROM usage_push ORDER BY id DESC LIMIT 1") == "delivered"
    assert q(s, "SELECT max(attempts) FROM usage_record") == "2"


def test_two_hosts_on_one_database_push_each_record_once(make_stack, make_sim_server):
    sim = make_sim_server(args=["--usage-key", USAGE_KEY])
    s1 = push_stack(make_stack, sim, usage={"batch_size": 2})
    s2 = push_stack(make_stack, sim, dsn=s1.dsn, usage={"batch_size": 2})
    insts = ["h-%d" % i for i in range(8)]
    add_instances(s1, insts)
    events, sums = events_for(insts, (1, 2), 3, "h")
    # Half the events through each host.
    assert post_usage(s1, events[0::2])[1]["accepted"] == len(events[0::2])
    assert post_usage(s2, events[1::2])[1]["accepted"] == len(events[1::2])
    # Slow answers keep pushes of both hosts under way at once.
    sim.fail("slow", count=1000, delay_ms=300)
    q(s1, "INSERT INTO job (kind) SELECT 'usage_push' FROM generate_series(1, 8)")
    wait_for(lambda: all_delivered(s1), timeout=90, what="every record delivered")
    assert_received_once(sim, sums)
    assert q(s1, "SELECT count(DISTINCT pushed_by) FROM usage_push") == "2"
    assert q(s1, "SELECT count(*) FROM usage_push WHERE outcome <> 'delivered'") == "0"
    assert q(s1, "SELECT sum(records) FROM usage_push") == str(len(sums))


# --- mkpctl usage --------------------------------------------------------------

def ctl_json(s, *args):
    r = s.mkpd.mkpctl("usage", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_mkpctl_usage_reports_pushes_now_and_retries(make_stack, make_sim_server):
    sim = make_sim_server(args=["--usage-key", USAGE_KEY])
    s = push_stack(make_stack, sim)
    add_instances(s, ["m-1", "m-2"])
    events, sums = events_for(["m-1", "m-2"], (2,), 3, "m")
    assert post_usage(s, events)[1]["accepted"] == 6
    hour = next(iter(sums))[1]
    iso = "%s-%s-%sT%s:00:00Z" % (hour[0:4], hour[4:6], hour[6:8], hour[9:11])
    # The hourly report, before the hour is closed into a record.
    rows = ctl_json(s)
    assert [(r["instanceId"], r["hour"], decimal.Decimal(str(r["value"])), r["events"],
             r["state"]) for r in rows] == \
        [("m-1", iso, sums[("m-1", hour)], 3, "open"),
         ("m-2", iso, sums[("m-2", hour)], 3, "open")], rows
    r = s.mkpd.mkpctl("usage", "m-2")
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[0].split()[:3] == ["INSTANCE", "PACKAGE", "HOUR"], \
        r.stdout
    assert len(lines) == 2 and lines[1].split()[:2] == ["m-2", iso], r.stdout
    # A refusal by the marketplace: the batch fails, with why.
    sim.fail("refuse", count=1)
    r = s.mkpd.mkpctl("usage", "push", "--now")
    assert r.returncode == 1 and "closed 2 window(s)" in r.stdout, (r.stdout, r.stderr)
    assert "refused: MKT.0101: Invalid parameter" in r.stderr, r.stderr
    failed = ctl_json(s, "failed")
    assert [(f["instanceId"], f["state"], f["attempts"], f["reason"], f["atRisk"])
            for f in failed] == [("m-1", "failed", 1, "MKT.0101: Invalid parameter", True),
                                 ("m-2", "failed", 1, "MKT.0101: Invalid parameter", True)], failed
    # A failed record waits for a person: at risk.
    st = ctl_json(s, "status")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", st.pop("lastAttempt")), st
    assert st == {"pending": 0, "sending": 0, "atRisk": 2, "failed": 2, "lastPush": None,
                  "lastOutcome": "failed"}, st
    # The attempt that failed and the (absent) delivery, each with its own time.
    r = s.mkpd.mkpctl("usage", "status")
    assert re.search(r"^last attempt:  \S+Z, failed$", r.stdout, re.M), r.stdout
    assert re.search(r"^last delivery: never$", r.stdout, re.M), r.stdout
    r = s.mkpd.mkpctl("usage", "failed")
    assert r.stdout.splitlines()[0].split() == \
        ["ID", "INSTANCE", "PACKAGE", "HOUR", "(UTC)", "VALUE", "STATE", "ATTEMPTS",
         "AT_RISK", "REASON"], r.stdout
    # Retry: one unknown record is refused, --all makes them pending again.
    r = s.mkpd.mkpctl("usage", "retry", "999999")
    assert r.returncode == 1 and "is not failed" in r.stderr
    r = s.mkpd.mkpctl("usage", "retry", "--all")
    assert r.returncode == 0 and r.stdout.startswith("2 record(s) pending again"), r.stdout
    pending = ctl_json(s, "pending")
    # Closed more than an hour ago: at risk of missing the 2-hour target.
    assert [(p["state"], p["reason"], p["atRisk"]) for p in pending] == \
        [("pending", "MKT.0101: Invalid parameter", True)] * 2, pending
    assert ctl_json(s, "status")["atRisk"] == 2
    # push --now sends every closed hour at once, whatever the minute.
    r = s.mkpd.mkpctl("usage", "push", "--now")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "2 record(s) delivered in 1 push(es)", r.stdout
    assert "usage ALERT" in r.stderr
    assert_received_once(sim, sums)
    hist = ctl_json(s, "history")
    assert [(h["outcome"], h["records"], h["httpStatus"]) for h in hist] == \
        [("delivered", 2, 200), ("failed", 2, 400)], hist
    assert decimal.Decimal(str(hist[0]["value"])) == sum(sums.values())
    assert hist[0]["pushedBy"].endswith(" mkpctl")
    st = ctl_json(s, "status")
    assert st["pending"] == 0 and st["failed"] == 0 and st["lastOutcome"] == "delivered"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", st["lastPush"]), st
    assert [r["state"] for r in ctl_json(s)] == ["delivered", "delivered"]
    assert ctl_json(s, "pending") == [] and ctl_json(s, "failed") == []
    # Nothing left: a second push sends nothing.
    r = s.mkpd.mkpctl("usage", "push", "--now")
    assert r.returncode == 0 and "0 record(s) delivered in 0 push(es)" in r.stdout
    assert s.mkpd.mkpctl("usage", "push").returncode == 2
    assert s.mkpd.mkpctl("usage", "retry").returncode == 2
    # A later push refused: the delivery and the failed attempt are two
    # pushes, each shown with its own time, never one's time beside the
    # other's outcome.
    add_instances(s, ["m-3"])
    events, _ = events_for(["m-3"], (3,), 1, "m3")
    assert post_usage(s, events)[1]["accepted"] == 1
    sim.fail("refuse", count=1)
    assert s.mkpd.mkpctl("usage", "push", "--now").returncode == 1
    st = ctl_json(s, "status")
    assert st["lastOutcome"] == "failed" and st["lastAttempt"] >= st["lastPush"], st
    r = s.mkpd.mkpctl("usage", "status")
    assert re.search(r"^last attempt:  %s, failed$" % st["lastAttempt"], r.stdout, re.M), \
        r.stdout
    assert re.search(r"^last delivery: %s$" % st["lastPush"], r.stdout, re.M), r.stdout

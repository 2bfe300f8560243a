"""Metered usage (issue 5): events in through the SQL function and
POST /-/usage, idempotent by event id, validated per event, booked into UTC
hour windows; an event for a window already closed into a record is booked
into the next open window of the instance, never dropped."""

import re

import pytest

from harness import Mkpd


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


def test_late_event_for_a_closed_window_is_shifted(udb):
    hour = "date_trunc('hour', now()) - interval '2 hours'"
    assert udb("SELECT mkp_usage_ingest('x1', 'i-on', 1, %s + interval '5 minutes')"
               % hour) == "accepted"
    # The window is closed: its record exists.
    udb("INSERT INTO usage_record (instance_id, window_begin, window_end, value, metering_sn)"
        " VALUES ('i-on', %s, %s + interval '1 hour', 1,"
        " mkp_usage_metering_sn('i-on', '', %s))" % (hour, hour, hour))
    assert udb("SELECT mkp_usage_ingest('x2', 'i-on', 4, %s + interval '6 minutes')"
               % hour) == "accepted"
    assert udb("SELECT shifted, window_begin = %s + interval '1 hour' FROM usage_event"
               " WHERE event_id = 'x2'" % hour) == "t|t"
    sn = udb("SELECT metering_sn FROM usage_record")
    assert re.fullmatch(r"[0-9a-f]{64}", sn)
    assert udb("SELECT mkp_usage_metering_sn('i-on', '', %s)" % hour) == sn

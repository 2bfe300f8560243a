"""Health: with PostgreSQL stopped, /-/ping answers 503 and says why, and
the status page says the store is down, since when and with what error, in
every format (text, JSON, OpenMetrics, HTML); started again, both recover.
The page also counts the usage records the marketplace refused, and names
the host."""

import json
import re
import socket

from harness import wait_for
from test_faults import private_pg  # noqa: F401 (a fixture: a cluster of the test's own)
from test_status import status_stack
from test_usage import TOKEN, USAGE_KEY, past_hour, post_usage, push_now, q


def text_fields(body):
    return dict(re.findall(r"^([^:\n]+):\s+(.*)$", body, re.M))


def get(s, path):
    st, hdr, body = s.http("GET", path)
    return st, body.decode()


def om_value(body, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), body, re.M)
    assert m, "no %s in:\n%s" % (name, body)
    return float(m.group(1))


def test_store_down_and_back(make_stack, make_sim_server, private_pg):  # noqa: F811
    """Ping, status (every format) and mkpctl status, store up, down, up."""
    # A marketplace that refuses every push: the records end up failed.
    sim = make_sim_server(args=["--usage-key", "not-the-key-mkpd-signs-with"])
    s = status_stack(make_stack, overrides={
        "usage": {"token": TOKEN, "push_interval": 0, "usage_key": USAGE_KEY},
        "marketplace": {"url": sim.url.rstrip("/"), "fallback_url": "", "ak": sim.ak,
                        "sk": sim.sk, "connect_timeout": 1000, "timeout": 2000},
        "jobs": {"purge_interval": 0}}, pg=private_pg)
    q(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
         " charging_mode, state) VALUES ('i-h', 'o1', 'l1', 'b1', 'ON_DEMAND', 'active')")
    assert post_usage(s, [{"id": "h1", "instanceId": "i-h", "value": "1",
                           "time": past_hour(5)}])[1]["accepted"] == 1
    push_now(s)
    assert q(s, "SELECT state FROM usage_record") == "failed"

    # Up: pong, the host, the failed record with its hour, units. The page's
    # store figures are refreshed once a second by the status child.
    assert get(s, "/-/ping") == (200, "pong\n")
    wait_for(lambda: text_fields(get(s, "/-/status")[1])["usage records failed"] == "1", 10,
             what="the failed record on the status page")
    st, body = get(s, "/-/status")
    f = text_fields(body)
    assert f["store"] == "up" and f["store up"] == "1" and f["store down since"] == "-", body
    assert f["host"] == socket.gethostname()
    assert f["usage records failed"] == "1", body
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00\.000Z", f["oldest failed usage record"])
    assert re.fullmatch(r"\d+ s", f["start since"]), f["start since"]
    st, body = get(s, "/-/status?openmetrics")
    assert om_value(body, "mkpd_store_up") == 1
    assert om_value(body, "mkpd_usage_records_failed") == 1

    # PostgreSQL stopped: ping says so as soon as the status child's next
    # refresh (once a second) finds the store gone.
    private_pg.stop("fast")
    wait_for(lambda: get(s, "/-/ping")[0] == 503, 10, what="ping to say the store is down")
    st, body = get(s, "/-/ping")
    assert st == 503 and body.startswith("store down: "), (st, body)
    st, body = get(s, "/-/status")
    assert st == 200
    f = text_fields(body)
    assert f["store"].startswith("down since 20"), body
    assert f["store up"] == "0" and f["store down since"].startswith("20"), body
    assert f["store last error"] != "-", body
    assert f["jobs backlog"] == "-1"
    st, body = get(s, "/-/status?json")
    j = json.loads(body)
    assert j["store_up"] == 0 and j["store_down_since"] > 0 and j["store_last_error"], j
    assert j["host"] == socket.gethostname()
    st, body = get(s, "/-/status?openmetrics")
    assert om_value(body, "mkpd_store_up") == 0
    assert om_value(body, "mkpd_store_down_since") > 0
    st, body = get(s, "/-/status?html")
    assert re.search(r'<tr id="store"><th>store</th><td>down since 20', body), body
    r = s.mkpd.mkpctl("status")
    assert r.returncode == 0 and re.search(r"^store:\s+down since 20", r.stdout, re.M), r

    # Started again: pong, up, and the last error kept with its time.
    private_pg.start()
    wait_for(lambda: get(s, "/-/ping") == (200, "pong\n"), 20, what="pong after the restart")
    wait_for(lambda: text_fields(get(s, "/-/status")[1])["usage records failed"] == "1", 10,
             what="the store figures after the restart")
    st, body = get(s, "/-/status")
    f = text_fields(body)
    assert f["store"] == "up" and f["store down since"] == "-", body
    assert re.match(r"20\S+Z: ", f["store last error"]), body
    assert f["usage records failed"] == "1"
    st, body = get(s, "/-/status?openmetrics")
    assert om_value(body, "mkpd_store_up") == 1

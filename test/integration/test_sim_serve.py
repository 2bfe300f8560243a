"""test_sim_serve.py: `mkp-sim serve`, the marketplace's open API in a box.

Requests are signed here in Python (harness.apig_sign, written from
spec/outbound.md §2 and checked against the published vector A below), not
with crypto/apig.c, so a shared misreading of the spec cannot hide.
"""

import json
import socket
import time

import pytest

import harness
from harness import ORDER_QUERY_PATH, apig_canonical_request, apig_signature


# --- the Python signer itself --------------------------------------------------

def test_python_signer_matches_published_vector_a():
    # spec/outbound.md §2.9 A: the API signing guide's own example.
    headers = {"Content-Type": "application/json",
               "Host": "service.region.example.com",
               "X-Sdk-Date": "20191115T033655Z"}
    canonical, signed = apig_canonical_request(
        "GET", "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
        "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0", headers, b"")
    assert signed == "content-type;host;x-sdk-date"
    assert canonical.startswith("GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n")
    assert apig_signature("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
                          "20191115T033655Z", canonical) == \
        "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    auth = harness.apig_sign("GET", "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
                             "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
                             headers, b"", "QTWAOYTTINDUT2QVKYUC",
                             "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc")
    assert auth == ("SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, "
                    "SignedHeaders=content-type;host;x-sdk-date, "
                    "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe")


# --- order query ------------------------------------------------------------

# spec/outbound.md §3 (test orders) and kit-and-v1.md §3.10.
MOCK_ORDERS = {
    "MOCKPERIODYEARNEW": ("NEW", "PERIOD"),
    "MOCKONETIMENEW": ("NEW", "ONE_TIME"),
    "MOCKONDEMAND": ("NEW", "ON_DEMAND"),
    "MOCKONDEMANDPKG": ("NEW", "ON_DEMAND_PKG"),
    "MOCKPERIODDAYTRIAL": ("TRIAL", "PERIOD"),
    "MOCKMONTYTRIALTOFORMAL": ("TRIAL_TO_FORMAL", "PERIOD"),
    "MOCKMONTYUNSUBSCRIBE": ("UNSUBSCRIBE", "PERIOD"),
    "MOCKMONTYRENEW": ("RENEW", "PERIOD"),
    "MOCKMONTYCHANGE": ("CHANGE", "PERIOD"),
}


def test_every_mock_order_answers_as_documented(sim_server):
    for order_id, (order_type, mode) in MOCK_ORDERS.items():
        for line in (None, order_id + "-000001"):
            status, obj, raw = sim_server.order_query(order_id, line)
            assert status == 200, raw
            assert obj["resultCode"] == "MKT.0000" and obj["resultMsg"]
            info = obj["orderInfo"]
            assert info["orderId"] == order_id
            assert info["orderType"] == order_type
            assert len(info["createTime"]) == 14 and info["createTime"].isdigit()
            assert [ln["orderLineId"] for ln in info["orderLine"]] == \
                [order_id + "-000001"]
            assert info["orderLine"][0]["chargingMode"] == mode
            assert info["orderLine"][0]["productInfo"][0]["skuCode"]
            assert "buyerInfo" in info


def test_loaded_order_answers_with_its_data(make_sim_server, workdir):
    order = {
        "orderId": "CS-SIM-LOADED-1", "orderType": "NEW",
        "createTime": "20250102030405",
        "orderLine": [
            {"orderLineId": "CS-SIM-LOADED-1-000001", "chargingMode": "PERIOD",
             "periodType": "month", "periodNumber": 3,
             "expireTime": "20250402235959",
             "productInfo": [{"productId": "P1", "skuCode": "sku-a",
                              "linearValue": 10, "productName": "Seats"}]},
            {"orderLineId": "CS-SIM-LOADED-1-000002", "chargingMode": "ON_DEMAND",
             "productInfo": [{"productId": "P2", "skuCode": "sku-b"}]},
        ],
        "buyerInfo": {"customerId": "cust-42", "userName": "buyer42",
                      "customerType": 1, "email": "b@example.com"},
        "extendParams": [{"name": "emailDomainName", "value": "x.example.com"}],
    }
    # A file order replaces a MOCK order of the same id.
    mock = {"orderId": "MOCKONDEMAND", "orderType": "CHANGE",
            "orderLine": [{"orderLineId": "L1", "chargingMode": "ON_DEMAND"}]}
    path = workdir / "orders.json"
    path.write_text(json.dumps({"orders": [order, mock]}))
    srv = make_sim_server(orders=path)

    status, obj, raw = srv.order_query("CS-SIM-LOADED-1")
    assert status == 200, raw
    assert obj["resultCode"] == "MKT.0000"
    assert obj["orderInfo"] == order
    # Members come back in the file's order, numbers as written.
    assert raw.decode().index('"orderLine"') < raw.decode().index('"buyerInfo"')

    status, obj, _ = srv.order_query("CS-SIM-LOADED-1", "CS-SIM-LOADED-1-000002")
    assert status == 200
    assert obj["orderInfo"]["orderLine"] == [order["orderLine"][1]]
    assert obj["orderInfo"]["buyerInfo"] == order["buyerInfo"]

    status, obj, _ = srv.order_query("MOCKONDEMAND")
    assert status == 200 and obj["orderInfo"] == mock
    status, obj, _ = srv.order_query("MOCKPERIODYEARNEW")
    assert status == 200 and obj["orderInfo"]["orderType"] == "NEW"


def test_bad_orders_file_refuses_to_start(build, workdir):
    need_sim(build)
    bad = workdir / "bad.json"
    bad.write_text('{"orders":[{"orderId":"X","orderType":"NEW","orderLine":[]}]}')
    r = harness.run_sim(build, ["serve", "--orders", str(bad)], timeout=10)
    assert r.returncode == 1
    assert "orderLine" in r.stderr


def test_listen_is_loopback_only(build):
    need_sim(build)
    r = harness.run_sim(build, ["serve", "--listen", "0.0.0.0:0"], timeout=10)
    assert r.returncode == 2 and "127" in r.stderr


def need_sim(build):
    if not (build / "mkp-sim").exists():
        pytest.skip("mkp-sim was not built in %s" % build)


@pytest.mark.parametrize("order_id, line", [
    ("CS-SIM-NO-SUCH-ORDER", None),
    ("MOCKONDEMAND", "MOCKONDEMAND-000099"),
    ("", None),
    ("X" * 65, None),
])
def test_unknown_order_is_a_business_error(sim_server, order_id, line):
    status, obj, raw = sim_server.order_query(order_id, line)
    assert status == 400, raw
    assert obj == {"resultCode": "MKT.0101", "resultMsg": "Invalid parameter"}


def test_no_order_id_is_a_business_error(sim_server):
    status, _, data = sim_server.signed(query="")
    assert status == 400
    assert json.loads(data)["resultCode"] == "MKT.0101"


# --- the gateway's checks ---------------------------------------------------

def gateway_error(status, data, want_status, want_code):
    assert status == want_status, data
    obj = json.loads(data)
    assert set(obj) == {"error_msg", "error_code", "request_id"}
    assert obj["error_code"] == want_code
    assert len(obj["request_id"]) == 32
    return obj


def test_wrong_signature_gets_the_gateway_error(sim_server):
    status, _, data = sim_server.signed(query="orderId=MOCKONDEMAND",
                                        sk="not-the-secret")
    obj = gateway_error(status, data, 401, "APIG.0301")
    # As APIG: the canonical request with newlines shown as '|'.
    assert obj["error_msg"].startswith(
        "verify signature fail, canonicalRequest:GET|" + ORDER_QUERY_PATH +
        "/|orderId=MOCKONDEMAND|content-type:")


def test_tampered_query_fails_the_signature(sim_server):
    # Signed for one order, sent for another.
    good = harness.apig_sign(
        "GET", ORDER_QUERY_PATH, "orderId=MOCKONDEMAND",
        {"Host": sim_server.host, "X-Sdk-Date": harness.apig_sdk_date()},
        b"", sim_server.ak, sim_server.sk)
    status, _, data = sim_server.signed(query="orderId=MOCKMONTYRENEW",
                                        authorization=good)
    gateway_error(status, data, 401, "APIG.0301")


def test_stale_or_future_date_is_refused(sim_server):
    for offset in (-16 * 60, 16 * 60):
        status, _, data = sim_server.signed(
            query="orderId=MOCKONDEMAND",
            date=harness.apig_sdk_date(time.time() + offset))
        obj = gateway_error(status, data, 401, "APIG.0303")
        assert "expired" in obj["error_msg"]
    # 14 minutes off is within the window.
    status, _, _ = sim_server.signed(
        query="orderId=MOCKONDEMAND",
        date=harness.apig_sdk_date(time.time() - 14 * 60))
    assert status == 200


def test_unknown_access_key_is_refused(sim_server):
    status, _, data = sim_server.signed(query="orderId=MOCKONDEMAND",
                                        ak="someone-else", sk=sim_server.sk)
    gateway_error(status, data, 401, "APIG.0303")


def test_missing_authorization_or_unsigned_date_is_refused(sim_server):
    status, _, data = sim_server.request(
        "GET", ORDER_QUERY_PATH + "?orderId=MOCKONDEMAND",
        headers={"X-Sdk-Date": harness.apig_sdk_date()})
    gateway_error(status, data, 401, "APIG.0301")
    # X-Sdk-Date sent but not among the signed headers.
    date = harness.apig_sdk_date()
    auth = harness.apig_sign("GET", ORDER_QUERY_PATH, "orderId=MOCKONDEMAND",
                             {"Host": sim_server.host, "X-Sdk-Date": date},
                             b"", sim_server.ak, sim_server.sk)
    auth = auth.replace("SignedHeaders=host;x-sdk-date", "SignedHeaders=host")
    status, _, data = sim_server.request(
        "GET", ORDER_QUERY_PATH + "?orderId=MOCKONDEMAND",
        headers={"Host": sim_server.host, "X-Sdk-Date": date,
                 "Authorization": auth})
    gateway_error(status, data, 401, "APIG.0301")


def test_only_date_signed_is_enough(sim_server):
    # Vector C's shape: x-sdk-date is the only header the gateway requires.
    date = harness.apig_sdk_date()
    auth = harness.apig_sign("GET", ORDER_QUERY_PATH, "orderId=MOCKONDEMAND",
                             {"X-Sdk-Date": date}, b"", sim_server.ak,
                             sim_server.sk)
    status, _, data = sim_server.request(
        "GET", ORDER_QUERY_PATH + "?orderId=MOCKONDEMAND",
        headers={"X-Sdk-Date": date, "Authorization": auth})
    assert status == 200, data


def test_unknown_path_or_method_is_api_not_found(sim_server):
    status, _, data = sim_server.signed(path="/api/mkp-openapi-public/global/v1/nope")
    gateway_error(status, data, 404, "APIG.0101")
    status, _, data = sim_server.signed(method="POST", query="orderId=MOCKONDEMAND",
                                        body=b"{}")
    gateway_error(status, data, 404, "APIG.0101")


def test_oversized_body_is_refused_without_reading_it(sim_server):
    with socket.create_connection(("127.0.0.1", int(sim_server.host.split(":")[1])),
                                  timeout=10) as s:
        s.sendall(b"POST " + ORDER_QUERY_PATH.encode() + b" HTTP/1.1\r\n"
                  b"Host: x\r\nContent-Length: 2000000\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 413")
    assert b'"error_code":"APIG.0201"' in data


# --- failure injection --------------------------------------------------------

@pytest.mark.parametrize("mode, status, want_status, want_code", [
    ("5xx", None, 500, "MKT.0999"),
    ("5xx", 503, 503, "APIG.0201"),
    ("502", None, 502, "APIG.0201"),
    ("429", None, 429, "APIG.0308"),
])
def test_error_modes_for_n_calls_then_normal(sim_server, mode, status,
                                             want_status, want_code):
    state = sim_server.fail(mode, count=2, status=status)
    assert state["count"] == 2
    for _ in range(2):
        st, obj, raw = sim_server.order_query("MOCKONDEMAND")
        assert st == want_status, raw
        assert obj.get("resultCode", obj.get("error_code")) == want_code
    st, obj, _ = sim_server.order_query("MOCKONDEMAND")
    assert st == 200 and obj["resultCode"] == "MKT.0000"
    calls = sim_server.calls()
    assert [c["injected"] for c in calls] == ["5xx" if mode != "429" else "429"] * 2 + [None]
    assert [c["status"] for c in calls] == [want_status] * 2 + [200]


def test_garbage_mode(sim_server):
    sim_server.fail("garbage", count=1)
    st, obj, raw = sim_server.order_query("MOCKONDEMAND")
    assert st == 200 and obj is None and raw
    with pytest.raises(ValueError):
        json.loads(raw)
    st, obj, _ = sim_server.order_query("MOCKONDEMAND")
    assert st == 200 and obj["resultCode"] == "MKT.0000"


def test_slow_mode_delays_then_answers(sim_server):
    sim_server.fail("slow", count=1, delay_ms=700)
    t0 = time.monotonic()
    st, obj, _ = sim_server.order_query("MOCKONDEMAND")
    assert time.monotonic() - t0 >= 0.65
    assert st == 200 and obj["resultCode"] == "MKT.0000"
    t0 = time.monotonic()
    st, _, _ = sim_server.order_query("MOCKONDEMAND")
    assert st == 200 and time.monotonic() - t0 < 0.65


def test_timeout_mode_never_answers_and_blocks_nobody_else(sim_server):
    sim_server.fail("timeout", count=1, delay_ms=5000)
    t0 = time.monotonic()
    with pytest.raises((socket.timeout, TimeoutError)):
        sim_server.order_query("MOCKONDEMAND", timeout=1)
    # The held connection has its own thread: the next call is answered.
    st, obj, _ = sim_server.order_query("MOCKONDEMAND", timeout=3)
    assert st == 200 and obj["resultCode"] == "MKT.0000"
    assert time.monotonic() - t0 < 4.5
    # And a stop does not wait for the held call to finish its delay.
    t0 = time.monotonic()
    assert sim_server.stop() == 0
    assert time.monotonic() - t0 < 3


def test_unlimited_count_until_none(sim_server):
    sim_server.fail("429", count=-1)
    for _ in range(3):
        assert sim_server.order_query("MOCKONDEMAND")[0] == 429
    assert sim_server.fail("none") == {"mode": "none", "count": 0,
                                       "delay_ms": 0, "status": 0}
    assert sim_server.order_query("MOCKONDEMAND")[0] == 200


def test_fail_option_at_start(make_sim_server):
    srv = make_sim_server(fail="503:1")
    assert srv.order_query("MOCKONDEMAND")[0] == 503
    assert srv.order_query("MOCKONDEMAND")[0] == 200


def test_bad_fail_control_is_refused(sim_server):
    for body in ('{"mode":"explode"}', '{"mode":"5xx","count":"2"}', "nope",
                 '{"mode":"slow","delay_ms":-1}'):
        status, _, _ = sim_server.request("POST", "/-/sim/fail", body)
        assert status == 400, body
    assert sim_server._control("GET", "fail")["mode"] == "none"


# --- the call record -----------------------------------------------------------

def test_calls_are_recorded_and_cleared(sim_server):
    assert sim_server._control("GET", "health")["status"] == "ok"
    assert sim_server.calls() == []
    date = harness.apig_sdk_date()
    st, _, _ = sim_server.signed(query="orderId=MOCKONDEMAND&orderLineId=MOCKONDEMAND-000001",
                                 date=date, headers={"X-Stage": "RELEASE"})
    assert st == 200
    sim_server.signed(query="orderId=MOCKONDEMAND", sk="wrong")
    calls = sim_server.calls()
    assert len(calls) == 2      # control calls are not recorded
    ok, bad = calls
    assert ok["method"] == "GET" and ok["path"] == ORDER_QUERY_PATH
    assert ok["query"] == "orderId=MOCKONDEMAND&orderLineId=MOCKONDEMAND-000001"
    assert ok["headers"]["x-sdk-date"] == date
    assert ok["headers"]["x-stage"] == "RELEASE"
    assert ok["headers"]["authorization"].startswith(
        "SDK-HMAC-SHA256 Access=%s, SignedHeaders=content-type;host;x-sdk-date;x-stage, "
        % sim_server.ak)
    assert ok["route"] == "order_query" and ok["injected"] is None
    assert (ok["verdict"], ok["status"], ok["code"], ok["ak"]) == \
        ("ok", 200, "MKT.0000", sim_server.ak)
    assert ok["body"] == "" and ok["time"].endswith("Z")
    assert bad["verdict"] == "signature mismatch"
    assert (bad["status"], bad["code"]) == (401, "APIG.0301")
    assert bad["detail"].startswith("verify signature fail")
    assert bad["seq"] == ok["seq"] + 1

    # --record has the same lines.
    lines = [json.loads(x) for x in
             sim_server.record_path.read_text().splitlines()]
    assert lines == calls

    assert sim_server.clear_calls() == 2
    assert sim_server.calls() == []


def test_binary_body_is_recorded_as_hex(sim_server):
    sim_server.signed(method="POST", path="/api/x", body=b"\xff\x00ab")
    (call,) = sim_server.calls()
    assert call["body_hex"] == "ff006162" and "body" not in call


def test_sigterm_stops_cleanly(sim_server):
    sim_server.order_query("MOCKONDEMAND")
    assert sim_server.stop() == 0
    assert "stopped (signal 15)" in sim_server.log()

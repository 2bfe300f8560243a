"""The legacy V1 basic interfaces end to end (spec/kit-and-v1.md §1, §3):
GET on the production URL through the real nginx, signed here in Python as
the marketplace does (an implementation independent of mkpd's C), answered
with Body-Sign that is checked here from the received bytes. Every test
uses order ids of its own, so the module shares one stack."""

import base64
import datetime
import hashlib
import hmac
import json
import time
import urllib.parse
import uuid

import pytest

from harness import wait_for
from test_v2_basic import create as v2_create, decrypt_field, expect as v2_expect


_last_ts = [""]


def v1_timestamp(delta_s=0):
    """UTC yyyyMMddHHmmssSSS. A marketplace retry is signed afresh, with a
    new timeStamp: two calls of one millisecond would be one call (the
    authToken is the replay key), so each call here gets its own."""
    while True:
        t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_s)
        ts = t.strftime("%Y%m%d%H%M%S") + "%03d" % (t.microsecond // 1000)
        if delta_s or ts != _last_ts[0]:
            _last_ts[0] = ts
            return ts
        time.sleep(0.001)


def v1_token(key, params):
    """authToken over every parameter but authToken, sorted, values decoded."""
    data = "&".join("%s=%s" % (k, params[k]) for k in sorted(params) if k != "authToken")
    mac = hmac.new((key + params["timeStamp"]).encode(), data.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def quote(v):
    # As the marketplace does: every reserved character, '+ / = ,' included.
    return urllib.parse.quote(v, safe="-_.~")


def v1_query(key, activity, fields, token=None, ts=None, drop=()):
    params = {"activity": activity, "timeStamp": ts or v1_timestamp()}
    params.update({k: v for k, v in fields.items() if v is not None})
    params["authToken"] = token or v1_token(key, params)
    for d in drop:
        params.pop(d, None)
    return "&".join("%s=%s" % (quote(k), quote(v)) for k, v in params.items())


def body_sign_ok(key, headers, body):
    mac = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return headers.get("Body-Sign") == 'sign_type="HMAC-SHA256", signature="%s"' % mac


def v1_get(stack, activity, fields, **kw):
    key = stack.keys["v1"]
    status, headers, body = stack.http("GET", "/?" + v1_query(key, activity, fields, **kw))
    assert status == 200
    assert headers["Content-Type"] == "application/json;charset=UTF-8"
    # The marketplace's check: HMAC over the exact bytes received, v1 key.
    assert body_sign_ok(key, headers, body), (headers, body)
    return json.loads(body)


def v1(stack, activity, fields, code, **kw):
    ans = v1_get(stack, activity, fields, **kw)
    assert ans["resultCode"] == code, ans
    return ans


def sql(stack, text):
    return stack.pg.psql(text)


def new_fields(**over):
    f = {"orderId": "CS" + uuid.uuid4().hex[:16].upper(),
         "productId": "00301-666666-0--0",
         "businessId": str(uuid.uuid4()),
         "customerId": uuid.uuid4().hex,
         "customerName": "buyer",
         "skuCode": "d0abcd",
         "chargingMode": "1", "periodType": "month", "periodNumber": "1",
         "expireTime": "20301231000000", "testFlag": "0"}
    f.update(over)
    return f


def new_instance(stack, **over):
    f = new_fields(**over)
    ans = v1(stack, "newInstance", f, "000000")
    return ans["instanceId"], ans, f


def state_of(stack, iid):
    return sql(stack, "SELECT state FROM instance WHERE instance_id = '%s'" % iid)


def enc_bytes(encrypt_type):
    return 32 if str(encrypt_type) == "1" else 16


# --- newInstance and queryInstance --------------------------------------------

def test_new_instance_answers_encrypted_app_info(stack):
    iid, ans, f = new_instance(stack)
    assert iid == f["businessId"]
    assert ans["encryptType"] == "1"
    app = ans["appInfo"]
    assert app["frontEndUrl"] == "http://127.0.0.1/app/" + iid
    user = decrypt_field(stack.keys["v1"], app["userName"], 32)
    password = decrypt_field(stack.keys["v1"], app["password"], 32)
    assert user == "admin" and len(password) >= 12
    # What was stored: the same access data, password sealed.
    row = sql(stack, "SELECT state, order_id, order_line_id, app_user, app_password "
                     "FROM instance WHERE instance_id = '%s'" % iid).split("|")
    assert row[:4] == ["active", f["orderId"], "v1:" + f["productId"], "admin"]
    assert row[4].startswith("s1:") and password not in row[4]
    # queryInstance answers the same, encrypted again with a fresh IV.
    q = v1(stack, "queryInstance", {"instanceId": iid}, "000000")
    assert q["encryptType"] == "1"
    qa = q["info"][0]["appInfo"]
    assert q["info"][0]["instanceId"] == iid
    assert decrypt_field(stack.keys["v1"], qa["password"], 32) == password
    wait_for(lambda: sql(stack, "SELECT activity, result_code, dialect FROM callback_log "
                                "WHERE instance_id = '%s' ORDER BY received_at" % iid)
             .splitlines() == ["newInstance|000000|v1", "queryInstance|000000|v1"],
             10, what="both calls in callback_log")


def test_new_instance_repeat_is_idempotent(stack):
    iid, ans, f = new_instance(stack)
    again = v1(stack, "newInstance", dict(f, businessId=str(uuid.uuid4())), "000000")
    assert again["instanceId"] == iid
    assert sql(stack, "SELECT count(*) FROM instance WHERE order_id = '%s'"
               % f["orderId"]) == "1"


def test_on_demand_order_makes_one_instance_per_product(stack):
    a, _, f = new_instance(stack, chargingMode="0", expireTime=None)
    b = v1(stack, "newInstance", dict(f, productId="00301-666666-0--1",
                                      businessId=str(uuid.uuid4())), "000000")["instanceId"]
    assert a != b


def test_query_several_ids_comma_separated(stack):
    a, _, _ = new_instance(stack)
    b, _, _ = new_instance(stack)
    q = v1(stack, "queryInstance", {"instanceId": "%s,%s,nope" % (a, b)}, "000000")
    assert [i["instanceId"] for i in q["info"]] == [a, b]
    v1(stack, "queryInstance", {"instanceId": a}, "000000")


@pytest.mark.parametrize("encrypt_type", [1, 2])
def test_encrypt_type_is_configurable(make_stack, encrypt_type):
    s = make_stack({"app": {"encrypt_type": encrypt_type}})
    iid, ans, _ = new_instance(s)
    assert ans["encryptType"] == str(encrypt_type)
    assert decrypt_field(s.keys["v1"], ans["appInfo"]["userName"],
                         enc_bytes(encrypt_type)) == "admin"


# --- changes: refresh, expire, status, upgrade, release -----------------------

def test_refresh_instance_and_trial_to_formal(stack):
    iid, _, _ = new_instance(stack, trialFlag="1")
    order = "CS" + uuid.uuid4().hex[:16].upper()
    f = {"instanceId": iid, "orderId": order, "expireTime": "20311124023618",
         "trialToFormal": "1", "productId": "00301-666666-0--9"}
    v1(stack, "refreshInstance", f, "000000")
    assert sql(stack, "SELECT to_char(expire_at, 'YYYYMMDDHH24MISS'), product_id "
                      "FROM instance WHERE instance_id = '%s'" % iid) \
        == "20311124023618|00301-666666-0--9"
    v1(stack, "refreshInstance", f, "000000")
    assert sql(stack, "SELECT string_agg(kind, ',') FROM instance_event "
                      "WHERE instance_id = '%s' AND order_id = '%s'" % (iid, order)) \
        == "trial_to_formal"
    # A plain renewal.
    v1(stack, "refreshInstance", {"instanceId": iid, "orderId": order + "R",
                                  "expireTime": "20321124023618"}, "000000")
    assert sql(stack, "SELECT to_char(expire_at, 'YYYY') FROM instance "
                      "WHERE instance_id = '%s'" % iid) == "2032"


def test_expire_is_a_freeze_and_instance_status_toggles(stack):
    iid, _, f = new_instance(stack)
    v1(stack, "expireInstance", {"instanceId": iid, "orderId": f["orderId"]}, "000000")
    assert state_of(stack, iid) == "frozen"
    v1(stack, "expireInstance", {"instanceId": iid, "orderId": f["orderId"]}, "000000")
    v1(stack, "instanceStatus", {"instanceId": iid, "instanceStatus": "NORMAL"}, "000000")
    assert state_of(stack, iid) == "active"
    v1(stack, "instanceStatus", {"instanceId": iid, "instanceStatus": "NORMAL"}, "000000")
    v1(stack, "instanceStatus", {"instanceId": iid, "instanceStatus": "FREEZE"}, "000000")
    assert state_of(stack, iid) == "frozen"
    v1(stack, "instanceStatus", {"instanceId": iid, "instanceStatus": "FREEZE"}, "000000")
    assert state_of(stack, iid) == "frozen"


def test_upgrade_once_per_order(stack):
    iid, _, _ = new_instance(stack)
    order = "CS" + uuid.uuid4().hex[:16].upper()
    f = {"instanceId": iid, "orderId": order, "skuCode": "sku2",
         "productId": "00301-666688-0-0", "amount": "6456"}
    v1(stack, "upgrade", f, "000000")
    v1(stack, "upgrade", f, "000000")
    assert sql(stack, "SELECT count(*) FROM instance_event WHERE instance_id = '%s' "
                      "AND kind = 'upgrade'" % iid) == "1"


def test_release_twice(stack):
    iid, _, f = new_instance(stack)
    v1(stack, "releaseInstance", {"instanceId": iid, "orderId": f["orderId"],
                                  "orderAmount": "0"}, "000000")
    assert state_of(stack, iid) == "released"
    v1(stack, "releaseInstance", {"instanceId": iid, "orderId": f["orderId"]}, "000000")


# --- refusals: 000001, 000002, 000003 for every activity ----------------------

def fields_for(stack, activity):
    """A valid call of each activity on a fresh instance."""
    iid, _, f = new_instance(stack)
    order = "CS" + uuid.uuid4().hex[:16].upper()
    return {
        "newInstance": new_fields(),
        "refreshInstance": {"instanceId": iid, "orderId": order,
                            "expireTime": "20311124023618"},
        "expireInstance": {"instanceId": iid, "orderId": f["orderId"]},
        "releaseInstance": {"instanceId": iid, "orderId": f["orderId"]},
        "upgrade": {"instanceId": iid, "orderId": order, "skuCode": "s",
                    "productId": "p"},
        "instanceStatus": {"instanceId": iid, "instanceStatus": "FREEZE"},
        "queryInstance": {"instanceId": iid},
    }[activity]


ACTIVITIES = ["newInstance", "refreshInstance", "expireInstance", "releaseInstance",
              "upgrade", "instanceStatus", "queryInstance"]
REQUIRED = {"newInstance": "orderId", "refreshInstance": "expireTime",
            "expireInstance": "instanceId", "releaseInstance": "instanceId",
            "upgrade": "skuCode", "instanceStatus": "instanceStatus",
            "queryInstance": "instanceId"}


@pytest.mark.parametrize("activity", ACTIVITIES)
def test_every_activity_refusals(stack, activity):
    f = fields_for(stack, activity)
    # Wrong authToken: a valid token of another key, and a tampered value.
    bad = v1_token(str(uuid.uuid4()), dict(f, activity=activity, timeStamp=v1_timestamp()))
    v1(stack, activity, f, "000001", token=bad)
    ts = v1_timestamp()
    good = v1_token(stack.keys["v1"], dict(f, activity=activity, timeStamp=ts))
    v1(stack, activity, dict(f, testFlag="1"), "000001", token=good, ts=ts)
    v1(stack, activity, f, "000001", drop=("authToken",))
    # A required parameter missing (correctly signed without it).
    missing = {k: v for k, v in f.items() if k != REQUIRED[activity]}
    ans = v1(stack, activity, missing, "000002")
    assert REQUIRED[activity] in ans["resultMsg"]
    # An unknown instance.
    if activity != "newInstance":
        v1(stack, activity, dict(f, instanceId="no-such-" + uuid.uuid4().hex), "000003")
    # Finally the call itself succeeds, and so does its repeat.
    v1(stack, activity, f, "000000")
    v1(stack, activity, f, "000000")


def test_stale_or_bad_timestamp_and_replay(stack):
    f = {"instanceId": new_instance(stack)[0]}
    v1(stack, "queryInstance", f, "000002", ts=v1_timestamp(-3600))
    v1(stack, "queryInstance", f, "000002", ts="2020-07-27")
    v1(stack, "queryInstance", f, "000002", drop=("timeStamp",))
    key = stack.keys["v1"]
    q = v1_query(key, "queryInstance", f)
    for code in ("000000", "000001"):
        status, headers, body = stack.http("GET", "/?" + q)
        assert json.loads(body)["resultCode"] == code
        assert body_sign_ok(key, headers, body)


def test_unknown_activity_and_duplicate_parameter(stack):
    v1(stack, "renewInstance", {"instanceId": "x"}, "000002")
    key = stack.keys["v1"]
    q = v1_query(key, "queryInstance", {"instanceId": "x"}) + "&instanceId=y"
    status, headers, body = stack.http("GET", "/?" + q)
    assert json.loads(body)["resultCode"] == "000002"
    assert body_sign_ok(key, headers, body)


# --- encoding: + %2B %2F %3D %2C ----------------------------------------------

def test_reserved_characters_in_values(stack):
    # Percent-encoded '+', '/', '=' and ',' are signed decoded.
    name = "a+b/c=d,e f"
    iid, _, f = new_instance(stack, customerName=name, orderId="CS+/=," + uuid.uuid4().hex[:8])
    assert sql(stack, "SELECT order_id FROM instance WHERE instance_id = '%s'" % iid) \
        == f["orderId"]
    row = wait_for(lambda: sql(stack, "SELECT body FROM callback_log WHERE instance_id = "
                                      "'%s' AND activity = 'newInstance'" % iid), 10)
    assert json.loads(row)["customerName"] == name
    # A raw '+' is form encoding for a space: the marketplace signs the space.
    key = stack.keys["v1"]
    params = {"activity": "queryInstance", "timeStamp": v1_timestamp(),
              "instanceId": iid, "testFlag": "0"}
    q = "activity=queryInstance&timeStamp=%s&instanceId=%s&testFlag=0" % (
        params["timeStamp"], iid)
    token = v1_token(key, params)
    status, headers, body = stack.http("GET", "/?" + q + "&authToken=" + quote(token))
    assert json.loads(body)["resultCode"] == "000000"
    # Values with '+' sent raw decode to spaces and are signed that way.
    f2 = new_fields(customerName="x y z")
    ts = v1_timestamp()
    p2 = dict(f2, activity="newInstance", timeStamp=ts)
    token = v1_token(key, p2)
    q2 = "&".join("%s=%s" % (k, quote(v).replace("%20", "+")) for k, v in p2.items())
    status, headers, body = stack.http("GET", "/?" + q2 + "&authToken=" + quote(token))
    assert json.loads(body)["resultCode"] == "000000", body
    # An authToken with '+' sent raw (older doc examples) becomes spaces: refused.
    for _ in range(20):
        ts = v1_timestamp()
        p3 = {"activity": "queryInstance", "timeStamp": ts, "instanceId": iid}
        token = v1_token(key, p3)
        if "+" in token:
            break
    if "+" in token:
        q3 = "activity=queryInstance&timeStamp=%s&instanceId=%s&authToken=%s" % (
            ts, iid, token.replace("/", "%2F").replace("=", "%3D"))
        status, headers, body = stack.http("GET", "/?" + q3)
        assert json.loads(body)["resultCode"] == "000001"


# --- buyer data: encrypted contact fields, saasExtendParams -------------------

def encrypt_field(key, plain, nbytes, iv="Ab3dE5gH7jK9mN1p"):
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from test_v2_basic import sha1prng
    p = padding.PKCS7(128).padder()
    data = p.update(plain.encode()) + p.finalize()
    e = Cipher(algorithms.AES(sha1prng(key.encode(), nbytes)), modes.CBC(iv.encode())).encryptor()
    return iv + base64.b64encode(e.update(data) + e.finalize()).decode()


def test_contact_fields_are_decrypted_and_kept_sealed(stack):
    key = stack.keys["v1"]
    ext = [{"name": "idNum", "value": "352255555555656"},
           {"name": "custEmail", "value": "123@huawei.com"}]
    iid, _, f = new_instance(
        stack, mobilePhone=encrypt_field(key, "15905222222", 32),
        email=encrypt_field(key, "buyer@example.com", 32),
        saasExtendParams=base64.b64encode(json.dumps(ext).encode()).decode())
    row = wait_for(lambda: sql(stack, "SELECT body FROM callback_log WHERE instance_id = "
                                      "'%s' AND activity = 'newInstance'" % iid), 10)
    body = json.loads(row)
    assert body["mobilePhone"] == "***" and body["email"] == "***"
    assert body["mobilePhoneSealed"].startswith("s1:")
    assert body["emailSealed"].startswith("s1:")
    assert "15905222222" not in row and "buyer@example.com" not in row
    assert body["saasExtendParams"] == ext
    assert "authToken" not in body
    # A contact field that does not decrypt is refused.
    v1(stack, "newInstance", new_fields(mobilePhone="Ab3dE5gH7jK9mN1pnotbase64"), "000002")


# --- one deployment, a V1 and a V2 product -----------------------------------

def test_v1_and_v2_products_in_one_deployment(stack, call):
    v2_iid = v2_create(call)
    v1_iid, _, _ = new_instance(stack)
    # Each dialect answers for its own calls and keys...
    v2_expect(call, "queryInstance", {"instanceId": v2_iid}, "000000")
    v1(stack, "queryInstance", {"instanceId": v1_iid}, "000000")
    # ... and the instances live in one database, either dialect reaching both.
    v1(stack, "queryInstance", {"instanceId": v2_iid}, "000000")
    v2_expect(call, "queryInstance", {"instanceId": v1_iid}, "000000")
    # A V2 call signed with the V1 key is refused, and the other way round.
    r = call("queryInstance", {"instanceId": v2_iid}, key=stack.keys["v1"])
    assert r[1]["resultCode"] == "000001", r
    q = v1_query(stack.keys["basic"], "queryInstance", {"instanceId": v1_iid})
    status, headers, body = stack.http("GET", "/?" + q)
    assert json.loads(body)["resultCode"] == "000001"
    assert body_sign_ok(stack.keys["v1"], headers, body)


# --- mkp-sim call --v1 ----------------------------------------------------------

def sim_v1(stack, activity, fields, args=()):
    return stack.call(activity, fields, key=stack.keys["v1"], args=["--v1", *args])


def appinfo_lines(stderr):
    return [json.loads(line[len("appinfo: "):]) for line in stderr.splitlines()
            if line.startswith("appinfo: ")]


def test_mkp_sim_v1_signs_sends_and_decrypts(stack):
    f = new_fields(customerName="a+b/c=d,e", businessId=None)
    r = sim_v1(stack, "newInstance", {k: v for k, v in f.items() if v is not None})
    code, ans, err = r
    assert code == 0, err
    assert ans["resultCode"] == "000000", ans
    assert "body-sign: ok" in err.splitlines()
    iid = ans["instanceId"]
    shown = appinfo_lines(err)
    assert len(shown) == 1 and shown[0]["instanceId"] == iid
    assert shown[0]["userName"] == "admin"
    password = shown[0]["password"]
    assert decrypt_field(stack.keys["v1"], ans["appInfo"]["password"], 32) == password
    # queryInstance: one line per appInfo, the same password.
    code, ans, err = sim_v1(stack, "queryInstance", {"instanceId": iid})
    assert code == 0 and ans["resultCode"] == "000000", err
    assert appinfo_lines(err) == [{"instanceId": iid, "userName": "admin",
                                   "password": password}]
    # The customerName arrived decoded, '+ / = ,' and all.
    row = wait_for(lambda: sql(stack, "SELECT body FROM callback_log WHERE instance_id = "
                                      "'%s' AND activity = 'newInstance'" % iid), 10)
    assert json.loads(row)["customerName"] == "a+b/c=d,e"


@pytest.mark.parametrize("args,code", [(["--bad-signature"], "000001"),
                                       (["--no-signature"], "000001"),
                                       (["--no-timestamp"], "000002"),
                                       (["--skew", "-3600000"], "000002"),
                                       (["--test"], "000000")])
def test_mkp_sim_v1_breaks_one_thing_on_purpose(stack, args, code):
    r = sim_v1(stack, "queryInstance", {"instanceId": new_instance(stack)[0]}, args)
    assert r[1]["resultCode"] == code, r
    assert "body-sign: ok" in r[2].splitlines()


def test_mkp_sim_v1_spec_vector_tv4(build, tmp_path):
    """TV-4 on the wire: what mkp-sim sends for the §4 sample request."""
    import http.server
    import threading
    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            body = b'{"resultCode":"000000","resultMsg":"success."}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Body-Sign", 'sign_type="HMAC-SHA256", signature='
                             '"TqHrax4nGMCqfFPsub8jnfn6V0MhK5bWa0lTIOZGsIQ="')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        import harness
        ms = int(datetime.datetime(2020, 7, 27, 7, 37, 11, 903000,
                                   tzinfo=datetime.timezone.utc).timestamp() * 1000)
        r = harness.run_sim(build, [
            "call", "--v1", "-u", "http://127.0.0.1:%d/" % srv.server_port,
            "-k", "9fa6c870-8bb0-4e9b-b71e-4c223300156f", "--timestamp", str(ms),
            "newInstance", "businessId=61e834ba-7b97-4418-b8f7-e5345137278c",
            "customerId=68cbc86abc2018ab880d92f36422fa0e", "expireTime=20200727153156",
            "orderId=CS1906666666ABCDE", "productId=00301-666666-0--0", "testFlag=1"])
    finally:
        srv.shutdown()
    assert r.returncode == 0, r.stderr
    assert "body-sign: ok" in r.stderr.splitlines()   # TV-5
    q = urllib.parse.parse_qs(seen[0].split("?", 1)[1])
    assert q["timeStamp"] == ["20200727073711903"]
    assert q["authToken"] == ["vCU29mKBmOxkxdyR/QG2C47McNX91o8IQb6E+QFJAXQ="]
    assert "authToken=vCU29mKBmOxkxdyR%2FQG2C47McNX91o8IQb6E%2BQFJAXQ%3D" in seen[0]


# --- background provisioning: the order is read whole ---------------------------

def test_v1_order_is_read_whole_and_applied(make_stack, make_sim_server, workdir):
    """With marketplace credentials, a real V1 purchase provisions in the
    background like a V2 one; V1 names no order line, so the jobs read the
    order whole and take the line of the product (renewals and upgrades:
    the order's line)."""
    from test_provision import order_queries, q, stack_for, write_hook
    sim = make_sim_server()
    hook = write_hook(workdir / "hook", """[ "$1" = create ] && \
echo '{"frontEndUrl":"https://seller.example/v1","userName":"v1user","password":"V1-Pass-123"}'
exit 0""")
    s = stack_for(make_stack, sim, hook)
    f = new_fields(orderId="MOCKPERIODYEARNEW", productId="OFFI-MKP-SIM-MOCKPERIODYEARNEW")
    ans = v1(s, "newInstance", f, "000004")
    iid = ans["instanceId"]
    got = wait_for(lambda: (lambda a: a if a["resultCode"] != "000004" else None)(
        v1_get(s, "queryInstance", {"instanceId": iid})), 30, what="provisioned")
    assert got["resultCode"] == "000000", got
    app = got["info"][0]["appInfo"]
    assert decrypt_field(s.keys["v1"], app["userName"], 32) == "v1user"
    assert decrypt_field(s.keys["v1"], app["password"], 32) == "V1-Pass-123"
    for activity, fields in (
            ("refreshInstance", {"instanceId": iid, "orderId": "MOCKMONTYRENEW",
                                 "expireTime": "20300101000000"}),
            ("upgrade", {"instanceId": iid, "orderId": "MOCKMONTYCHANGE",
                         "skuCode": "sku-MOCKMONTYCHANGE",
                         "productId": "OFFI-MKP-SIM-MOCKMONTYCHANGE"})):
        v1(s, activity, fields, "000000")
    wait_for(lambda: q(s, "SELECT count(*) FROM instance_event WHERE instance_id = '%s' "
                          "AND kind = 'order_applied'" % iid) == "2", 30,
             what="both orders applied")
    assert q(s, "SELECT sku_code, to_char(expire_at, 'YYYY') FROM instance "
                "WHERE instance_id = '%s'" % iid) == "sku-MOCKMONTYCHANGE|2030"
    queried = [c["query"] for c in order_queries(sim)]
    assert len(queried) == 3 and not any("orderLineId" in x for x in queried), queried

"""The V2 basic interfaces end to end: mkp-sim signs as the marketplace
does, nginx passes the call to mkpd over FastCGI, mkpd answers from
PostgreSQL. Every test uses order ids of its own, so the module shares one
stack and one database."""

import base64
import concurrent.futures
import hashlib
import json
import time
import uuid

import pytest

from harness import new_order, wait_for

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def create(call, order=None, business=None, test=False):
    order_id, line_id = order or new_order()
    fields = {"orderId": order_id, "orderLineId": line_id,
              "businessId": business or str(uuid.uuid4())}
    args = ["--test"] if test else []
    code, ans, err = call("newInstance", fields, args=args)
    assert code == 0, err
    assert ans["resultCode"] == "000000", ans
    return ans["instanceId"]


def sql(stack, text):
    return stack.pg.psql(text)


def state_of(stack, instance_id):
    return sql(stack, "SELECT state FROM instance WHERE instance_id = '%s'" % instance_id)


def expect(call, activity, fields, code, args=()):
    r = call(activity, fields, args=list(args))
    assert r[1] is not None, "no JSON answer: %s" % (r[2],)
    assert r[1]["resultCode"] == code, r[1]
    assert r.http_status == 200
    assert r.body_sign == "ok", r[2]
    return r[1]


# --- success paths -----------------------------------------------------------

def test_new_instance_then_query_returns_app_info(stack, call):
    order = new_order()
    business = str(uuid.uuid4())
    instance_id = create(call, order, business)
    assert instance_id == business

    ans = expect(call, "queryInstance", {"instanceId": instance_id}, "000000")
    assert len(ans["info"]) == 1
    info = ans["info"][0]
    assert info["instanceId"] == instance_id
    app = info["appInfo"]
    assert app["frontEndUrl"] == "http://127.0.0.1/app/" + instance_id
    assert app["adminUrl"] == "http://127.0.0.1/app/admin"
    assert app["userName"] == "admin"
    assert len(app["password"]) >= 12

    row = sql(stack, "SELECT state, order_id, order_line_id, is_test, app_password "
                     "FROM instance WHERE instance_id = '%s'" % instance_id).split("|")
    assert row[:4] == ["active", order[0], order[1], "f"]
    # The password is stored sealed, never in plain text.
    assert row[4].startswith("s1:") and app["password"] not in row[4]
    assert sql(stack, "SELECT kind, to_state FROM instance_event WHERE instance_id = '%s'"
               % instance_id) == "create|active"
    # Both calls are in the audit log, with the instance and the result
    # (written after the answer, so give the worker a moment).
    wait_for(lambda: sql(stack, "SELECT activity, result_code, dialect FROM callback_log "
                                "WHERE instance_id = '%s' ORDER BY received_at" % instance_id)
             .splitlines() == ["newInstance|000000|v2", "queryInstance|000000|v2"],
             10, what="both calls in callback_log")


def test_every_answer_is_signed_json(stack):
    status, headers, body = stack.http("POST", "/?signature=x&timestamp=1&nonce=n", b"{}")
    assert status == 200
    assert headers["Content-Type"] == "application/json;charset=UTF-8"
    assert json.loads(body)["resultCode"] == "000002"
    import hmac
    mac = base64.b64encode(hmac.new(stack.keys["basic"].encode(), body,
                                    hashlib.sha256).digest()).decode()
    assert headers["Body-Sign"] == 'sign_type="HMAC-SHA256", signature="%s"' % mac


def test_repeat_with_new_business_id_returns_same_instance(stack, call):
    order = new_order()
    first = create(call, order)
    again = create(call, order, business=str(uuid.uuid4()))
    assert again == first
    assert sql(stack, "SELECT count(*) FROM instance WHERE order_id = '%s'" % order[0]) == "1"


def test_fifty_concurrent_identical_calls_make_one_instance(stack, call):
    order = new_order()
    business = str(uuid.uuid4())
    fields = {"orderId": order[0], "orderLineId": order[1], "businessId": business}
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: call("newInstance", fields), range(50)))
    ids = set()
    for code, ans, err in results:
        assert code == 0, err
        assert ans["resultCode"] == "000000", ans
        ids.add(ans["instanceId"])
    assert ids == {business}
    assert sql(stack, "SELECT count(*) FROM instance WHERE order_id = '%s'" % order[0]) == "1"
    assert sql(stack, "SELECT count(*) FROM instance_event WHERE instance_id = '%s'"
               % business) == "1"


def test_business_id_of_another_line_gets_a_fresh_instance_id(stack, call):
    shared = str(uuid.uuid4())
    a = create(call, new_order(), shared)
    b = create(call, new_order(), shared)
    assert a == shared and b != shared
    uuid.UUID(b)


@pytest.mark.parametrize("scene", ["TRIAL_TO_FORMAL", "RENEWAL",
                                   "UNSUBSCRIBE_RENEWAL_PERIOD", "RENEWAL_CHANGE"])
def test_refresh_instance_scenes(stack, call, scene):
    iid = create(call)
    order = new_order()
    fields = {"instanceId": iid, "scene": scene, "orderId": order[0],
              "orderLineId": order[1], "expireTime": "20301124023618256",
              "productId": "OFFI461867333479178240"}
    expect(call, "refreshInstance", fields, "000000")
    assert sql(stack, "SELECT to_char(expire_at, 'YYYYMMDDHH24MISSMS'), product_id "
                      "FROM instance WHERE instance_id = '%s'" % iid) \
        == "20301124023618256|OFFI461867333479178240"
    # A repeat of the same order line changes nothing and succeeds.
    expect(call, "refreshInstance", fields, "000000")
    assert sql(stack, "SELECT count(*) FROM instance_event WHERE instance_id = '%s' "
                      "AND order_id = '%s'" % (iid, order[0])) == "1"


def test_late_retry_of_an_older_renewal_does_not_move_expiry_back(stack, call):
    iid = create(call)
    first, second = new_order(), new_order()
    base = {"instanceId": iid, "scene": "RENEWAL"}
    expect(call, "refreshInstance", dict(base, orderId=first[0], orderLineId=first[1],
                                         expireTime="20300101000000"), "000000")
    expect(call, "refreshInstance", dict(base, orderId=second[0], orderLineId=second[1],
                                         expireTime="20310101000000"), "000000")
    expect(call, "refreshInstance", dict(base, orderId=first[0], orderLineId=first[1],
                                         expireTime="20300101000000"), "000000")
    assert sql(stack, "SELECT to_char(expire_at, 'YYYY') FROM instance "
                      "WHERE instance_id = '%s'" % iid) == "2031"


def test_renewals_only_extend_and_unsubscription_shortens(stack, call):
    # A renewal that failed once and is retried after a later one succeeded
    # must not take the buyer's paid time back.
    iid = create(call)
    later, earlier, unsub = new_order(), new_order(), new_order()
    base = {"instanceId": iid, "scene": "RENEWAL"}
    expect(call, "refreshInstance", dict(base, orderId=later[0], orderLineId=later[1],
                                         expireTime="20310101000000"), "000000")
    expect(call, "refreshInstance", dict(base, orderId=earlier[0], orderLineId=earlier[1],
                                         expireTime="20300101000000"), "000000")
    assert sql(stack, "SELECT to_char(expire_at, 'YYYY') FROM instance "
                      "WHERE instance_id = '%s'" % iid) == "2031"
    expect(call, "refreshInstance", dict(base, scene="UNSUBSCRIBE_RENEWAL_PERIOD",
                                         orderId=unsub[0], orderLineId=unsub[1],
                                         expireTime="20300101000000"), "000000")
    assert sql(stack, "SELECT to_char(expire_at, 'YYYY') FROM instance "
                      "WHERE instance_id = '%s'" % iid) == "2030"


def test_query_of_a_failed_instance_is_not_pending_forever(stack, call):
    iid = create(call)
    sql(stack, "UPDATE instance SET state = 'failed', fail_reason = 'test' "
               "WHERE instance_id = '%s'" % iid)
    ans = expect(call, "queryInstance", {"instanceId": iid}, "000005")
    assert "provisioning failed" in ans["resultMsg"]


def test_audit_rows_keep_the_body_redacted_and_whole_characters(stack, call):
    order = new_order()
    fields = {"orderId": order[0], "orderLineId": order[1], "businessId": str(uuid.uuid4()),
              "password": "hunter2", "zpad": "\u00e9" * 20000}
    expect(call, "newInstance", fields, "000000")
    row = wait_for(lambda: sql(stack, "SELECT body FROM callback_log WHERE order_id = '%s'"
                                      % order[0]), 10, what="the audit row")
    assert order[0] in row and '"password":"***"' in row and "hunter2" not in row
    assert row.endswith("...(cut)")


def test_log_lines_cannot_be_forged_through_the_path(stack):
    status, _, _ = stack.http("GET", "/x%0A2026-01-01T00:00:00.000Z%20[1]%20error:%20forged")
    assert status == 404
    mark = stack.mkpd.wait_log(r"no route for GET /x")
    assert mark
    assert "\n2026-01-01T00:00:00.000Z [1] error: forged" not in stack.mkpd.log()


def test_freeze_unfreeze_release(stack, call):
    iid = create(call)
    expect(call, "updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"}, "000000")
    assert state_of(stack, iid) == "frozen"
    expect(call, "updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"}, "000000")
    expect(call, "updateInstanceStatus", {"instanceId": iid, "status": "UNFREEZE"}, "000000")
    assert state_of(stack, iid) == "active"
    order = new_order()
    expect(call, "releaseInstance", {"instanceId": iid, "orderId": order[0],
                                     "orderLineId": order[1]}, "000000")
    assert state_of(stack, iid) == "released"
    expect(call, "releaseInstance", {"instanceId": iid}, "000000")
    assert sql(stack, "SELECT string_agg(kind, ',' ORDER BY event_id) FROM instance_event "
                      "WHERE instance_id = '%s'" % iid) == "create,freeze,unfreeze,release"
    # A released instance cannot come back.
    expect(call, "updateInstanceStatus", {"instanceId": iid, "status": "UNFREEZE"}, "000003")
    expect(call, "refreshInstance", {"instanceId": iid, "scene": "RENEWAL",
                                     "orderId": "X1", "orderLineId": "X1-1",
                                     "expireTime": "20300101000000"}, "000003")
    # Its access data stays readable.
    expect(call, "queryInstance", {"instanceId": iid}, "000000")


def test_every_instance_change_is_notified(stack, call):
    import subprocess
    iid = create(call)
    pg = stack.pg
    listener = subprocess.Popen(
        [str(pg.bindir / "psql"), "-X", "-q", "-h", pg.host, "-p", str(pg.port),
         "-U", "postgres", "-d", pg.dbname],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        listener.stdin.write("LISTEN mkpd_instance;\nSELECT pg_sleep(3) AS listening;\n")
        listener.stdin.flush()
        wait_for(lambda: sql(stack, "SELECT count(*) FROM pg_stat_activity WHERE query "
                                    "LIKE '%%pg_sleep(3) AS listening%%' AND pid <> "
                                    "pg_backend_pid()") == "1", 10, what="the listener")
        expect(call, "updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"}, "000000")
        out, _ = listener.communicate("", timeout=30)
    finally:
        listener.kill()
    event_id = sql(stack, "SELECT max(event_id) FROM instance_event WHERE instance_id = '%s'"
                   % iid)
    assert 'Asynchronous notification "mkpd_instance"' in out, out
    payload = json.loads(out.split('with payload "', 1)[1].rsplit('" received', 1)[0])
    assert payload == {"event_id": int(event_id), "instance_id": iid, "kind": "freeze",
                       "from": "active", "to": "frozen"}


def test_upgrade_and_change_check(stack, call):
    iid = create(call)
    order = new_order()
    fields = {"instanceId": iid, "orderId": order[0], "orderLineId": order[1]}
    expect(call, "upgradeInstance", fields, "000000")
    expect(call, "upgradeInstance", fields, "000000")
    assert sql(stack, "SELECT count(*) FROM instance_event WHERE instance_id = '%s' "
                      "AND kind = 'upgrade'" % iid) == "1"
    info = {"productId": "OFFI758576253042421760", "skuCode": "da9b4d34", "linearValue": 10}
    expect(call, "changeInstanceCheck", {"instanceId": iid, "productInfo": info}, "000000")
    expect(call, "changeInstanceCheck", {"instanceId": iid, "productInfo": "x"}, "000002")
    expect(call, "changeInstanceCheck", {"instanceId": "nope-" + iid,
                                         "productInfo": info}, "000003")


def test_refresh_license_code(stack, call):
    code = "LIC-" + uuid.uuid4().hex
    order = new_order()
    fields = {"license": code, "scene": "RENEWAL", "orderId": order[0],
              "orderLineId": order[1], "expireTime": "20300523201932"}
    expect(call, "refreshLicenseCode", fields, "000000")
    expect(call, "refreshLicenseCode", fields, "000000")
    assert sql(stack, "SELECT scene, to_char(expire_at, 'YYYYMMDD') FROM license "
                      "WHERE license_code = '%s'" % code) == "RENEWAL|20300523"
    expect(call, "refreshLicenseCode", dict(fields, scene="TRIAL_TO_FORMAL"), "000002")
    # A debug call for the same code keeps to a row of its own.
    expect(call, "refreshLicenseCode", dict(fields, expireTime="20400101000000"), "000000",
           args=["--test"])
    assert sql(stack, "SELECT is_test, to_char(expire_at, 'YYYY') FROM license "
                      "WHERE license_code = '%s' ORDER BY is_test" % code).splitlines() \
        == ["f|2030", "t|2040"]


def test_query_several_ids(stack, call):
    a, b = create(call), create(call)
    ans = expect(call, "queryInstance", {"instanceId": "%s,nope-%s,%s" % (a, a, b)}, "000000")
    assert [i["instanceId"] for i in ans["info"]] == [a, b]
    expect(call, "queryInstance", {"instanceId": "nope-1,nope-2"}, "000003")
    expect(call, "queryInstance", {"instanceId": ",".join("i%d" % n for n in range(101))},
           "000002")
    expect(call, "queryInstance", {"instanceId": a + ",,"}, "000002")


# --- debug calls (testFlag=1) --------------------------------------------------

def test_debug_calls_make_debug_instances_and_never_touch_real_ones(stack, call):
    order = new_order()
    real = create(call, order)
    debug = create(call, order, test=True)
    assert debug != real
    assert sql(stack, "SELECT is_test FROM instance WHERE instance_id = '%s'" % debug) == "t"
    expect(call, "updateInstanceStatus", {"instanceId": real, "status": "FREEZE"},
           "000000", args=["--test"])
    assert state_of(stack, real) == "active"
    expect(call, "updateInstanceStatus", {"instanceId": debug, "status": "FREEZE"},
           "000000", args=["--test"])
    assert state_of(stack, debug) == "frozen"


# --- refusals ----------------------------------------------------------------

def test_bad_signature_is_refused(stack, call):
    order = new_order()
    fields = {"orderId": order[0], "orderLineId": order[1], "businessId": "b"}
    expect(call, "newInstance", fields, "000001", args=["--bad-signature"])
    r = call("newInstance", fields, key="not-the-key")
    assert r[1]["resultCode"] == "000001"
    expect(call, "newInstance", fields, "000001", args=["--no-signature"])
    assert sql(stack, "SELECT count(*) FROM instance WHERE order_id = '%s'" % order[0]) == "0"
    wait_for(lambda: sql(stack, "SELECT count(*) FROM callback_log WHERE result_code = "
                                "'000001' AND reason LIKE 'signature%'") != "0",
             10, what="the refusals in callback_log")


def test_numbers_and_booleans_signed_as_strings_as_the_sample_does(stack, call):
    """Huawei's V2 sample binds the body to Map<String,String>: a member
    sent as a number or a boolean is signed as the string of its text
    (12.50 as "12.50", true as "true", -0 as "-0"). Such a call is
    accepted; a wrong signature on it is not."""
    import hmac
    iid = create(call)
    body = ('{"activity":"queryInstance","instanceId":"%s","testFlag":0,"amount":12.50,'
            '"trial":true,"z":-0}' % iid)
    payload = ('{"activity":"queryInstance","amount":"12.50","instanceId":"%s",'
               '"testFlag":"0","trial":"true","z":"-0"}' % iid)
    key = stack.keys["basic"]

    def send(bad):
        nonce, ts = uuid.uuid4().hex.upper(), str(int(time.time() * 1000))
        digest = hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()
        sig = hmac.new(key.encode(), (key + nonce + ts + digest).encode(),
                       hashlib.sha256).hexdigest().upper()
        if bad:
            sig = sig[:10] + ("1" if sig[10] == "0" else "0") + sig[11:]
        status, _, out = stack.http("POST", "/?signature=%s&timestamp=%s&nonce=%s"
                                    % (sig, ts, nonce), body.encode(),
                                    {"Content-Type": "application/json"})
        assert status == 200
        return json.loads(out)

    assert send(bad=True)["resultCode"] == "000001"
    ans = send(bad=False)
    assert ans["resultCode"] == "000000", ans
    assert ans["info"][0]["instanceId"] == iid


@pytest.mark.parametrize("args", [["--skew", "-120000"], ["--skew", "120000"],
                                  ["--no-timestamp"], ["--no-nonce"],
                                  ["--timestamp", "1680508066618"]])
def test_stale_or_missing_timestamp_or_nonce(stack, call, args):
    iid = create(call)
    expect(call, "queryInstance", {"instanceId": iid}, "000002", args=args)


def test_replayed_nonce_is_refused(stack, call):
    iid = create(call)
    nonce = uuid.uuid4().hex.upper()
    expect(call, "queryInstance", {"instanceId": iid}, "000000", args=["--nonce", nonce])
    expect(call, "queryInstance", {"instanceId": iid}, "000001", args=["--nonce", nonce])


def test_replayed_nonce_undoes_the_whole_call(stack, call):
    # The claim runs in the command's own transaction: a replay applies nothing.
    iid = create(call)
    nonce = uuid.uuid4().hex.upper()
    expect(call, "queryInstance", {"instanceId": iid}, "000000", args=["--nonce", nonce])
    order = new_order()
    expect(call, "newInstance", {"orderId": order[0], "orderLineId": order[1],
                                 "businessId": str(uuid.uuid4())}, "000001",
           args=["--nonce", nonce])
    expect(call, "updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"},
           "000001", args=["--nonce", nonce])
    assert sql(stack, "SELECT count(*) FROM instance WHERE order_id = '%s'" % order[0]) == "0"
    assert state_of(stack, iid) == "active"


def test_replay_of_a_new_instance_under_a_fresh_id_is_refused(stack, call):
    # The businessId names another order line's instance: the first insert
    # fails, and the nonce claim that rode with it is undone; the retry under
    # a fresh id must claim the nonce again, or the same request is accepted twice.
    shared = create(call)
    order = new_order()
    fields = {"orderId": order[0], "orderLineId": order[1], "businessId": shared}
    args = ["--nonce", uuid.uuid4().hex.upper(), "--timestamp", str(int(time.time() * 1000))]
    first = expect(call, "newInstance", fields, "000000", args=args)
    assert first["instanceId"] != shared
    again = expect(call, "newInstance", fields, "000001", args=args)
    assert again["resultMsg"] == "nonce: already used (replay)", again
    assert sql(stack, "SELECT count(*) FROM instance_event WHERE instance_id = '%s'"
               % first["instanceId"]) == "1"


def test_replay_of_a_call_that_changed_nothing_is_refused(stack, call):
    # Freezing a frozen instance, or naming an unknown one, changes nothing;
    # the nonce is claimed all the same, and the same request again is a replay.
    iid = create(call)
    expect(call, "updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"}, "000000")
    for fields, code in [({"instanceId": iid, "status": "FREEZE"}, "000000"),
                         ({"instanceId": "none-" + uuid.uuid4().hex, "status": "FREEZE"},
                          "000003")]:
        args = ["--nonce", uuid.uuid4().hex.upper(),
                "--timestamp", str(int(time.time() * 1000))]
        expect(call, "updateInstanceStatus", fields, code, args=args)
        again = expect(call, "updateInstanceStatus", fields, "000001", args=args)
        assert again["resultMsg"] == "nonce: already used (replay)", again
def test_replay_to_another_host_is_refused(stack, call, make_stack):
    """The very same signed request (nonce and timestamp) replayed to
    another host of the store is refused, and so is its replay to the first
    (schema 018 left the nonce's key alone, only its purge index went)."""
    iid = create(call)
    other = make_stack(dsn=stack.dsn, keys=stack.keys, start=False)
    other.mkpd.master_key.write_bytes(stack.mkpd.master_key.read_bytes())
    other.start()
    nonce = uuid.uuid4().hex.upper()
    args = ["--nonce", nonce, "--timestamp", str(int(time.time() * 1000) - 5000)]
    expect(call, "queryInstance", {"instanceId": iid}, "000000", args=args)
    expect(other.call, "queryInstance", {"instanceId": iid}, "000001", args=args)
    expect(call, "queryInstance", {"instanceId": iid}, "000001", args=args)
    assert sql(stack, "SELECT count(*) FROM nonce WHERE nonce = 'v2:%s'" % nonce) == "1"


def test_malformed_json_is_refused(stack, call, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"activity":"queryInstance","instanceId":')
    expect(call, "queryInstance", {}, "000002", args=["--raw", str(bad)])
    bad.write_bytes(b'["activity","queryInstance"]')
    expect(call, "queryInstance", {}, "000002", args=["--raw", str(bad)])


@pytest.mark.parametrize("activity,fields,why", [
    ("noSuchActivity", {}, "activity"),
    ("newInstance", {"orderLineId": "L", "businessId": "B"}, "orderId"),
    ("newInstance", {"orderId": "O" * 65, "orderLineId": "L", "businessId": "B"}, "orderId"),
    ("newInstance", {"orderId": 12345, "orderLineId": "L", "businessId": "B"}, "orderId"),
    ("newInstance", {"orderId": "O\u0001", "orderLineId": "L", "businessId": "B"}, "orderId"),
    ("refreshInstance", {"instanceId": "i", "scene": "SOMETIMES", "orderId": "O",
                         "orderLineId": "L", "expireTime": "20300101000000"}, "scene"),
    ("refreshInstance", {"instanceId": "i", "scene": "RENEWAL", "orderId": "O",
                         "orderLineId": "L", "expireTime": "20300231000000"}, "expireTime"),
    ("refreshInstance", {"instanceId": "i", "scene": "RENEWAL", "orderId": "O",
                         "orderLineId": "L", "expireTime": "2030"}, "expireTime"),
    ("updateInstanceStatus", {"instanceId": "i", "status": "PAUSE"}, "status"),
    ("updateInstanceStatus", {"instanceId": "i"}, "status"),
    ("changeInstanceCheck", {"instanceId": "i"}, "productInfo"),
    ("releaseInstance", {"instanceId": "i", "orderId": "O"}, "orderLineId"),
    ("queryInstance", {"instanceId": "i", "testFlag": "2"}, "testFlag"),
])
def test_field_errors(stack, call, activity, fields, why):
    ans = expect(call, activity, fields, "000002")
    assert why in ans["resultMsg"], ans


@pytest.mark.parametrize("activity,fields", [
    ("refreshInstance", {"scene": "RENEWAL", "orderId": "O", "orderLineId": "L",
                         "expireTime": "20300101000000"}),
    ("updateInstanceStatus", {"status": "FREEZE"}),
    ("releaseInstance", {}),
    ("upgradeInstance", {"orderId": "O", "orderLineId": "L"}),
])
def test_unknown_instance(stack, call, activity, fields):
    expect(call, activity, dict(fields, instanceId="nope-" + uuid.uuid4().hex), "000003")


def test_oversized_body_is_refused_and_the_worker_keeps_serving(stack, call):
    body = b'{"activity":"queryInstance","pad":"' + b"x" * (1024 * 1024 + 10) + b'"}'
    status, headers, answer = stack.http("POST", "/?signature=x&timestamp=1&nonce=n", body)
    assert status == 200
    ans = json.loads(answer)
    assert ans["resultCode"] == "000002" and "larger" in ans["resultMsg"]
    for _ in range(4):	# every worker of the pool still answers
        expect(call, "queryInstance", {"instanceId": create(call)}, "000000")
    stack.mkpd.wait_log(r"refused: body: larger than 1048576 bytes")


# --- encrypted appInfo (reading 5) -------------------------------------------

def sha1prng(seed, n):
    state = bytearray(hashlib.sha1(seed).digest())
    out = b""
    while len(out) < n:
        block = hashlib.sha1(bytes(state)).digest()
        out += block
        last, changed = 1, False
        for i in range(20):
            s = state[i] - 256 if state[i] > 127 else state[i]
            b = block[i] - 256 if block[i] > 127 else block[i]
            v = s + b + last
            new = v & 0xFF
            changed |= new != state[i]
            state[i] = new
            last = v >> 8
        if not changed:
            state[0] = (state[0] + 1) & 0xFF
    return out[:n]


def decrypt_field(key, value, nbytes):
    iv, data = value[:16].encode(), base64.b64decode(value[16:])
    d = Cipher(algorithms.AES(sha1prng(key.encode(), nbytes)), modes.CBC(iv)).decryptor()
    u = padding.PKCS7(128).unpadder()
    return (u.update(d.update(data) + d.finalize()) + u.finalize()).decode()


def test_sha1prng_helper_matches_the_spec_vector():
    assert sha1prng(b"TestAccessKey-0123456789abcdef", 32).hex() == \
        "83fc146d5a76a7b889dcde61e2a98a95fda82f39aa51c943fff883881e22b66b"


@pytest.mark.parametrize("encrypt_type,nbytes", [(1, 32), (2, 16)])
def test_encrypted_app_info(make_stack, encrypt_type, nbytes):
    s = make_stack({"app": {"encrypt_app_info": True, "encrypt_type": encrypt_type}})
    iid = create(s.call)
    ans = expect(s.call, "queryInstance", {"instanceId": iid}, "000000")
    assert ans["encryptType"] == str(encrypt_type)
    app = ans["info"][0]["appInfo"]
    assert decrypt_field(s.keys["basic"], app["userName"], nbytes) == "admin"
    assert len(decrypt_field(s.keys["basic"], app["password"], nbytes)) >= 12

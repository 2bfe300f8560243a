"""The two fronts sellers deploy, nginx and Apache httpd 2.4, each running its
production sample (etc/nginx/mkpd.conf, etc/apache/mkpd.conf) over HTTPS
with a certificate of the session's test CA, every client verifying it.

The other suites run through nginx; this module runs, through both, what
differs between them: the Authorization header (Apache withholds it from
FastCGI unless told), the Kit's custom x-* headers, the query string under
a production base_path, chunked request bodies, a 500-user Kit body, an
over-limit body, the Body-Sign header, /-/ refused to a non-local address,
the status child while every worker is busy, and the TLS posture (TLS 1.2
and 1.3 only, plain HTTP redirected, no version disclosed)."""

import base64
import hashlib
import hmac
import json
import re
import ssl
import subprocess
import time
import uuid
from http.client import HTTPSConnection

import pytest

from conftest import _Stacks, need
from harness import create_instance, run_sim, sim_call, wait_for
from test_status import RowHolder, freeze_in_background, status_stack, text_fields

FRONTS = ["nginx", "apache"]
BASE = "/saas/mkp/"
TOKEN = "front-usage-token-" + uuid.uuid4().hex


@pytest.fixture(scope="module", params=FRONTS)
def fstack(request, build, pg, database, keys, session_dir):
    """mkpd under a production base_path, with the usage intake on, behind
    the front of the parameter; one per front for the module."""
    need(build, "mkpd", "mkp-sim")
    stacks = _Stacks(build, pg, database, keys, session_dir, "fronts-" + request.param)
    try:
        s = stacks.make({"mkpd": {"base_path": BASE}, "usage": {"token": TOKEN}},
                        front=request.param)
        pg.psql("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
                " charging_mode, state) VALUES ('i-front-%s', 'of-%s', 'lf-%s', 'bf-%s',"
                " 'ON_DEMAND', 'active') ON CONFLICT DO NOTHING"
                % ((request.param,) * 4))
        yield s
    finally:
        stacks.close()


def iid_of(s):
    return "i-front-" + s.front.KIND


def body_sign_ok(key, headers, data):
    mac = base64.b64encode(hmac.new(key.encode(), data, hashlib.sha256).digest()).decode()
    return headers["Body-Sign"] == 'sign_type="HMAC-SHA256", signature="%s"' % mac


def https(s, method, path, body=b"", headers=None, chunks=None, source=None):
    """One HTTPS request through the front, the certificate verified; with
    chunks (a list of bytes) the body is sent chunked, without a length."""
    ctx = ssl.create_default_context(cafile=s.front.ca)
    conn = HTTPSConnection("127.0.0.1", s.front.port, context=ctx, timeout=60,
                           source_address=(source, 0) if source else None)
    try:
        if chunks is None:
            conn.request(method, path, body=body, headers=headers or {})
        else:
            conn.request(method, path, body=iter(chunks), headers=headers or {},
                         encode_chunked=True)
        resp = conn.getresponse()
        return resp.status, resp.msg, resp.read()
    finally:
        conn.close()


def kit_signed(key, body):
    """The x-sign headers of a V2 Kit call (spec/kit-and-v1.md) and the body."""
    ts = str(int(time.time() * 1000))
    nonce = uuid.uuid4().hex.upper()
    payload = json.dumps({k: body[k] for k in sorted(body)}, separators=(",", ":"),
                         ensure_ascii=False)
    sig = hmac.new(key.encode(), (key + nonce + ts + payload).encode(),
                   hashlib.sha256).hexdigest().upper()
    return ({"Content-Type": "application/json", "x-sign": sig, "x-timestamp": ts,
             "x-nonce": nonce}, json.dumps(body, ensure_ascii=False).encode())


def tenant_body(tenant):
    return {"instanceId": "inst-" + tenant[:8], "orderId": "CS1906666666ABCDE",
            "tenantId": tenant, "tenantCode": "acme", "name": "Acme",
            "domainName": "https://acme.example.com", "flag": 1, "testFlag": 0,
            "timeStamp": time.strftime("%Y%m%d%H%M%S000")}


# --- what mkpd must receive intact ---------------------------------------------------

def test_authorization_header_reaches_the_usage_intake(fstack):
    event = {"id": "ev-" + uuid.uuid4().hex, "instanceId": iid_of(fstack),
             "value": "1.5", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    body = json.dumps({"events": [event]}).encode()
    st, _, out = https(fstack, "POST", "/-/usage", body,
                       {"Content-Type": "application/json",
                        "Authorization": "Bearer " + TOKEN})
    assert st == 200, out
    assert json.loads(out)["accepted"] == 1, out
    st, _, out = https(fstack, "POST", "/-/usage", body,
                       {"Content-Type": "application/json", "Authorization": "Bearer wrong"})
    assert st == 401, out


def test_chunked_usage_body_with_authorization(fstack):
    events = [{"id": "ch-" + uuid.uuid4().hex, "instanceId": iid_of(fstack),
               "value": "2", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
              for _ in range(50)]
    data = json.dumps({"events": events}).encode()
    chunks = [data[i:i + 700] for i in range(0, len(data), 700)]
    st, _, out = https(fstack, "POST", "/-/usage", headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + TOKEN},
        chunks=chunks)
    assert st == 200, out
    assert json.loads(out)["accepted"] == 50, out


def test_kit_headers_and_chunked_body_under_the_base_path(fstack):
    tenant = "T" + uuid.uuid4().hex
    headers, data = kit_signed(fstack.keys["kit"], tenant_body(tenant))
    chunks = [data[i:i + 64] for i in range(0, len(data), 64)]
    st, hdrs, out = https(fstack, "POST", BASE + "produceAPI/v2/tenantSync",
                          headers=headers, chunks=chunks)
    assert st == 200, out
    assert json.loads(out)["resultCode"] == "000000", out
    assert body_sign_ok(fstack.keys["kit"], hdrs, out)
    assert fstack.pg.psql("SELECT name FROM tenant WHERE tenant_id = '%s'" % tenant) == "Acme"
    # A header changed on the way would not verify.
    headers, data = kit_signed(fstack.keys["kit"], tenant_body(tenant))
    headers["x-nonce"] = "X" + headers["x-nonce"]
    st, _, out = https(fstack, "POST", BASE + "produceAPI/v2/tenantSync", data, headers)
    assert json.loads(out)["resultCode"] == "000001", out


def test_v2_query_string_under_the_production_base_path(fstack):
    url = fstack.url + BASE.lstrip("/")
    r = sim_call(fstack.build, url, fstack.keys["basic"], "newInstance",
                 {"orderId": "CSF" + uuid.uuid4().hex[:12].upper(),
                  "orderLineId": "L1", "businessId": str(uuid.uuid4())},
                 args=["--test", "--require-body-sign"])
    assert r.exit == 0, r.stderr
    assert r.result_code == "000000" and r.body_sign == "ok", r
    iid = r.json["instanceId"]
    r = sim_call(fstack.build, url, fstack.keys["basic"], "queryInstance",
                 {"instanceId": iid}, args=["--test", "--require-body-sign"])
    assert r.result_code == "000000" and r.json["info"][0]["instanceId"] == iid, r
    # The signature is over the query string as sent: a bad one is refused.
    r = sim_call(fstack.build, url, fstack.keys["basic"], "queryInstance",
                 {"instanceId": iid}, args=["--test", "--bad-signature"])
    assert r.result_code == "000001", r
    # Outside the base path there is no production URL.
    r = sim_call(fstack.build, fstack.url, fstack.keys["basic"], "queryInstance",
                 {"instanceId": iid}, args=["--test"])
    assert r.result_code != "000000", r


def test_a_500_user_kit_body(fstack, tmp_path):
    tenant = "T" + uuid.uuid4().hex
    users = json.loads(run_sim(fstack.build, ["kit-gen", "users", "500", "--seed", "3",
                                              "--orgs", "10"]).stdout)
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"tenantId": tenant, "appId": "A", "flag": 1,
                                "currentSyncTime": "20240101000000000",
                                "userList": users}, ensure_ascii=False))
    assert path.stat().st_size > 64 << 10
    r = sim_call(fstack.build, fstack.url + BASE.lstrip("/"), fstack.keys["kit"],
                 "authSync", None, args=["--kit", "--file", str(path), "--expect", "000000",
                                         "--require-body-sign"])
    assert r.exit == 0, r.stderr
    assert fstack.pg.psql("SELECT count(*) FROM app_user WHERE tenant_id = '%s'"
                          % tenant) == "500"


def test_an_over_limit_body_is_refused_cleanly(fstack, tmp_path):
    # curl, which reads an answer that comes while it still sends (a front
    # may refuse before it has read the whole body).
    big = tmp_path / "big.json"
    big.write_bytes(b"{" + b" " * (17 << 20) + b"}")
    for chunked in (False, True):
        r = subprocess.run(["curl", "-sS", "--cacert", fstack.front.ca, "-o", "-",
                            "-w", "\\n%{http_code}", "-H", "Content-Type: application/json"] +
                           (["-H", "Transfer-Encoding: chunked"] if chunked else []) +
                           ["--data-binary", "@%s" % big, fstack.url + BASE.lstrip("/")],
                           capture_output=True, text=True, timeout=120)
        out, _, code = r.stdout.rpartition("\n")
        if fstack.front.KIND == "nginx":
            # nginx reads the whole body before passing it on: 413.
            assert code == "413", (chunked, code, out[:200], r.stderr)
        elif code != "413":
            # Apache streams the body to mkpd while it reads it, so mkpd may
            # answer first: its own max_body (1 MiB) refuses it, unread.
            assert code == "200", (chunked, code, out[:200], r.stderr)
            ans = json.loads(out)
            assert ans["resultCode"] == "000002" and "larger than" in ans["resultMsg"], ans
    # Neither the front nor mkpd is the worse for it.
    assert create_instance_at(fstack) is not None


def create_instance_at(s):
    r = sim_call(s.build, s.url + BASE.lstrip("/"), s.keys["basic"], "newInstance",
                 {"orderId": "CSO" + uuid.uuid4().hex[:12].upper(), "orderLineId": "L1",
                  "businessId": str(uuid.uuid4())}, args=["--test"])
    assert r.result_code == "000000", r
    return r.json["instanceId"]


def test_local_paths_only_from_the_allowed_address(fstack):
    for path in ("/-/ping", "/-/status", "/-/usage"):
        st, _, _ = fstack.http("GET", path, source="127.0.0.2")
        assert st == 403, path
    st, _, body = fstack.http("GET", "/-/ping")
    assert st == 200 and body.startswith(b"pong"), body
    # The production URL itself is open to everyone.
    r = sim_call(fstack.build, fstack.url + BASE.lstrip("/"), fstack.keys["basic"],
                 "queryInstance", {"instanceId": "nope"}, args=["--test"])
    assert r.result_code == "000003", r


# --- TLS posture ---------------------------------------------------------------------

def s_client(s, *args):
    return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % s.front.port,
                           "-servername", "localhost", "-CAfile", s.front.ca,
                           "-verify_return_error", *args],
                          input="", capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("proto,name", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_tls_12_and_13_are_accepted_and_verified(fstack, proto, name):
    r = s_client(fstack, proto)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\s*Protocol\s*:\s*%s$" % re.escape(name), r.stdout, re.M) or \
        ("New, %s," % name) in r.stdout, r.stdout
    assert "Verify return code: 0 (ok)" in r.stdout


@pytest.mark.parametrize("proto", ["-tls1", "-tls1_1"])
def test_tls_10_and_11_are_refused_by_the_server(fstack, proto):
    # The client allows the old protocol (security level 0), so what refuses
    # it is the server's configuration.
    r = s_client(fstack, proto, "-cipher", "DEFAULT@SECLEVEL=0")
    assert r.returncode != 0, r.stdout
    assert re.search(r"alert protocol version|unsupported protocol|wrong version number",
                     r.stderr + r.stdout), r.stderr


def test_plain_http_is_redirected_to_https(fstack):
    st, hdrs, _ = fstack.front.request("GET", "/saas/mkp/?a=1&b=2", plain=True)
    assert st == 301
    assert hdrs["Location"] == "%ssaas/mkp/?a=1&b=2" % fstack.url


def test_no_server_version_is_disclosed(fstack):
    want = {"nginx": "nginx", "apache": "Apache"}[fstack.front.KIND]
    for plain, path, source in ((False, "/-/ping", None), (False, "/-/status", "127.0.0.2"),
                                (True, "/", None)):
        st, hdrs, body = fstack.front.request("GET", path, plain=plain, source=source)
        assert hdrs["Server"] == want, (path, hdrs["Server"])
        assert not re.search(rb"(nginx|Apache)/\d", body), body[:300]
        assert b"Debian" not in body


# --- the status child while every worker is busy -------------------------------------

@pytest.mark.parametrize("front", FRONTS)
def test_status_child_answers_while_every_worker_is_busy(make_stack, front):
    s = status_stack(make_stack, store={"statement_timeout": 0}, front=front)
    iid = create_instance(s)
    holder = RowHolder(s.pg, iid)
    out, threads = {}, []
    try:
        for k in range(2):
            threads.append(freeze_in_background(s, iid, out, k))
        wait_for(lambda: holder.waiting() == 2, 20, what="both workers stuck on the row")
        st, _, body = s.http("GET", "/-/ping")
        assert st == 200 and body == b"pong\n"
        st, _, body = s.http("GET", "/-/status")
        assert st == 200, body
        f = text_fields(body.decode())
        assert f["active processes"] == "2" and f["idle processes"] == "0"
        st, _, _ = s.http("GET", "/-/status", source="127.0.0.2")
        assert st == 403
    finally:
        holder.release()
        for t in threads:
            t.join(60)
    assert out == {0: ("000000", out[0][1]), 1: ("000000", out[1][1])}, out


# --- what each front passes to FastCGI -------------------------------------------------

@pytest.mark.parametrize("front", FRONTS)
def test_cgi_variables_each_front_passes(make_front, workdir, front):
    """Against a FastCGI echo: the variables mkpd reads arrive as it reads
    them, whichever front sends them."""
    import harness
    from fcgi_echo import FcgiEcho
    echo = FcgiEcho(workdir / "echo.sock", harness.RUN_USER or None,
                    harness.RUN_GROUP or None)
    try:
        f = make_front(front, echo.path)
        target = BASE + "?signature=AB12&timestamp=1680508066618&nonce=N%2B1"
        st, _, data = f.request("POST", target, b'{"a":1}', {
            "Content-Type": "application/json;charset=utf8",
            "Authorization": "Bearer tok", "x-sign": "S1", "x-nonce": "N1"})
        assert st == 200, data
        p = json.loads(data)["params"]
        assert p["REQUEST_URI"] == target
        assert p["QUERY_STRING"] == target.split("?", 1)[1]
        assert p["REQUEST_METHOD"] == "POST" and p["CONTENT_LENGTH"] == "7"
        assert p["CONTENT_TYPE"] == "application/json;charset=utf8"
        assert p["HTTP_AUTHORIZATION"] == "Bearer tok"
        assert p["HTTP_X_SIGN"] == "S1" and p["HTTP_X_NONCE"] == "N1"
        assert p["REMOTE_ADDR"] == "127.0.0.1"
        assert json.loads(data)["body"] == '{"a":1}'
    finally:
        echo.close()

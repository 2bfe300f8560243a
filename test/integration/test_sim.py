"""test_sim.py: mkp-sim call against a recording HTTP server.

The server here stands in for mkpd: it records each request and answers
what the test tells it to, so the requests mkp-sim makes are checked
byte for byte against the spec's vectors (spec/v2-basic.md §7.2) and an
independent signature computed here with hmac.
"""

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

import harness
from conftest import need

KEY = "TestAccessKey-0123456789abcdef"
V1_BODY = ('{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8",'
           '"orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}')
V1_TS = "1680508066618"
V1_NONCE = "50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA"
V1_SIG = "A64B1BFCE1A372DE15EF4377957528E7F7B0CE4944D4CAEA7B7363339DF27C82"
V2_RAW = ('{"testFlag":"1","activity":"queryInstance",'
          '"instanceId":"10e758d0-31ad-4c4b-8f1b-81d03469a10e","extra":null}')
V2_TS = "1680508237508"
V2_NONCE = "9FB42E04DF4594B1FAA50B304E647AD7154AB9B4F144A65F1168886540A8B24C"
V2_SIG = "35270E7A5AB09D08C9674D7C3DAEA75853BB3E06C010B935C713F739DF3FF59C"


def hmac_hex(key, data):
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


def v2_sign(key, payload, nonce, ts):
    digest = hmac_hex(key, payload)
    return hmac_hex(key, (key + nonce + ts + digest).encode()).upper()


def body_sign(key, body, sig=None):
    sig = sig or base64.b64encode(
        hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return 'sign_type="HMAC-SHA256", signature="%s"' % sig


class Recorder:
    """An HTTP server on a free loopback port: .requests holds
    (method, path, query dict, headers, body bytes); .answer is
    (status, body bytes, extra headers) for the next requests."""

    def __init__(self):
        self.requests = []
        self.answer = (200, b'{"resultCode":"000000","resultMsg":"success"}', {})
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                u = urlsplit(self.path)
                rec.requests.append((self.command, u.path, parse_qs(u.query, keep_blank_values=True),
                                     self.headers, body, u.query))
                status, data, hdrs = rec.answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/saasproduce" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def last(self):
        return self.requests[-1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rec(build):
    need(build, "mkp-sim")
    r = Recorder()
    yield r
    r.close()


def sim(build, *argv):
    return harness.run_sim(build, list(argv))


def call(build, rec, *argv, key=KEY):
    args = ["call", "-u", rec.url] + (["-k", key] if key else []) + list(argv)
    return sim(build, *args)


def test_spec_vector_v1(build, rec):
    r = call(build, rec, "--timestamp", V1_TS, "--nonce", V1_NONCE,
             "newInstance", "businessId=87b94795-0603-4e24-8ae5-69420d60e3c8",
             "orderLineId=CS2211181819B4LVS-000001", "orderId=CS2211181819B4LVS",
             "testFlag=1")
    assert r.returncode == 0, r.stderr
    method, path, q, headers, body, query = rec.last
    assert method == "POST" and path == "/saasproduce"
    assert body.decode() == V1_BODY
    assert query == "signature=%s&timestamp=%s&nonce=%s" % (V1_SIG, V1_TS, V1_NONCE)
    assert headers["Content-Type"] == "application/json;charset=utf8"
    assert headers["Accept"] == "application/json"
    assert "Expect" not in headers
    assert r.stdout == '{"resultCode":"000000","resultMsg":"success"}\n'
    assert "http: 200" in r.stderr.splitlines()
    assert "body-sign: missing" in r.stderr.splitlines()


def test_spec_vector_v2_raw_body(build, rec, workdir):
    raw = workdir / "v2.json"
    raw.write_text(V2_RAW)
    r = call(build, rec, "--timestamp", V2_TS, "--nonce", V2_NONCE, "--raw", str(raw))
    assert r.returncode == 0, r.stderr
    _, _, q, _, body, _ = rec.last
    assert body.decode() == V2_RAW			# sent untouched
    assert q["signature"] == [V2_SIG]		# signed over the canonical form
    # An ACTIVITY beside --raw is ignored: the bytes go as they are.
    r = call(build, rec, "--timestamp", V2_TS, "--nonce", V2_NONCE, "--raw", str(raw),
             "newInstance")
    assert r.returncode == 0, r.stderr
    assert rec.last[4].decode() == V2_RAW and rec.last[2]["signature"] == [V2_SIG]
    r = call(build, rec, "--timestamp", V2_TS, "--nonce", V2_NONCE, "--raw", str(raw),
             "--sign-raw")
    assert rec.last[2]["signature"] == [v2_sign(KEY, V2_RAW.encode(), V2_NONCE, V2_TS)]


def test_raw_body_that_is_not_json_is_signed_as_bytes(build, rec, workdir):
    raw = workdir / "junk"
    raw.write_bytes(b"not json \x00\xff")
    r = call(build, rec, "--timestamp", "1", "--nonce", "N", "--raw", str(raw))
    assert r.returncode == 0, r.stderr
    assert rec.last[4] == b"not json \x00\xff"
    assert rec.last[2]["signature"] == [v2_sign(KEY, b"not json \x00\xff", "N", "1")]


def test_fields_json_members_sorting_and_defaults(build, rec):
    before = int(time.time() * 1000)
    r = call(build, rec, "--test", "changeInstanceCheck", "zeta=z", "instanceId=i-1",
             'productInfo:={ "skuCode" : "x", "amount": 1.50, "list":[1, null] }',
             "flag:=true", "nothing:=null", "unicode=价格/€")
    after = int(time.time() * 1000)
    assert r.returncode == 0, r.stderr
    _, _, q, _, body, _ = rec.last
    assert body.decode() == (
        '{"activity":"changeInstanceCheck","flag":true,"instanceId":"i-1","nothing":null,'
        '"productInfo":{"skuCode":"x","amount":1.50,"list":[1,null]},'
        '"testFlag":"1","unicode":"价格/€","zeta":"z"}')
    nonce, ts = q["nonce"][0], q["timestamp"][0]
    assert re.fullmatch(r"[0-9A-F]{64}", nonce)
    assert before <= int(ts) <= after
    # Null members are left out of what is signed (spec/README.md reading 1).
    payload = body.decode().replace('"nothing":null,', "").encode()
    assert q["signature"] == [v2_sign(KEY, payload, nonce, ts)]


def test_new_instance_gets_a_random_business_id(build, rec):
    ids = []
    for _ in range(2):
        assert call(build, rec, "newInstance", "orderId=O1").returncode == 0
        ids.append(json.loads(rec.last[4])["businessId"])
    for i in ids:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i)
    assert ids[0] != ids[1]
    assert call(build, rec, "newInstance", "businessId=mine").returncode == 0
    assert json.loads(rec.last[4])["businessId"] == "mine"
    assert call(build, rec, "queryInstance", "instanceId=x").returncode == 0
    assert "businessId" not in json.loads(rec.last[4])


def test_file_body_with_overrides(build, rec, workdir):
    f = workdir / "body.json"
    f.write_text('{"orderId":"F1","activity":"refreshInstance","nested":{"b":1,"a":2}}')
    assert call(build, rec, "-f", str(f), "orderId=A1", "scene=RENEWAL").returncode == 0
    assert rec.last[4].decode() == (
        '{"activity":"refreshInstance","nested":{"b":1,"a":2},"orderId":"A1","scene":"RENEWAL"}')
    assert call(build, rec, "-f", str(f), "releaseInstance").returncode == 0
    assert json.loads(rec.last[4])["activity"] == "releaseInstance"


def test_breaking_options(build, rec):
    ok = call(build, rec, "--timestamp", V1_TS, "--nonce", V1_NONCE, "queryInstance", "instanceId=x")
    good_sig = rec.last[2]["signature"][0]
    assert ok.returncode == 0
    call(build, rec, "--timestamp", V1_TS, "--nonce", V1_NONCE, "--bad-signature",
         "queryInstance", "instanceId=x")
    bad = rec.last[2]["signature"][0]
    assert len(bad) == 64 and sum(a != b for a, b in zip(bad, good_sig)) == 1
    call(build, rec, "--no-signature", "--no-nonce", "queryInstance", "instanceId=x")
    assert set(rec.last[2]) == {"timestamp"}
    call(build, rec, "--no-timestamp", "queryInstance", "instanceId=x")
    assert set(rec.last[2]) == {"signature", "nonce"}
    call(build, rec, "--skew", "-120000", "queryInstance", "instanceId=x")
    assert abs(int(rec.last[2]["timestamp"][0]) - (time.time() * 1000 - 120000)) < 10000
    call(build, rec, "--nonce", "a b&c", "queryInstance", "instanceId=x")
    assert rec.last[2]["nonce"] == ["a b&c"]		# escaped in the URL


def test_no_key_needed_without_signature(build, rec):
    r = call(build, rec, "--no-signature", "queryInstance", "instanceId=x", key=None)
    assert r.returncode == 0, r.stderr
    assert "signature" not in rec.last[2]


def test_body_sign_verdicts(build, rec):
    data = b'{"resultCode":"000000","resultMsg":"success"} '
    rec.answer = (200, data, {"Body-Sign": body_sign(KEY, data)})
    r = call(build, rec, "--require-body-sign", "queryInstance", "instanceId=x")
    assert r.returncode == 0, r.stderr
    assert "body-sign: ok" in r.stderr.splitlines()
    assert r.stdout == data.decode() + "\n"		# exactly as received
    # The V1 documentation's form, with a space after "signature=".
    sig = body_sign(KEY, data).replace('signature="', 'signature= "')
    rec.answer = (200, data, {"Body-Sign": sig})
    assert call(build, rec, "--require-body-sign", "queryInstance", "instanceId=x").returncode == 0
    rec.answer = (200, data, {"Body-Sign": body_sign("other-key", data)})
    r = call(build, rec, "queryInstance", "instanceId=x")
    assert r.returncode == 0
    assert "body-sign: MISMATCH" in r.stderr.splitlines()
    r = call(build, rec, "--require-body-sign", "queryInstance", "instanceId=x")
    assert r.returncode == 4
    rec.answer = (200, data, {})
    assert call(build, rec, "--require-body-sign", "queryInstance", "instanceId=x").returncode == 4


def test_exit_statuses(build, rec):
    rec.answer = (200, b'{"resultCode":"000001","resultMsg":"bad token"}', {})
    assert call(build, rec, "queryInstance", "instanceId=x").returncode == 0
    assert call(build, rec, "--expect", "000001", "queryInstance", "instanceId=x").returncode == 0
    r = call(build, rec, "--expect", "000000", "queryInstance", "instanceId=x")
    assert r.returncode == 3
    assert "resultCode 000001, expected 000000" in r.stderr
    rec.answer = (500, b'{"resultCode":"000005"}', {})
    r = call(build, rec, "--expect", "000005", "queryInstance", "instanceId=x")
    assert r.returncode == 1
    assert "http: 500" in r.stderr.splitlines()
    rec.answer = (200, b"<html>ok</html>", {})
    assert call(build, rec, "queryInstance", "instanceId=x").returncode == 1
    rec.answer = (200, b'{"resultMsg":"no code"}', {})
    assert call(build, rec, "queryInstance", "instanceId=x").returncode == 1


def test_transport_error(build):
    need(build, "mkp-sim")
    port = harness.free_port()
    r = sim(build, "call", "-u", "http://127.0.0.1:%d/" % port, "-k", KEY,
            "--timeout", "5", "queryInstance", "instanceId=x")
    assert r.returncode == 1
    assert r.stdout == ""
    assert "mkp-sim call:" in r.stderr


@pytest.mark.parametrize("argv", [
    [],
    ["call"],
    ["bogus"],
    ["call", "-u", "http://127.0.0.1:1/", "queryInstance"],			# no key
    ["call", "-k", "K", "--timeout", "0", "queryInstance"],
    ["call", "-k", "K", "--timestamp", "soon", "queryInstance"],
    ["call", "-k", "K", "queryInstance", "novalue"],
    ["call", "-k", "K", "queryInstance", "bad:={not json"],
    ["call", "-k", "K", "--raw", "/dev/null", "queryInstance", "a=b"],
    ["call", "-k", "K", "--raw", "/dev/null", "a=b"],
    ["call", "-k", "K", "--raw", "/dev/null", "--test"],
    ["call", "-k", "K", "--no-such-option", "queryInstance"],
    ["call", "-k", "K", "-f", "/nonexistent.json"],
], ids=lambda a: " ".join(a) or "nothing")
def test_usage_errors(build, argv):
    need(build, "mkp-sim")
    assert sim(build, *argv).returncode == 2


def test_help_documents_every_option(build):
    need(build, "mkp-sim")
    r = sim(build, "--help")
    assert r.returncode == 0
    for opt in ("--url", "--key", "--file", "--test", "--timestamp", "--skew", "--nonce",
                "--no-nonce", "--no-timestamp", "--no-signature", "--bad-signature",
                "--raw", "--sign-raw", "--timeout", "--expect", "--require-body-sign",
                "--insecure", "--verbose", "MKPD_URL", "MKPD_BASIC_KEY", "MKPD_HTTP_PORT"):
        assert opt in r.stdout, opt


def test_defaults_from_the_environment(build, rec):
    import os
    import subprocess
    env = dict(os.environ, MKPD_URL=rec.url, MKPD_BASIC_KEY=KEY)
    r = subprocess.run([str(build / "mkp-sim"), "call", "--timestamp", V1_TS, "--nonce", V1_NONCE,
                        "newInstance", "businessId=87b94795-0603-4e24-8ae5-69420d60e3c8",
                        "orderId=CS2211181819B4LVS", "orderLineId=CS2211181819B4LVS-000001",
                        "testFlag=1"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert rec.last[2]["signature"] == [V1_SIG]


def test_verbose_shows_both_sides(build, rec):
    r = call(build, rec, "-v", "queryInstance", "instanceId=x")
    assert r.returncode == 0
    assert "> POST %s?signature=" % rec.url in r.stderr
    assert re.search(r"^< HTTP/1\.[01] 200", r.stderr, re.MULTILINE)
    assert "< Content-Type: application/json;charset=UTF-8" in r.stderr

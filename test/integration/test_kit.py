"""The V2 Kit (joint-operation) sync interfaces end to end: this module
signs as the marketplace does (x-sign over the canonical payload, an
independent implementation in Python), nginx passes the call to mkpd, mkpd
applies it in PostgreSQL. Every test uses a tenant of its own, so the
module shares one stack and one database."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import tempfile
import time
import uuid

from harness import wait_for

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_KEYDIR = tempfile.mkdtemp(prefix="mkpd-kit-")
KEYFILE = os.path.join(_KEYDIR, "kit.pem")
_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=3072)
_fd = os.open(KEYFILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(_fd, "wb") as _f:
    _f.write(_PRIVATE.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))

MKPD_OVERRIDES = {"kit": {"private_key_file": KEYFILE}}

STAMP = [datetime.datetime(2024, 1, 1)]


def stamp():
    """A fresh, increasing Kit timeStamp (yyyyMMddHHmmssSSS): a real
    instant, a second after the last one."""
    STAMP[0] += datetime.timedelta(seconds=1)
    return STAMP[0].strftime("%Y%m%d%H%M%S") + "000"


def canonical(body):
    return json.dumps({k: body[k] for k in sorted(body) if body[k] is not None},
                      separators=(",", ":"), ensure_ascii=False)


def kit_call(stack, name, body, key=None, ts=None, nonce=None, sign=None, raw=None,
             drop=()):
    key = key or stack.keys["kit"]
    ts = str(int(time.time() * 1000)) if ts is None else ts
    nonce = nonce or uuid.uuid4().hex.upper()
    payload = raw if raw is not None else canonical(body)
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False)
    sig = sign or hmac.new(key.encode(), (key + nonce + ts + payload).encode(),
                           hashlib.sha256).hexdigest().upper()
    headers = {"Content-Type": "application/json", "x-sign": sig, "x-timestamp": ts,
               "x-nonce": nonce}
    for h in drop:
        del headers[h]
    status, hdrs, out = stack.http("POST", "/produceAPI/v2/" + name, data.encode(), headers)
    assert status == 200, out
    ans = json.loads(out)
    # Body-Sign with mkpd's kit key over the exact bytes.
    mac = base64.b64encode(hmac.new(stack.keys["kit"].encode(), out, hashlib.sha256).digest()).decode()
    assert hdrs["Body-Sign"] == 'sign_type="HMAC-SHA256", signature="%s"' % mac
    return ans


def ok(stack, name, body, **kw):
    ans = kit_call(stack, name, body, **kw)
    assert ans["resultCode"] == "000000", ans
    return ans


def code(stack, name, body, expected, **kw):
    ans = kit_call(stack, name, body, **kw)
    assert ans["resultCode"] == expected, ans
    return ans


def sql(stack, text):
    return stack.pg.psql(text)


def events(stack, tenant):
    return int(sql(stack, "SELECT count(*) FROM kit_event WHERE tenant_id = '%s'" % tenant))


def new_tenant():
    return "T" + uuid.uuid4().hex


def tenant_body(tenant, flag, name="Acme", ts=None):
    return {"instanceId": "inst-" + tenant[:8], "orderId": "CS1906666666ABCDE",
            "tenantId": tenant, "tenantCode": "acme", "name": name,
            "domainName": "https://acme.example.com", "flag": flag, "testFlag": 0,
            "timeStamp": ts or stamp()}


def encrypt(secret, params="sha256-mgf1-sha1"):
    md, mgf = {"sha256-mgf1-sha1": (hashes.SHA256(), hashes.SHA1()),
               "sha1": (hashes.SHA1(), hashes.SHA1()),
               "sha256": (hashes.SHA256(), hashes.SHA256())}[params]
    ct = _PRIVATE.public_key().encrypt(secret.encode(), padding.OAEP(
        mgf=padding.MGF1(algorithm=mgf), algorithm=md, label=None))
    return base64.b64encode(ct).decode()


def user(name, org="D1", role="user", **extra):
    u = {"userName": name, "name": name.title(), "orgCode": org, "role": role,
         "enable": "true"}
    u.update(extra)
    return u


def auth_body(tenant, flag, users, sync=None, ts=None):
    ts = ts or stamp()
    return {"instanceId": "", "tenantId": tenant, "appId": "APP1",
            "currentSyncTime": sync or ts, "flag": flag, "testFlag": 0,
            "timeStamp": ts, "userList": users}


# --- tenantSync -------------------------------------------------------------

def test_tenant_add_modify_delete_and_repeats(stack):
    t = new_tenant()
    add = tenant_body(t, 1)
    ok(stack, "tenantSync", add)
    assert sql(stack, "SELECT name, tenant_code, deleted_at IS NULL FROM tenant "
                      "WHERE tenant_id = '%s'" % t) == "Acme|acme|t"
    n = events(stack, t)
    ok(stack, "tenantSync", add)                    # repeat: nothing new
    assert events(stack, t) == n

    mod = tenant_body(t, 2, name="Acme Ltd")
    ok(stack, "tenantSync", mod)
    assert sql(stack, "SELECT name FROM tenant WHERE tenant_id = '%s'" % t) == "Acme Ltd"

    old = tenant_body(t, 2, name="Older", ts="20000101000000000")
    ok(stack, "tenantSync", old)                    # stale: acknowledged, ignored
    assert sql(stack, "SELECT name FROM tenant WHERE tenant_id = '%s'" % t) == "Acme Ltd"

    ok(stack, "tenantSync", tenant_body(t, 0))
    assert sql(stack, "SELECT deleted_at IS NOT NULL FROM tenant "
                      "WHERE tenant_id = '%s'" % t) == "t"
    n = events(stack, t)
    ok(stack, "tenantSync", tenant_body(t, 0))      # repeated delete
    assert events(stack, t) == n
    assert sql(stack, "SELECT op FROM kit_event WHERE tenant_id = '%s' "
                      "ORDER BY event_id" % t).split("\n") == ["add", "modify", "delete"]


def test_delete_of_an_absent_tenant_succeeds_and_blocks_an_older_add(stack):
    t = new_tenant()
    ok(stack, "tenantSync", tenant_body(t, 0))
    ok(stack, "tenantSync", tenant_body(t, 1, ts="20000101000000000"))
    assert sql(stack, "SELECT deleted_at IS NOT NULL FROM tenant "
                      "WHERE tenant_id = '%s'" % t) == "t"


# --- authentication and freshness --------------------------------------------

def test_bad_sign_missing_or_stale_timestamp_and_replay(stack):
    t = new_tenant()
    code(stack, "tenantSync", tenant_body(t, 1), "000001", sign="0" * 64)
    code(stack, "tenantSync", tenant_body(t, 1), "000001", key="wrong-key-" + t)
    code(stack, "tenantSync", tenant_body(t, 1), "000002",
         ts=str(int(time.time() * 1000) - 120000))
    code(stack, "tenantSync", tenant_body(t, 1), "000002", drop=("x-timestamp",))
    code(stack, "tenantSync", tenant_body(t, 1), "000002", drop=("x-nonce",))
    code(stack, "tenantSync", tenant_body(t, 1), "000001", drop=("x-sign",))
    assert sql(stack, "SELECT count(*) FROM tenant WHERE tenant_id = '%s'" % t) == "0"
    body = tenant_body(t, 1)
    ok(stack, "tenantSync", body, nonce="N" + t)
    code(stack, "tenantSync", body, "000001", nonce="N" + t)


def test_raw_body_signature_is_accepted(stack):
    t = new_tenant()
    raw = json.dumps(tenant_body(t, 1))
    ok(stack, "tenantSync", None, raw=raw)
    assert sql(stack, "SELECT count(*) FROM tenant WHERE tenant_id = '%s'" % t) == "1"


def test_numbers_signed_as_the_java_sample_writes_them(stack):
    """Huawei's Kit sample reads the body into a Map<String,Object> and
    writes it back with Jackson: numbers with a fraction or an exponent
    become Java doubles (1e3 -> 1000.0, 1.50 -> 1.5, 2E-2 -> 0.02), -0
    the integer 0. A call signed over that is accepted; a wrong x-sign on
    it is not."""
    t = new_tenant()
    ts = stamp()
    raw = ('{"instanceId":"inst-%s","orderId":"CS1906666666ABCDE","tenantId":"%s",'
           '"tenantCode":"acme","name":"Acme","domainName":"https://acme.example.com",'
           '"flag":1,"testFlag":0,"timeStamp":"%s","ratio":1.50,"limits":[1e3,-0],'
           '"rate":2E-2}' % (t[:8], t, ts))
    java = ('{"domainName":"https://acme.example.com","flag":1,"instanceId":"inst-%s",'
            '"limits":[1000.0,0],"name":"Acme","orderId":"CS1906666666ABCDE",'
            '"rate":0.02,"ratio":1.5,"tenantCode":"acme","tenantId":"%s","testFlag":0,'
            '"timeStamp":"%s"}' % (t[:8], t, ts))
    key = stack.keys["kit"]
    nonce = uuid.uuid4().hex.upper()
    now = str(int(time.time() * 1000))
    sig = hmac.new(key.encode(), (key + nonce + now + java).encode(),
                   hashlib.sha256).hexdigest().upper()
    wrong = sig[:10] + ("1" if sig[10] == "0" else "0") + sig[11:]
    code(stack, "tenantSync", None, "000001", raw=raw, sign=wrong, ts=now)
    assert sql(stack, "SELECT count(*) FROM tenant WHERE tenant_id = '%s'" % t) == "0"
    ok(stack, "tenantSync", None, raw=raw, sign=sig, ts=now, nonce=nonce)
    assert sql(stack, "SELECT count(*) FROM tenant WHERE tenant_id = '%s'" % t) == "1"


def test_malformed_fields_are_refused(stack):
    t = new_tenant()
    code(stack, "tenantSync", dict(tenant_body(t, 1), flag=7), "000002")
    code(stack, "tenantSync", dict(tenant_body(t, 1), timeStamp="yesterday"), "000002")
    code(stack, "tenantSync", dict(tenant_body(t, 1), tenantId="x" * 65), "000002")
    code(stack, "tenantSync", dict(tenant_body(t, 1), name=None), "000002")
    assert sql(stack, "SELECT count(*) FROM tenant WHERE tenant_id = '%s'" % t) == "0"


# --- applicationSync ----------------------------------------------------------

def app_body(tenant, flag, secret, ts=None, test=0):
    return {"instanceId": "", "tenantId": tenant, "appId": "APP1", "clientId": "CID",
            "clientSecret": secret, "flag": flag, "testFlag": test,
            "timeStamp": ts or stamp()}


def test_app_secret_decrypted_sealed_and_never_plain(stack):
    t = new_tenant()
    secrets = {p: "s3cr3t-%s-%s" % (p, uuid.uuid4().hex) for p in
               ("sha256-mgf1-sha1", "sha1", "sha256")}
    for p, s in secrets.items():
        ok(stack, "applicationSync", app_body(t, 2, encrypt(s, p)))
        sealed = sql(stack, "SELECT client_secret FROM app WHERE tenant_id = '%s'" % t)
        assert sealed.startswith("s1:") and s not in sealed
    n = events(stack, t)
    assert n == 3
    code(stack, "applicationSync", app_body(t, 2, base64.b64encode(b"x" * 384).decode()),
         "000002")
    code(stack, "applicationSync", app_body(t, 2, "not base64!"), "000002")
    assert events(stack, t) == n
    # A debug call's hand-typed secret is kept, sealed, with a warning.
    # (A debug tenant of its own: a debug call never changes a real object.)
    plain = "typed-by-hand-" + uuid.uuid4().hex
    t2 = new_tenant()
    ok(stack, "applicationSync", app_body(t2, 1, plain, test=1))
    assert sql(stack, "SELECT secret_plain, is_test, client_secret LIKE 's1:%%' FROM app "
                      "WHERE tenant_id = '%s'" % t2) == "t|t|t"
    ok(stack, "applicationSync", app_body(t, 1, plain, test=1))
    assert sql(stack, "SELECT secret_plain FROM app WHERE tenant_id = '%s'" % t) == "f"
    ok(stack, "applicationSync", app_body(t, 0, None))
    assert sql(stack, "SELECT deleted_at IS NOT NULL FROM app "
                      "WHERE tenant_id = '%s'" % t) == "t"
    ok(stack, "applicationSync", app_body(t, 0, None))

    # No secret in plain text in any text column of any table, nor in the log.
    wait_for(lambda: sql(stack, "SELECT count(*) FROM callback_log WHERE "
                                "activity = 'applicationSync' AND body LIKE '%%%s%%'"
                         % t) != "0")
    # Every text column of every table (a partitioned one through its parent,
    # which reads its partitions), all secrets at once: one query.
    cols = sql(stack, "SELECT c.relname || '.' || a.attname FROM pg_attribute a"
                      " JOIN pg_class c ON c.oid = a.attrelid"
                      " JOIN pg_namespace n ON n.oid = c.relnamespace"
                      " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
                      " AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped"
                      " AND a.atttypid IN ('text'::regtype, 'jsonb'::regtype)")
    assert "app.client_secret" in cols.split("\n"), cols
    patterns = "ARRAY[%s]" % ", ".join("'%%%s%%'" % s for s in list(secrets.values()) + [plain])
    hits = sql(stack, " UNION ALL ".join(
        "(SELECT '%s' FROM %s WHERE %s::text LIKE ANY (%s) LIMIT 1)"
        % (col, col.split(".")[0], col.split(".")[1], patterns) for col in cols.split("\n")))
    assert hits == "", "a secret in plain text in " + hits
    log = stack.mkpd.log() + stack.mkpd.output()
    for s in list(secrets.values()) + [plain]:
        assert s not in log


# --- authSync -------------------------------------------------------------------

def test_auth_add_modify_cancel_delete(stack):
    t = new_tenant()
    users = [user("zhangsan01", role="admin",
                  extension={"entryDate": "2022-11-9", "employeeType": "4",
                             "workPlace": "南京"}),
             user("lisi02")]
    ok(stack, "authSync", auth_body(t, 1, users))
    assert sql(stack, "SELECT user_name, role, employee_type, work_place, "
                      "extension->>'entryDate' FROM app_user WHERE tenant_id = '%s' "
                      "ORDER BY 1" % t).split("\n") == [
        "lisi02|user|||", "zhangsan01|admin|4|南京|2022-11-9"]
    n = events(stack, t)
    body = auth_body(t, 1, users)
    ok(stack, "authSync", body)                      # same data, newer stamp
    assert events(stack, t) == n

    ok(stack, "authSync", auth_body(t, 2, [user("lisi02", role="admin")]))
    assert sql(stack, "SELECT role FROM app_user WHERE tenant_id = '%s' "
                      "AND user_name = 'lisi02'" % t) == "admin"
    # An older increment is acknowledged and ignored.
    ok(stack, "authSync", auth_body(t, 2, [user("lisi02", role="user")],
                                    sync="20000101000000000", ts="20000101000000000"))
    assert sql(stack, "SELECT role FROM app_user WHERE tenant_id = '%s' "
                      "AND user_name = 'lisi02'" % t) == "admin"

    ok(stack, "authSync", auth_body(t, 3, [{"userName": "lisi02"}]))
    ok(stack, "authSync", auth_body(t, 3, [{"userName": "lisi02"}]))
    ok(stack, "authSync", auth_body(t, 0, [{"userName": "zhangsan01"},
                                           {"userName": "nobody"}]))
    assert sql(stack, "SELECT count(*) FROM kit_active_users WHERE tenant_id = '%s'" % t) == "0"
    assert sql(stack, "SELECT user_name, revoked_at IS NOT NULL, deleted_at IS NOT NULL "
                      "FROM app_user WHERE tenant_id = '%s' ORDER BY 1" % t).split("\n") == [
        "lisi02|t|f", "nobody|f|t", "zhangsan01|f|t"]


def test_auth_user_list_as_string_with_bare_keys(stack):
    t = new_tenant()
    body = auth_body(t, 1, None)
    body["userList"] = ('[{userName:"wang01", name:"王五", orgCode:"D1", role:"user", '
                        'enable:"true", extension:{entryDate:"2022-11-16"}}]')
    ok(stack, "authSync", body)
    assert sql(stack, "SELECT name FROM app_user WHERE tenant_id = '%s'" % t) == "王五"


def test_auth_malformed_item_rejects_the_whole_call(stack):
    t = new_tenant()
    users = [user("u1"), user("u2", role="boss")]
    code(stack, "authSync", auth_body(t, 1, users), "000002")
    code(stack, "authSync", auth_body(t, 1, [user("u1"), {"name": "no user name"}]), "000002")
    code(stack, "authSync", auth_body(t, 1, [user("u%d" % i) for i in range(501)]), "000002")
    code(stack, "authSync", auth_body(t, 1, "[{userName: broken"), "000002")
    # The first repeat in list order is named, whatever the names sort as.
    ans = code(stack, "authSync", auth_body(t, 1, [user("zz"), user("b"), user("zz"), user("a"),
                                                   user("b")]), "000002")
    assert "userList[2].userName: repeated" in ans["resultMsg"], ans
    assert sql(stack, "SELECT count(*) FROM app_user WHERE tenant_id = '%s'" % t) == "0"
    assert events(stack, t) == 0


def test_auth_500_users(stack):
    t = new_tenant()
    ok(stack, "authSync", auth_body(t, 1, [user("u%03d" % i) for i in range(500)]))
    assert sql(stack, "SELECT count(*) FROM app_user WHERE tenant_id = '%s'" % t) == "500"


# --- departments ------------------------------------------------------------------

def org_body(tenant, flag, code_, name=None, parent=None, ts=None):
    return {"instanceId": "", "tenantId": tenant, "orgCode": code_, "orgName": name,
            "parentCode": parent, "flag": flag, "testFlag": 0, "timeStamp": ts or stamp()}


def test_single_org_add_move_rename_delete_and_unknown_parent(stack):
    t = new_tenant()
    ok(stack, "singleOrgSync", org_body(t, 1, "R", "Root", ""))
    ok(stack, "singleOrgSync", org_body(t, 1, "A", "Dev", "R"))
    ok(stack, "singleOrgSync", org_body(t, 1, "B", "Ops", "R"))
    assert sql(stack, "SELECT path FROM org WHERE tenant_id = '%s' AND org_code = 'A'"
               % t) == "/Root/Dev"
    n = events(stack, t)
    ok(stack, "singleOrgSync", org_body(t, 1, "A", "Dev", "R"))
    assert events(stack, t) == n
    ok(stack, "singleOrgSync", org_body(t, 2, "A", "Engineering", "B"))   # move + rename
    assert sql(stack, "SELECT path FROM org WHERE tenant_id = '%s' AND org_code = 'A'"
               % t) == "/Root/Ops/Engineering"
    ok(stack, "singleOrgSync", org_body(t, 2, "A", "Stale", "R", ts="20000101000000000"))
    assert sql(stack, "SELECT name FROM org WHERE tenant_id = '%s' AND org_code = 'A'"
               % t) == "Engineering"
    # A parent that names no department: kept and reported, not rejected.
    ans = ok(stack, "singleOrgSync", org_body(t, 1, "X", "Lost", "NOPE"))
    assert sql(stack, "SELECT parent_missing FROM kit_org_tree WHERE tenant_id = '%s' "
                      "AND org_code = 'X'" % t) == "t"
    wait_for(lambda: "parent unknown: X" in sql(
        stack, "SELECT coalesce(string_agg(reason, ' '), '') FROM callback_log "
               "WHERE body LIKE '%%%s%%'" % t))
    assert ans["resultCode"] == "000000"
    ok(stack, "singleOrgSync", org_body(t, 0, "B"))
    ok(stack, "singleOrgSync", org_body(t, 0, "B"))
    ok(stack, "singleOrgSync", org_body(t, 0, "never-there"))
    assert sql(stack, "SELECT org_code FROM kit_org_tree WHERE tenant_id = '%s' ORDER BY 1"
               % t).split("\n") == ["A", "R", "X"]


def all_body(tenant, items, ts=None):
    return {"instanceId": "", "tenantId": tenant, "testFlag": 0, "timeStamp": ts or stamp(),
            "orgInfoList": items}


def test_full_org_sync_prunes_softly_and_takes_bare_key_strings(stack):
    t = new_tenant()
    ok(stack, "allOrgSync", all_body(t, [
        {"orgCode": "1", "orgName": "HQ", "parentCode": ""},
        {"orgCode": "2", "orgName": "Sales", "parentCode": "1"},
        {"orgCode": "3", "orgName": "Support", "parentCode": "1"}]))
    n = events(stack, t)
    ok(stack, "allOrgSync", all_body(t, [
        {"orgCode": "1", "orgName": "HQ", "parentCode": ""},
        {"orgCode": "2", "orgName": "Sales", "parentCode": "1"},
        {"orgCode": "3", "orgName": "Support", "parentCode": "1"}]))
    assert events(stack, t) == n
    body = all_body(t, '[{orgCode:"1", name:"HQ", parentCode:"" },'
                       '{orgCode:"3", orgName:"Care", parentCode:"1"}]')
    ok(stack, "allOrgSync", body)
    assert sql(stack, "SELECT org_code, name, path, deleted_at IS NOT NULL FROM org "
                      "WHERE tenant_id = '%s' ORDER BY 1" % t).split("\n") == [
        "1|HQ|/HQ|f", "2|Sales|/HQ/Sales|t", "3|Care|/HQ/Care|f"]
    assert sql(stack, "SELECT op FROM kit_event WHERE tenant_id = '%s' AND object_key = '2' "
                      "ORDER BY event_id DESC LIMIT 1" % t) == "prune"
    # A malformed item changes nothing.
    code(stack, "allOrgSync", all_body(t, [{"orgCode": "9", "orgName": "New"},
                                           {"orgName": "no code"}]), "000002")
    assert sql(stack, "SELECT count(*) FROM org WHERE tenant_id = '%s' AND org_code = '9'"
               % t) == "0"
    ans = code(stack, "allOrgSync", all_body(t, [{"orgCode": "9", "orgName": "New"},
                                                 {"orgCode": "8", "orgName": "Other"},
                                                 {"orgCode": "9", "orgName": "Again"},
                                                 {"orgCode": "8", "orgName": "Again"}]),
               "000002")
    assert "orgInfoList[2].orgCode: repeated" in ans["resultMsg"], ans
    assert sql(stack, "SELECT count(*) FROM org WHERE tenant_id = '%s' AND org_code IN "
                      "('8', '9')" % t) == "0"


def test_users_view_shows_department_path(stack):
    t = new_tenant()
    ok(stack, "tenantSync", tenant_body(t, 1))
    ok(stack, "allOrgSync", all_body(t, [{"orgCode": "1", "orgName": "HQ"},
                                         {"orgCode": "2", "orgName": "Dev",
                                          "parentCode": "1"}]))
    ok(stack, "authSync", auth_body(t, 1, [user("amy", org="2")]))
    assert sql(stack, "SELECT user_name, org_path, tenant_code FROM kit_active_users "
                      "WHERE tenant_id = '%s'" % t) == "amy|/HQ/Dev|acme"
    wait_for(lambda: sql(stack, "SELECT count(*) FROM kit_recent_calls "
                                "WHERE activity = 'authSync'") != "0")


# --- mkpctl ---------------------------------------------------------------------

def test_mkpctl_keys_makes_a_key_mkpd_decrypts_with(stack, tmp_path):
    path = tmp_path / "new.pem"
    r = stack.mkpd.mkpctl("keys", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    pub = serialization.load_pem_public_key(r.stdout.encode())
    assert pub.key_size >= 3072
    again = stack.mkpd.mkpctl("keys", str(path))      # never overwrites
    assert again.returncode == 1
    assert stack.mkpd.mkpctl("keys", "--bits", "2048", str(tmp_path / "x.pem")).returncode == 2


def test_mkpctl_lists_tenants_users_orgs(stack):
    t = new_tenant()
    ok(stack, "tenantSync", tenant_body(t, 1))
    ok(stack, "allOrgSync", all_body(t, [{"orgCode": "1", "orgName": "HQ"}]))
    ok(stack, "authSync", auth_body(t, 1, [user("bob", org="1")]))
    r = stack.mkpd.mkpctl("tenants", check=True)
    assert t in r.stdout
    r = stack.mkpd.mkpctl("users", t, check=True)
    assert r.stdout.split("\n")[1].split()[:2] == ["bob", "Bob"]
    assert "/HQ" in r.stdout
    users = json.loads(stack.mkpd.mkpctl("users", t, "--json", check=True).stdout)
    assert [(u["user_name"], u["org_path"]) for u in users] == [("bob", "/HQ")]
    orgs = json.loads(stack.mkpd.mkpctl("orgs", t, "--json", check=True).stdout)
    assert [(o["org_code"], o["parent_code"], o["path"]) for o in orgs] == [("1", None, "/HQ")]


# --- mkp-sim call --kit -----------------------------------------------------------

def test_mkp_sim_call_kit(stack):
    from harness import sim_call
    t = new_tenant()

    def sim(name, fields, *args):
        return sim_call(stack.build, stack.url, stack.keys["kit"], name, fields,
                        args=["--kit", *args])

    r = sim("tenantSync", {"tenantId": t, "tenantCode": "c", "name": "N",
                           "domainName": "https://d.example.com", "flag": 1},
            "--test", "--expect", "000000", "--require-body-sign")
    assert r[0] == 0, r[2]
    assert sql(stack, "SELECT is_test, tenant_code FROM tenant WHERE tenant_id = '%s'"
               % t) == "t|c"
    r = sim("authSync", {"tenantId": t, "appId": "A", "flag": 1,
                         "currentSyncTime": "20240101000000000",
                         "userList": [user("sim01")]}, "--expect", "000000")
    assert r[0] == 0, r[2]
    assert sql(stack, "SELECT count(*) FROM kit_active_users WHERE tenant_id = '%s'" % t) == "1"
    r = sim("tenantSync", {"tenantId": t, "flag": 0}, "--bad-signature", "--expect", "000001")
    assert r[0] == 0, r[2]
    r = sim("tenantSync", {"tenantId": t, "flag": 0}, "--skew", "-120000", "--expect", "000002")
    assert r[0] == 0, r[2]
    assert sql(stack, "SELECT deleted_at IS NULL FROM tenant WHERE tenant_id = '%s'" % t) == "t"


# --- the V1 Kit dialect (authToken header, Body-Sign with the V1 key) -------------

def v1_token(key, body, skip_blank=True):
    items = []
    for k in sorted(body):
        v = body[k]
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif not isinstance(v, str):
            v = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        if skip_blank and v.strip() == "":
            continue
        items.append("%s=%s" % (k, v))
    mac = hmac.new((key + body["timeStamp"]).encode(), "&".join(items).encode(),
                   hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def v1_call(stack, name, body, token=None, expected="000000", skip_blank=True):
    key = stack.keys["v1"]
    headers = {"Content-Type": "application/json"}
    if token != "":
        headers["authToken"] = token or v1_token(key, body, skip_blank)
    status, hdrs, out = stack.http("POST", "/produceAPI/" + name,
                                   json.dumps(body, ensure_ascii=False).encode(), headers)
    assert status == 200, out
    mac = base64.b64encode(hmac.new(key.encode(), out, hashlib.sha256).digest()).decode()
    assert hdrs["Body-Sign"] == 'sign_type="HMAC-SHA256", signature="%s"' % mac
    ans = json.loads(out)
    assert ans["resultCode"] == expected, ans
    return ans


def test_v1_every_interface(stack):
    t = new_tenant()
    v1_call(stack, "tenantSync", tenant_body(t, 1))
    v1_call(stack, "tenantSync", dict(tenant_body(t, 2, name="Renamed")), skip_blank=False)
    assert sql(stack, "SELECT name FROM tenant WHERE tenant_id = '%s'" % t) == "Renamed"

    v1_call(stack, "applicationSync", app_body(t, 1, encrypt("v1-secret-" + t, "sha1")))
    assert sql(stack, "SELECT client_secret LIKE 's1:%%' FROM app WHERE tenant_id = '%s'"
               % t) == "t"

    users = json.dumps([user("v1user", org="10000")], ensure_ascii=False)
    body = auth_body(t, 1, users)
    v1_call(stack, "authSync", body)
    v1_call(stack, "authSync", body)          # repeat
    n = events(stack, t)
    v1_call(stack, "authSync", auth_body(t, 2, json.dumps([user("v1user", role="admin")]),
                                         ts="20000101000000000"))   # stale
    assert events(stack, t) == n
    v1_call(stack, "authSync", auth_body(t, 3, '[{"userName":"v1user"}]'))
    assert sql(stack, "SELECT revoked_at IS NOT NULL FROM app_user WHERE tenant_id = '%s'"
               % t) == "t"

    # A signer that keeps the blank parentCode is accepted too.
    v1_call(stack, "singleOrgSync", org_body(t, 1, "10000", "开发部", ""), skip_blank=False)
    v1_call(stack, "allOrgSync", {"instanceId": "", "tenantId": t, "testFlag": 0,
                                  "timeStamp": stamp(),
                                  "orgInfo": '[{orgCode:"20000", name:"产品部", '
                                             'parentCode:"" }]'})
    assert sql(stack, "SELECT org_code, deleted_at IS NULL FROM org WHERE tenant_id = '%s' "
                      "ORDER BY 1" % t).split("\n") == ["10000|f", "20000|t"]
    v1_call(stack, "singleOrgSync", org_body(t, 0, "20000"))
    v1_call(stack, "applicationSync", app_body(t, 0, None))
    v1_call(stack, "tenantSync", tenant_body(t, 0))
    assert sql(stack, "SELECT deleted_at IS NOT NULL FROM tenant WHERE tenant_id = '%s'"
               % t) == "t"


def test_v1_refusals(stack):
    t = new_tenant()
    v1_call(stack, "tenantSync", tenant_body(t, 1), token="A" * 43 + "=", expected="000001")
    v1_call(stack, "tenantSync", tenant_body(t, 1), token="", expected="000001")
    v1_call(stack, "tenantSync", dict(tenant_body(t, 1), flag=9), expected="000002")
    v1_call(stack, "authSync", auth_body(t, 1, "[{userName:"), expected="000002")
    assert sql(stack, "SELECT count(*) FROM tenant WHERE tenant_id = '%s'" % t) == "0"
    wait_for(lambda: sql(stack, "SELECT count(*) FROM callback_log WHERE dialect = 'kit-v1' "
                                "AND result_code = '000001'") != "0")


def test_mkp_sim_kit_gen_tree_and_users(stack, tmp_path):
    from harness import run_sim, sim_call
    t = new_tenant()

    def gen(*args):
        r = run_sim(stack.build, ["kit-gen", *args], 60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    orgs = gen("orgs", "30", "--seed", "7")
    assert gen("orgs", "30", "--seed", "7") == orgs          # deterministic
    users = gen("users", "500", "--seed", "7", "--orgs", "30")
    assert len({u["userName"] for u in users}) == 500

    def sim(name, fields):
        # A list of 500 users is longer than one argument may be: --file.
        path = tmp_path / (name + ".json")
        path.write_text(json.dumps(fields, ensure_ascii=False))
        r = sim_call(stack.build, stack.url, stack.keys["kit"], name, None,
                     args=["--kit", "--file", str(path), "--expect", "000000"])
        assert r[0] == 0, r[2]

    sim("allOrgSync", {"tenantId": t, "orgInfoList": gen("orgs", "30", "--seed", "7",
                                                          "--bare-keys")})
    sim("authSync", {"tenantId": t, "appId": "A", "flag": 1,
                     "currentSyncTime": "20240101000000000", "userList": users})
    assert sql(stack, "SELECT count(*) FROM kit_org_tree WHERE tenant_id = '%s' "
                      "AND NOT parent_missing" % t) == "30"
    active = sum(1 for u in users if u["enable"] == "true")
    assert sql(stack, "SELECT count(*) FROM kit_active_users WHERE tenant_id = '%s' "
                      "AND org_path IS NOT NULL" % t) == "500"
    assert sql(stack, "SELECT count(*) FROM kit_active_users WHERE tenant_id = '%s' "
                      "AND enabled" % t) == str(active)


def test_mkp_sim_call_kit_v1(stack):
    from harness import sim_call
    t = new_tenant()

    def sim(name, fields, *args):
        return sim_call(stack.build, stack.url, stack.keys["v1"], name, fields,
                        args=["--kit-v1", "--require-body-sign", *args])

    users = json.dumps([user("v1sim")])
    r = sim("authSync", {"tenantId": t, "appId": "A", "flag": 1, "testFlag": 0,
                         "currentSyncTime": "20240101000000000", "instanceId": "",
                         "userList": users}, "--expect", "000000")
    assert r[0] == 0, r[2]
    assert sql(stack, "SELECT user_name FROM app_user WHERE tenant_id = '%s'" % t) == "v1sim"
    r = sim("tenantSync", {"tenantId": t, "flag": 0}, "--bad-signature", "--expect", "000001")
    assert r[0] == 0, r[2]
    r = sim("tenantSync", {"tenantId": t, "flag": 0}, "--no-signature", "--expect", "000001")
    assert r[0] == 0, r[2]


def test_debug_calls_never_change_real_objects(stack):
    t = new_tenant()
    ok(stack, "tenantSync", tenant_body(t, 1))
    ok(stack, "tenantSync", dict(tenant_body(t, 2, name="Debug"), testFlag=1))
    ok(stack, "tenantSync", dict(tenant_body(t, 0), testFlag=1))
    assert sql(stack, "SELECT name, is_test, deleted_at IS NULL FROM tenant "
                      "WHERE tenant_id = '%s'" % t) == "Acme|f|t"
    ok(stack, "allOrgSync", all_body(t, [{"orgCode": "1", "orgName": "HQ"}]))
    ok(stack, "allOrgSync", dict(all_body(t, [{"orgCode": "2", "orgName": "Test"}]),
                                 testFlag=1))
    assert sql(stack, "SELECT org_code, is_test, deleted_at IS NULL FROM org "
                      "WHERE tenant_id = '%s' ORDER BY 1" % t).split("\n") == [
        "1|f|t", "2|t|t"]
    # A real call takes over what a debug call made.
    ok(stack, "singleOrgSync", org_body(t, 2, "2", "Real", "1"))
    assert sql(stack, "SELECT is_test FROM org WHERE tenant_id = '%s' AND org_code = '2'"
               % t) == "f"


# --- a userList in one statement (schema 011) ----------------------------------

def sql_text(v):
    return "NULL" if v is None else "'%s'" % str(v).replace("'", "''")


def user_row(name, org="D1", role="user", enabled="true", email=None, ext=None):
    """One row of mkp_kit_users' n x 14 array (user_name ... extension)."""
    return [name, "APP1", name.title(), org, role, enabled, None, None, None, None,
            email, None, None, ext]


def kit_users_by_set(stack, tenant, rows, test, flag, ts, sync, call):
    lit = "ARRAY[%s]::text[]" % ",".join(
        "ARRAY[%s]" % ",".join(sql_text(v) for v in r) for r in rows)
    return sql(stack, "SELECT mkp_kit_users(%s, %s, 'inst1', %s, %d, %s, %s, %s)" % (
        sql_text(tenant), lit, test, flag, sql_text(ts), sql_text(sync), sql_text(call)))


def kit_users_one_by_one(stack, tenant, rows, test, flag, ts, sync, call):
    """What mkp_kit_users did before 011: mkp_kit_user per user, in order."""
    calls = ["SELECT mkp_kit_user(%s, %s, 'inst1', %s, %d, %s, %s, %s);" % (
        sql_text(tenant), ", ".join([sql_text(v) for v in r[:5]] + [
            "%s::boolean" % sql_text(r[5])] + [sql_text(v) for v in r[6:13]] + [
            "%s::jsonb" % sql_text(r[13])]), test, flag, sql_text(ts), sql_text(sync),
        sql_text(call)) for r in rows]
    out = sql(stack, "BEGIN;\n%s\nCOMMIT;" % "\n".join(calls)).split("\n")
    return "{%d,%d,%d}" % (out.count("applied"), out.count("same"), out.count("stale"))


def test_auth_user_list_in_one_statement_matches_one_by_one(stack):
    """Two tenants get the same sequence of userLists, one through
    mkp_kit_users (new users inserted together) and one user by user as
    before: the counts, the rows and each user's events must be the same."""
    steps = [
        # debug call first: owns what it creates
        (True, 1, [user_row("d1"), user_row("d2", role="admin")]),
        # new users, one listed twice (the second is applied after the first)
        (False, 1, [user_row("a1"), user_row("a2", ext='{"employeeType": "1"}'),
                    user_row("a1", org="D2"), user_row("d1", org="D9")]),
        # known and new users mixed, a repeat ('same') among them
        (False, 2, [user_row("a2", ext='{"employeeType": "1"}'), user_row("a3", email="x@y"),
                    user_row("a1", role="admin"), user_row("d2")]),
        # delete and cancel of known and absent users
        (False, 0, [user_row("a3"), user_row("gone1"), user_row("gone1")]),
        (False, 3, [user_row("a2"), user_row("gone2")]),
        # an add older than the tombstones: stale for them, added for the new one
        (False, 1, [user_row("gone1"), user_row("gone2"), user_row("late")], "old"),
        # a restore
        (False, 1, [user_row("a3"), user_row("a2")]),
    ]
    ts = 20240101000000000
    a, b = new_tenant(), new_tenant()
    for step in steps:
        test, flag, rows = step[:3]
        ts += 1000
        stamp_ = "20200101000000000" if len(step) > 3 else str(ts)
        call = "call-%d" % ts
        got = kit_users_by_set(stack, a, rows, test, flag, stamp_, stamp_, call)
        want = kit_users_one_by_one(stack, b, rows, test, flag, stamp_, stamp_, call)
        assert got == want, (step, got, want)

    cols = ("user_name, app_id, name, org_code, role, enabled, position, employee_code, "
            "employee_type, mobile, email, work_place, entry_date, extension, instance_id, "
            "is_test, stamp, sync_time, revoked_at IS NULL, deleted_at IS NULL")
    rows_a = sql(stack, "SELECT %s FROM app_user WHERE tenant_id = '%s' ORDER BY 1" % (cols, a))
    rows_b = sql(stack, "SELECT %s FROM app_user WHERE tenant_id = '%s' ORDER BY 1" % (cols, b))
    assert rows_a == rows_b
    assert len(rows_a.split("\n")) == 8    # d1 d2 a1 a2 a3 gone1 gone2 late
    ev = ("SELECT object_key, op, stamp, is_test, call_id FROM kit_event "
          "WHERE tenant_id = '%s' ORDER BY object_key, event_id")
    assert sql(stack, ev % a) == sql(stack, ev % b)
    assert "a1|add" in sql(stack, ev % a)

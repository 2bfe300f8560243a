"""test_harness.py: the harness itself, without mkpd.

PostgreSQL, nginx (from the same template as scripts/quickstart, in front
of a FastCGI echo responder) and the config writer: so a failure in an
mkpd test is not the harness's.
"""

import configparser
import json
import time

import pytest

import harness
from fcgi_echo import FcgiEcho
from harness import wait_for


def test_wait_for_returns_the_value():
    seq = iter([0, None, "x"])
    assert wait_for(lambda: next(seq), timeout=5, interval=0.01) == "x"


def test_wait_for_times_out():
    start = time.monotonic()
    with pytest.raises(AssertionError, match="timed out"):
        wait_for(lambda: False, timeout=0.2, what="nothing")
    assert time.monotonic() - start < 5


def test_pg_runs_sql(pg):
    assert pg.psql("SELECT 1 + 1") == "2"
    out = pg.psql("CREATE TEMP TABLE t (a int, b text);"
                  "INSERT INTO t VALUES (1, 'x'), (2, 'y');"
                  "SELECT a, b FROM t ORDER BY a;")
    assert out == "1|x\n2|y"
    assert pg.psql("SELECT current_database()") == "mkpd"
    with pytest.raises(RuntimeError, match="no_such_table"):
        pg.psql("SELECT * FROM no_such_table")


def test_pg_stops_and_starts(workdir):
    server = harness.Postgres(workdir / "pg")
    try:
        server.start()
        assert server.psql("SELECT 42") == "42"
        server.stop()
        assert not server.running()
        assert "could not connect" in server.psql("SELECT 1", check=False) \
            or "Connection refused" in server.psql("SELECT 1", check=False)
        server.start()
        assert server.psql("SELECT 43") == "43"
    finally:
        server.stop()


@pytest.fixture
def echo(workdir):
    e = FcgiEcho(workdir / "echo.sock", harness.RUN_USER or None,
                 harness.RUN_GROUP or None)
    yield e
    e.close()


def test_nginx_passes_the_request_to_fastcgi(make_nginx, echo):
    ngx = make_nginx(echo.path)
    body = '{"activity":"newInstance","orderId":"CS1"}'
    status, headers, data = ngx.request(
        "POST", "/?signature=AB12&timestamp=1680508066618&nonce=N1", body,
        {"Content-Type": "application/json;charset=utf8",
         "Accept": "application/json"})
    assert status == 200, data
    got = json.loads(data)
    p = got["params"]
    assert got["body"] == body
    assert p["REQUEST_METHOD"] == "POST"
    assert p["QUERY_STRING"] == "signature=AB12&timestamp=1680508066618&nonce=N1"
    assert p["DOCUMENT_URI"] == "/"
    assert p["REQUEST_URI"] == "/?signature=AB12&timestamp=1680508066618&nonce=N1"
    assert p["CONTENT_TYPE"] == "application/json;charset=utf8"
    assert p["CONTENT_LENGTH"] == str(len(body))
    assert p["REMOTE_ADDR"] == "127.0.0.1"
    assert headers["Content-Type"] == headers["content-type"] == "application/json"


def test_nginx_keeps_local_paths_local(make_nginx, echo):
    ngx = make_nginx(echo.path)
    status, _, data = ngx.request("GET", "/-/ping")
    assert status == 200
    assert json.loads(data)["params"]["DOCUMENT_URI"] == "/-/ping"
    # Any loopback address but 127.0.0.1 stands for a remote client.
    status, _, _ = ngx.request("GET", "/-/ping", source="127.0.0.2")
    assert status == 403
    status, _, _ = ngx.request("GET", "/", source="127.0.0.2")
    assert status == 200


def test_nginx_limits_the_body(make_nginx, echo):
    ngx = make_nginx(echo.path)
    status, _, data = ngx.request("POST", "/", b"x" * (2 << 20))
    assert status == 200
    assert len(json.loads(data)["body"]) == 2 << 20	# buffered to a temp file
    status, _, _ = ngx.request("POST", "/", b"x" * ((16 << 20) + 1))
    assert status == 413


def test_nginx_without_backend(make_nginx, workdir):
    ngx = make_nginx(str(workdir / "nobody-listens.sock"),
                     extra='location = /static { return 200 "static\\n"; }')
    assert ngx.request("GET", "/static")[0:3:2] == (200, b"static\n")
    assert ngx.request("GET", "/")[0] == 502


def test_mkpd_config_from_overrides(workdir, keys):
    m = harness.Mkpd(workdir / "build-not-needed", workdir / "m",
                     "host=127.0.0.1 port=1 dbname=x", keys,
                     {"pool.max_children": 5, "app": {"memo": "hello"},
                      "mkpd.log_level": None})
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(m.conf_path)
    assert ini["pool"]["max_children"] == "5"
    assert ini["pool"]["pm"] == "static"
    assert ini["app"]["memo"] == "hello"
    assert "log_level" not in ini["mkpd"]
    assert ini["keys"]["basic_key"] == keys["basic"]
    assert ini["store"]["dsn"] == "host=127.0.0.1 port=1 dbname=x"
    assert (m.conf_path.stat().st_mode & 0o777) == 0o600
    assert (m.master_key.stat().st_mode & 0o777) == 0o600
    assert len(m.master_key.read_text().strip()) == 64
    # reload() merges into the running overrides; write_config(path=)
    # leaves the running config alone.
    other = m.write_config({"pool.pm": "bogus"}, path=workdir / "other.conf")
    assert "pm = bogus" in other.read_text()
    assert "pm = static" in m.conf_path.read_text()


def test_mkpd_config_for_a_tcp_listen(workdir, keys):
    m = harness.Mkpd(workdir / "build-not-needed", workdir / "m",
                     "dbname=x", keys, {"mkpd.listen": "127.0.0.1:9"})
    text = m.conf_path.read_text()
    assert "listen = 127.0.0.1:9" in text
    assert "listen_owner" not in text and "listen_group" not in text
    assert m.listen_addr() == "127.0.0.1:9"


def test_listening_sees_unix_and_tcp(workdir):
    import socket
    path = str(workdir / "l.sock")
    assert not harness.listening(path)
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(path)
        assert not harness.listening(path)
        s.listen()
        assert harness.listening(path)
    port = harness.free_port()
    assert not harness.listening("127.0.0.1:%d" % port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert harness.listening("127.0.0.1:%d" % port)


def test_spawned_processes_end(workdir):
    proc = harness.spawn(["sleep", "300"], workdir / "sleep.out")
    assert proc.poll() is None
    assert harness.end_process(proc, timeout=5) < 0
    assert proc not in harness._live


def test_worker_pids_leave_out_the_jobs_child(workdir, keys):
    # A stand-in master: two children, one named as the jobs child (the
    # name is spelt in pieces, or every command line would hold it).
    script = (
        "import ctypes, os, time\n"
        "for name in (b'mkpd-worker', b'mkpd-' + b'jo' + b'bs'):\n"
        "    if os.fork() == 0:\n"
        "        ctypes.CDLL(None).prctl(15, name, 0, 0, 0)\n"
        "        time.sleep(300)\n"
        "time.sleep(300)\n")
    m = harness.Mkpd(workdir / "b", workdir / "m", "dbname=x", keys)
    m.proc = harness.spawn(["/usr/bin/python3", "-c", script], workdir / "out")
    try:
        assert len(wait_for(lambda: (lambda c: c if len(c) == 2 else None)(m.children()),
                            10, what="two children")) == 2
        workers = m.worker_pids()
        assert len(workers) == 1
        assert harness.read_text("/proc/%d/comm" % workers[0]).strip() == "mkpd-worker"
    finally:
        m.kill()

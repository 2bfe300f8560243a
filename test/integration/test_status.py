"""Operations: the status child (/-/status, /-/ping, mkpctl status) answers
while every worker is busy; a stuck request is ended with 000005; reloads
under continuous load drop nothing; the access log and the slow log."""

import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from harness import create_instance as create, free_port, spki_sha256, wait_for


def status_stack(make_stack, pool=None, mkpd=None, store=None, overrides=None, **kw):
    """A stack whose front (etc/nginx/mkpd.conf, or etc/apache/mkpd.conf
    with front="apache") routes /-/status and /-/ping to the status
    child's socket (overrides: other sections; kw: as make_stack)."""
    mkpd = dict(mkpd or {})
    tcp_status = mkpd.pop("status_listen", None)
    s = make_stack({"mkpd": dict({"status_listen": "STATUS", "control_socket": "CONTROL"},
                                 **mkpd),
                    "pool": dict({"pm": "static", "max_children": 2}, **(pool or {})),
                    "store": store or {}, **(overrides or {})},
                   start=False, **kw)
    status_sock = tcp_status or str(s.mkpd.dir / "status.sock")
    s.mkpd.overrides["mkpd"]["status_listen"] = status_sock
    s.mkpd.overrides["mkpd"]["control_socket"] = str(s.mkpd.dir / "control.sock")
    s.mkpd.write_config()
    # A browser asks for it; the pool's workers may all be busy.
    favicon = {"nginx": "location = /favicon.ico { return 204; }",
               "apache": '<Location "/favicon.ico">\n\t\tRequire all denied\n\t</Location>'}
    s.front.write_config(s.mkpd.listen_addr(), favicon[s.front.KIND],
                         status_server=status_sock)
    s.start()
    return s


class RowHolder:
    """A psql session holding an instance's row (FOR UPDATE) until
    release(): a call that changes the instance waits inside its
    transaction, which is a request stuck in the store."""

    def __init__(self, pg, iid):
        self.pg = pg
        self.proc = subprocess.Popen(
            [str(pg.bindir / "psql"), "-X", "-q", "-h", pg.host, "-p", str(pg.port),
             "-U", "postgres", "-d", pg.dbname, "-A", "-t"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        self.proc.stdin.write("BEGIN;\nSELECT count(*) FROM (SELECT 1 FROM instance "
                              "WHERE instance_id = '%s' FOR UPDATE) x;\n"
                              "SELECT 'holding-row';\n" % iid)
        self.proc.stdin.flush()
        # psql answers in order: the row is locked once the marker is out.
        lines = [self.proc.stdout.readline().strip() for _ in range(2)]
        assert lines == ["1", "holding-row"], lines

    def waiting(self):
        return int(self.pg.psql("SELECT count(*) FROM pg_stat_activity "
                                "WHERE wait_event_type = 'Lock'"))

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("ROLLBACK;\n")
            self.proc.stdin.close()
            self.proc.wait(30)


def freeze_in_background(s, iid, out, key):
    def run():
        code, ans, err = s.call("updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"},
                                args=("--timeout", "300"), timeout=330)
        out[key] = (ans or {}).get("resultCode"), err
    t = threading.Thread(target=run)
    t.start()
    return t


def text_fields(text):
    return dict((k.strip(), v.strip()) for k, v in
                (line.split(":", 1) for line in text.splitlines() if ":" in line))


def test_status_answers_while_every_worker_is_blocked(make_stack, build):
    # The workers stay stuck through every check below, two Chromium runs
    # included (11 s on a loaded machine): longer than the default
    # request_terminate_timeout, within the front's fastcgi_read_timeout (30 s).
    s = status_stack(make_stack, pool={"request_slowlog_timeout": 1,
                                       "request_terminate_timeout": 25},
                     store={"statement_timeout": 0})
    iid = create(s)
    holder = RowHolder(s.pg, iid)
    out, threads = {}, []
    try:
        for k in range(2):
            threads.append(freeze_in_background(s, iid, out, k))
        wait_for(lambda: holder.waiting() == 2, 20, what="both workers stuck on the row")

        st, hdr, body = s.http("GET", "/-/ping")
        assert st == 200 and body == b"pong\n"

        st, hdr, body = s.http("GET", "/-/status")
        assert st == 200, body
        f = text_fields(body.decode())
        assert f["pool"] == "mkpd"
        assert f["active processes"] == "2" and f["idle processes"] == "0"
        assert f["total processes"] == "2"
        assert f["pm"] == "static" and f["max children"] == "2"
        # pm static: no spare bounds, which only pm dynamic has.
        assert "min spare servers" not in f and "start servers" not in f
        for k in ("max requests",
                  "listen queue", "max listen queue", "jobs backlog",
                  "usage records pending", "usage records at risk", "last usage push"):
            assert k in f, k
        assert f["jobs backlog"] != "-1"	# the store answered

        st, hdr, body = s.http("GET", "/-/status?json&full")
        assert st == 200 and "application/json" in hdr.get("Content-Type", "")
        j = json.loads(body)
        assert j["active_processes"] == 2 and j["max_children"] == 2 and j["pm"] == "static"
        busy = [w for w in j["workers"] if w["state"] == "busy"]
        assert len(busy) == 2
        assert all(w["activity"] == "updateInstanceStatus" and iid in w["ids"] and
                   w["dialect"] == "v2" and w["request_duration_ms"] >= 0 and
                   w["rss_kb"] > 0 for w in busy), busy

        st, hdr, body = s.http("GET", "/-/status?openmetrics&full")
        assert st == 200 and "openmetrics" in hdr.get("Content-Type", "")
        om = body.decode()
        assert om.endswith("# EOF\n")
        assert re.search(r"^mkpd_active_processes 2$", om, re.M)
        assert re.search(r"^mkpd_max_children 2$", om, re.M)
        assert re.search(r'^mkpd_info_info\{.*pm="static",host="[^"]+"\} 1$', om, re.M)
        assert len(re.findall(r'^mkpd_worker_requests_total\{.*state="busy"', om, re.M)) == 2

        st, hdr, body = s.http("GET", "/-/status?html&full")
        assert st == 200 and "text/html" in hdr.get("Content-Type", "")
        assert body.count(b'<tr class="busy">') == 2

        r = s.mkpd.mkpctl("status", "--json", "--full")
        assert r.returncode == 0, r.stderr
        j = json.loads(r.stdout)
        assert j["active_processes"] == 2
        assert [w["activity"] for w in j["workers"]] == ["updateInstanceStatus"] * 2

        r = s.mkpd.mkpctl("status")
        assert r.returncode == 0, r.stderr
        f = text_fields(r.stdout)
        assert f["active processes"] == "2" and f["max children"] == "2"

        # The slow log names what is slow, and the status counts it.
        s.mkpd.wait_log(r"slow request: worker \d+ \(pid \d+\) running \d+ ms: v2 "
                        r"updateInstanceStatus ids %s" % iid)
        wait_for(lambda: text_fields(s.mkpd.mkpctl("status").stdout)["slow requests"] == "2",
                 10, what="two slow requests counted")

        # Every worker busy at max_children: counted, timestamped, queue noted.
        j = wait_for(lambda: (lambda j: j if j["max_children_reached"] >= 1 else None)(
            json.loads(s.http("GET", "/-/status?json")[2])), 10, what="max children reached")
        assert abs(j["last_max_children_reached"] / 1000 - time.time()) < 60
        assert j["listen_queue_when_reached"] >= 0
        s.mkpd.wait_log(r"max_children reached: all 2 workers busy, \d+ connections waiting")

        _html_in_chromium(s, build)
    finally:
        holder.release()
        for t in threads:
            t.join(60)
    assert out == {0: ("000000", out[0][1]), 1: ("000000", out[1][1])}, out


def _html_in_chromium(s, build):
    """The HTML page rendered by headless Chromium: the worker table shows
    both busy workers; a screenshot is kept in the test's directory."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium is not installed (Debian package chromium)")
    url = s.url.rstrip("/") + "/-/status?html&full"
    home = s.dir / "chromium"
    home.mkdir(exist_ok=True)
    # Chromium trusts exactly the front's key (it keeps its own trust store).
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=%s" % (home / "profile"), "--virtual-time-budget=2000",
            "--ignore-certificate-errors-spki-list=%s" % spki_sha256(s.front.tls["cert"])]
    env = dict(os.environ, HOME=str(home))
    dom = subprocess.run(args + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=120, env=env)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rows = re.findall(r'<tr class="busy">(.*?)</tr>', dom.stdout, re.S)
    assert len(rows) == 2, dom.stdout[-3000:]
    assert all("updateInstanceStatus" in r for r in rows)
    assert re.search(r'<tr id="max_children"><th>max children</th><td>2</td>', dom.stdout)
    shot = s.dir / "status.png"
    r = subprocess.run(args + ["--window-size=1400,900", "--screenshot=%s" % shot, url],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stuck_request_is_terminated_with_000005(make_stack):
    s = status_stack(make_stack, pool={"max_children": 1, "request_terminate_timeout": 2},
                     store={"statement_timeout": 0})
    iid = create(s)
    before = s.mkpd.wait_workers(1)
    holder = RowHolder(s.pg, iid)
    try:
        t0 = time.monotonic()
        code, ans, err = s.call("updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"})
        elapsed = time.monotonic() - t0
        assert code == 0, err	# mkp-sim checked Body-Sign
        assert ans["resultCode"] == "000005", ans
        assert 1.5 <= elapsed < 15, elapsed
    finally:
        holder.release()
    s.mkpd.wait_log(r"request_terminate_timeout: worker 0 \(pid %d\) running \d+ ms: v2 "
                    r"updateInstanceStatus ids %s" % (before[0], iid))
    s.mkpd.wait_log(r"worker 0 ended by request_terminate_timeout \(pid %d" % before[0])
    after = wait_for(lambda: (lambda w: w if len(w) == 1 and w != before else None)(
        s.mkpd.worker_pids()), 20, what="a new worker")
    assert after != before
    # Nothing was applied: the killed worker's transaction rolled back.
    assert s.pg.psql("SELECT state FROM instance WHERE instance_id = '%s'" % iid) == "active"
    code, ans, err = s.call("updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"})
    assert ans["resultCode"] == "000000", (ans, err)
    f = text_fields(s.mkpd.mkpctl("status").stdout)
    assert f["terminated requests"] == "1"
    assert "died of signal" not in s.mkpd.log()


def test_continuous_requests_across_five_reloads_see_no_error(make_stack):
    s = status_stack(make_stack)
    iid = create(s)
    results, stop = [], threading.Event()

    def fire():
        while not stop.is_set():
            code, ans, err = s.call("queryInstance", {"instanceId": iid})
            results.append((ans or {}).get("resultCode") or "exit %s: %s" % (code, err))

    t = threading.Thread(target=fire)
    t.start()
    try:
        wait_for(lambda: len(results) >= 3, 30, what="calls before the reloads")
        for gen in range(2, 7):
            r = s.mkpd.mkpctl("reload")
            assert r.returncode == 0, r.stderr
            assert r.stdout == "reloaded: generation %d\n" % gen
            n = len(results)
            # The old generation retires only once the new one serves.
            s.mkpd.wait_log(r"generation %d is serving" % gen, 30)
            wait_for(lambda: len(results) >= n + 3, 30, what="calls after reload %d" % gen)
    finally:
        stop.set()
        t.join(60)
    assert len(results) >= 18
    assert [r for r in results if r != "000000"] == []
    assert text_fields(s.mkpd.mkpctl("status").stdout)["generation"] == "6"


def test_mkpctl_reload_refused_config_and_sighup_fallback(make_stack):
    s = status_stack(make_stack)
    good = s.mkpd.conf_path.read_text()
    # A file mkpctl cannot read: it says why and asks nothing.
    s.mkpd.conf_path.write_text(good.replace("[pool]", "[pool]\nmax_children = 0"))
    r = s.mkpd.mkpctl("reload")
    assert r.returncode == 1 and "max_children: 0 is out of range" in r.stderr, r.stderr
    # A file only mkpd refuses (the app's check): the reload fails, mkpctl says so.
    s.mkpd.conf_path.write_text(re.sub(r"(?m)^front_end_url = .*$", "front_end_url =", good))
    r = s.mkpd.mkpctl("reload")
    assert r.returncode == 1
    assert r.stderr.startswith("reload failed: the configuration was refused"), r.stderr
    s.mkpd.wait_log(r"reload failed: .*front_end_url is not set")
    assert text_fields(s.mkpd.mkpctl("status").stdout)["generation"] == "1"
    # Without a control socket, reload signals the pid in pid_file.
    s.mkpd.conf_path.write_text(good.replace("control_socket", ";control_socket"))
    mark = s.mkpd.log_mark()
    r = s.mkpd.mkpctl("reload")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "SIGHUP sent to mkpd (pid %d); see its log for the outcome\n" % \
        s.mkpd.proc.pid
    s.mkpd.wait_log(r"reloaded: generation 2", since=mark)
    r = s.mkpd.mkpctl("status")
    assert r.returncode == 1 and "sets no [mkpd] control_socket" in r.stderr


def test_status_without_control_socket_and_unknown_flag(make_stack):
    s = status_stack(make_stack)
    r = s.mkpd.mkpctl("status", "--yaml")
    assert r.returncode == 2 and r.stderr.startswith("usage: mkpctl status")
    r = s.mkpd.mkpctl("status", "--openmetrics")
    assert r.returncode == 0 and r.stdout.endswith("# EOF\n")
    assert re.search(r"^mkpd_total_processes 2$", r.stdout, re.M)
    s.mkpd.stop()
    r = s.mkpd.mkpctl("status")
    assert r.returncode == 1 and "cannot reach mkpd" in r.stderr


def test_access_log_lines(make_stack):
    s = status_stack(make_stack, mkpd={"access_format": "%a|%d|%A|%c|%s|%i|%w|%m|%u|%D|%%"})
    # In a directory the workers cannot write to (as root): the master
    # makes the file and gives it to them.
    log = s.dir / "access.log"
    s.mkpd.reload({"mkpd": {"access_log": str(log)}})
    s.mkpd.wait_log(r"generation 2 is serving")
    iid = create(s)
    s.call("queryInstance", {"instanceId": iid})
    lines = wait_for(lambda: (lambda t: t if t.count("\n") >= 2 else None)(log.read_text()),
                     10, what="two access log lines").splitlines()
    f = [line.split("|") for line in lines]
    assert [x[1:5] for x in f] == [["v2", "newInstance", "000000", "200"],
                                   ["v2", "queryInstance", "000000", "200"]]
    assert re.fullmatch(r"%s/CS\w+/CS\w+-000001" % iid, f[0][5]), f[0]
    assert f[1][5] == iid + "//"
    for x in f:
        assert x[0] == "127.0.0.1" and re.fullmatch(r"\d+/\d+", x[6])
        assert x[7] == "POST" and x[8] == "/" and x[9].isdigit() and x[10] == "%"


def test_access_log_whole_lines_under_load(make_stack):
    """Several workers kept busy, each filling its buffer many times over,
    the log rotated (rename + SIGUSR1) in the middle: every line of both
    files is one whole line, and none is lost."""
    import http.client
    import signal
    import ssl
    pad = "x" * 1500		# long lines: many buffer-fulls per worker
    s = status_stack(make_stack, pool={"pm": "static", "max_children": 3},
                     mkpd={"access_format": "%t|%a|%d|%c|%s|%w|%m|%u|" + pad + "|end"})
    log = s.dir / "access.log"
    s.mkpd.reload({"mkpd": {"access_log": str(log)}})
    s.mkpd.wait_log(r"generation 2 is serving")
    # Through the front over HTTPS, as the marketplace calls (its plain
    # HTTP port only redirects).
    host, port = "127.0.0.1", s.front.port
    ctx = ssl.create_default_context(cafile=s.front.ca)
    stop = threading.Event()
    sent = [0] * 12
    errors = []

    def client(k):
        conn = http.client.HTTPSConnection(host, port, timeout=30, context=ctx)
        try:
            while not stop.is_set():
                conn.request("POST", "/", body=b"{}",
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    errors.append(r.status)
                    return
                sent[k] += 1
        except Exception as e:		# noqa: BLE001 (reported below)
            errors.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True)
               for k in range(len(sent))]
    for t in threads:
        t.start()
    line_len = len("|" + pad + "|end\n")
    try:
        # 64 KiB buffers: a few hundred lines each; let each worker fill its
        # buffer several times before the rotation, and again after.
        wait_for(lambda: log.exists() and log.stat().st_size > 8 * 65536, 120,
                 what="the access log growing under load")
        rotated = s.dir / "access.log.1"
        log.rename(rotated)
        s.mkpd.signal(signal.SIGUSR1)
        wait_for(lambda: log.exists() and log.stat().st_size > 8 * 65536, 120,
                 what="the reopened access log growing")
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors[:5]
    total = sum(sent)
    # Idle workers write what they hold: every answered call gets its line.
    def count():
        return sum(p.read_bytes().count(b"\n") for p in (rotated, log))
    wait_for(lambda: count() == total, 20, what="%d lines" % total)
    pat = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\|127\.0\.0\.1\|v2\|000002\|200"
                     r"\|\d+/\d+\|POST\|/\|" + pad + r"\|end")
    for p in (rotated, log):
        text = p.read_text()
        bad = [line for line in text.splitlines() if not pat.fullmatch(line)]
        assert not bad, "%s: %d of %d lines broken, e.g. %r" % (
            p.name, len(bad), text.count("\n"), bad[0][:200])
    assert sum(p.stat().st_size for p in (rotated, log)) > line_len * total


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_listen_queue_of_unix_and_tcp_listeners(make_stack, kind):
    mkpd = {"listen_backlog": 77}
    if kind == "tcp":
        # listen_owner and listen_group are for unix sockets only, so the
        # status socket is TCP too.
        mkpd["listen"] = "127.0.0.1:%d" % free_port()
        mkpd["status_listen"] = "127.0.0.1:%d" % free_port()
    s = status_stack(make_stack, mkpd=mkpd)
    st, hdr, body = s.http("GET", "/-/status?json")
    assert st == 200, body
    j = json.loads(body)
    # The kernel's own figures: the backlog asked for, nothing waiting.
    assert j["listen_queue_len"] == 77 and j["listen_queue"] == 0, j

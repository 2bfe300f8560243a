"""harness.py: the processes of an integration test and how to drive them.

A throwaway PostgreSQL cluster, mkpd with a config generated from a dict,
nginx or Apache in front of it over HTTPS (the production samples
etc/nginx/mkpd.conf and etc/apache/mkpd.conf, rendered by scripts/front as
scripts/quickstart renders them, with a certificate of a test CA made for
the session), and mkp-sim to sign and send marketplace calls.
Everything listens on free loopback ports or on unix sockets inside a
per-session temporary directory. conftest.py turns these into fixtures.

Rules kept here: stdlib only; every wait polls with a timeout (wait_for),
never a fixed sleep; every process started is registered and killed at
exit even when a test fails; PostgreSQL runs as the `postgres` user when
the tests run as root (it refuses root), mkpd's and nginx's workers as
`nobody`, as in production.
"""

import atexit
import ctypes
import hashlib
import hmac
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path
from urllib.parse import quote, unquote

ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = os.geteuid() == 0
# Unprivileged users the workers drop to when the tests run as root.
RUN_USER, RUN_GROUP = ("nobody", "nogroup") if IS_ROOT else ("", "")

SANITIZER_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
    r"UndefinedBehaviorSanitizer")


# --- small helpers ----------------------------------------------------------

def new_order():
    """A fresh (orderId, orderLineId) pair in the marketplace's shape."""
    o = "CS" + uuid.uuid4().hex[:16].upper()
    return o, o + "-000001"


def create_instance(s):
    """A newInstance on stack s for a fresh order; its instanceId (asserts
    the answer was 000000)."""
    order_id, line_id = new_order()
    code, ans, err = s.call("newInstance", {"orderId": order_id, "orderLineId": line_id,
                                            "businessId": str(uuid.uuid4())})
    assert code == 0, err
    assert ans["resultCode"] == "000000", ans
    return ans["instanceId"]


def wait_for(predicate, timeout=10.0, interval=0.05, what=None):
    """Calls predicate() until it returns a true value, and returns that
    value. Raises AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what or getattr(
                                     predicate, "__name__", "a condition")))
        time.sleep(interval)


_ports_given = set()


def free_port():
    """A loopback TCP port nobody listens on now, never the same twice in
    one session."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def listening(addr):
    """True when something listens on addr: "host:port", "port" or a unix
    socket path. Read from /proc/net, so no connection is made (a probe
    connection would reach a FastCGI worker as an empty request)."""
    if addr.startswith("/"):
        try:
            with open("/proc/net/unix") as f:
                for line in f:
                    parts = line.split()
                    # Flags 00010000 = __SO_ACCEPTCON: a listening socket.
                    if len(parts) >= 8 and parts[-1] == addr \
                            and int(parts[3], 16) & 0x10000:
                        return True
        except OSError:
            pass
        return False
    port = int(addr.rsplit(":", 1)[-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, state = parts[1], parts[3]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


def read_text(path, default=""):
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return default


def tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


def chown(path, user, group=None):
    """chown when running as root; a no-op otherwise."""
    if IS_ROOT and user:
        shutil.chown(path, user, group)


def http_request(url, method="GET", path="/", body=None, headers=None,
                 timeout=30, source=None, ca=None, insecure=False):
    """One HTTP/1.1 request. url is "http://host:port/" or "https://..."
    (its path is ignored: give path); source is the client address to send
    from (e.g. "127.0.0.2", which the front sees as a remote address); ca:
    the CA file an HTTPS server's certificate and host name are verified
    against (default: the session's test CA). Returns (status, headers,
    body bytes); headers is an http.client.HTTPMessage, whose names are
    case-insensitive (headers["Body-Sign"], "content-type" in headers).
    insecure: no verification at all (a test's own channel to a server
    whose certificate is wrong on purpose)."""
    scheme, rest = url.split("://", 1)
    hostport = rest.split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    if isinstance(body, str):
        body = body.encode()
    src = (source, 0) if source else None
    if scheme == "https":
        if insecure:
            ctx = ssl._create_unverified_context()
        else:
            ctx = ssl.create_default_context(cafile=ca or test_ca())
        conn = HTTPSConnection(host, int(port), timeout=timeout,
                               source_address=src, context=ctx)
    else:
        conn = HTTPConnection(host, int(port), timeout=timeout,
                              source_address=src)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.msg, data
    finally:
        conn.close()


# --- process bookkeeping ----------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Runs in the child after the user switch (which would clear it): if
    # pytest itself is killed, the kernel kills this process too.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_live = []		# every Popen started here and not yet reaped


def spawn(argv, log_path, user=None, env=None, cwd=None):
    """Starts argv in a new session (own process group), stdout and stderr
    appended to log_path, as user (a name; root only). Registered so that
    kill_all() ends it and its whole group."""
    kw = {}
    if user and IS_ROOT:
        pw = pwd.getpwnam(user)
        kw = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        env = dict(env or os.environ, HOME=pw.pw_dir, USER=user, LOGNAME=user)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                start_new_session=True,
                                preexec_fn=_die_with_parent, **kw)
    _live.append(proc)
    return proc


def end_process(proc, sig=signal.SIGTERM, timeout=30):
    """Sends sig to proc, waits up to timeout, then SIGKILLs its group.
    Returns the exit status (negative: killed by that signal)."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    _kill_group(proc)
    rc = proc.wait()
    if proc in _live:
        _live.remove(proc)
    return rc


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all():
    """Kills every process group still registered (session end, atexit)."""
    while _live:
        proc = _live.pop()
        _kill_group(proc)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass


atexit.register(kill_all)


def remove_later(path):
    """Renames path out of the way (path + ".gone") and removes it with an
    `rm -rf` of its own, which this process does not wait for: nothing of
    this process uses it any more, and it may outlive it."""
    gone = Path(str(path) + ".gone")
    os.rename(path, gone)
    subprocess.Popen(["rm", "-rf", "--", str(gone)], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)


def child_pids(pid):
    """Pids whose parent is pid, from /proc, sorted."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = read_text("/proc/%s/stat" % d)
            # comm may hold spaces and parentheses: split after the last ')'.
            fields = stat[stat.rindex(")") + 2:].split()
        except ValueError:
            continue
        if fields and int(fields[1]) == pid:
            out.append(int(d))
    return sorted(out)


def proc_cmdline(pid):
    return read_text("/proc/%d/cmdline" % pid).replace("\0", " ").strip()


def is_jobs_child(pid):
    """Whether pid names itself the jobs child: "jobs" in /proc/PID/comm
    or in its program name (argv[0], as a process title would set it).
    Not anywhere in the command line: a test's directory, in the -c path
    of every mkpd process, may hold "jobs" too."""
    argv0 = read_text("/proc/%d/cmdline" % pid).split("\0")[0]
    return "jobs" in read_text("/proc/%d/comm" % pid) or "jobs" in os.path.basename(argv0)


def is_status_child(pid):
    """Whether pid is mkpd's status child (/proc/PID/comm "mkpd-status")."""
    return read_text("/proc/%d/comm" % pid).strip() == "mkpd-status"


# --- PostgreSQL -------------------------------------------------------------

def pg_bindir():
    """bin directory of the newest PostgreSQL server, or None."""
    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                  key=lambda p: int(p.parent.parent.name)
                  if p.parent.parent.name.isdigit() else 0)
    return dirs[-1].parent if dirs else None


class Postgres:
    """A private cluster on 127.0.0.1:port with trust authentication,
    superuser "postgres", tuned for tests (no fsync). Creates the database
    "mkpd" (empty) at first start."""

    def __init__(self, base, port=None, dbname="mkpd"):
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql")
        self.base = Path(base)
        self.data = self.base / "data"
        self.sockdir = self.base / "run"
        self.logfile = self.base / "postgresql.log"
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.dbname = dbname
        self.user = "postgres" if IS_ROOT else None
        self.proc = None

    @property
    def dsn(self):
        """libpq connection string for the test database."""
        return self.dsn_for(self.dbname)

    def dsn_for(self, dbname):
        return "host=%s port=%d dbname=%s user=postgres" % (
            self.host, self.port, dbname)

    def _run_as_pg(self, argv, **kw):
        if self.user:
            pw = pwd.getpwnam(self.user)
            kw.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                      env=dict(os.environ, HOME=pw.pw_dir))
        return subprocess.run(argv, capture_output=True, text=True, **kw)

    def init(self):
        self.base.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        for p in (self.base, self.sockdir):
            chown(p, self.user)
        r = self._run_as_pg([str(self.bindir / "initdb"), "-D", str(self.data),
                             "-U", "postgres", "-A", "trust", "-E", "UTF8",
                             "--no-locale", "--no-sync"])
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + r.stdout + r.stderr)
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n# integration tests\n"
                    "listen_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = off\nsynchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "max_connections = 200\n"
                    "log_min_messages = warning\n" % (self.port, self.sockdir))

    def start(self, timeout=60):
        """Starts the postmaster (initdb first if needed) and waits until
        it accepts queries."""
        if not (self.data / "PG_VERSION").exists():
            self.init()
        assert not self.running(), "PostgreSQL already runs"
        self.proc = spawn([str(self.bindir / "postgres"), "-D", str(self.data)],
                          self.logfile, user=self.user)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited %s:\n%s" % (
                    self.proc.returncode, tail(read_text(self.logfile))))
            return self._run_as_pg([str(self.bindir / "pg_isready"), "-q",
                                    "-h", self.host, "-p", str(self.port)]
                                   ).returncode == 0
        wait_for(ready, timeout, what="PostgreSQL to accept connections")
        if self.psql("SELECT 1 FROM pg_database WHERE datname = '%s'"
                     % self.dbname, db="postgres") != "1":
            self.psql("CREATE DATABASE %s" % self.dbname, db="postgres")

    def stop(self, mode="fast", timeout=60):
        """Stops the cluster: mode "smart", "fast" or "immediate"."""
        if self.proc is None:
            return
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT,
               "immediate": signal.SIGQUIT}[mode]
        end_process(self.proc, sig, timeout)
        self.proc = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def psql(self, sql, db=None, check=True):
        """Runs sql (one or more statements) in db (default: the test
        database) and returns the output, unaligned, tuples only, '|'
        between columns, without the last newline. Raises on an error
        unless check=False (then the output includes stderr)."""
        r = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-A", "-t",
             "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port),
             "-U", "postgres", "-d", db or self.dbname, "-f", "-"],
            input=sql, capture_output=True, text=True)
        if r.returncode != 0:
            if check:
                raise RuntimeError("psql failed (%d): %s" % (r.returncode,
                                                              r.stderr.strip()))
            return (r.stdout + r.stderr).rstrip("\n")
        return r.stdout.rstrip("\n")

    def create_database(self, name=None):
        """Creates an empty database and returns its dsn."""
        name = name or "mkpd_" + secrets.token_hex(4)
        self.psql("CREATE DATABASE %s" % name, db="postgres")
        return self.dsn_for(name)


# --- mkpd -------------------------------------------------------------------

def new_keys():
    """A fresh set of interface keys, as the seller console shows them."""
    return {"basic": str(uuid.uuid4()), "kit": str(uuid.uuid4()),
            "v1": str(uuid.uuid4())}


def _ini_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def render_ini(conf):
    """{section: {name: value}} as INI text; None values are left out."""
    out = ["# mkpd.conf written by the integration harness"]
    for section, options in conf.items():
        out.append("\n[%s]" % section)
        for name, value in options.items():
            if value is not None:
                out.append("%s = %s" % (name, _ini_value(value)))
    return "\n".join(out) + "\n"


def merge_overrides(conf, overrides):
    """Applies overrides to conf in place. overrides is a dict of either
    "section.name": value or section: {name: value}; a value of None
    removes the option (so the daemon's default applies)."""
    for key, value in (overrides or {}).items():
        if isinstance(value, dict):
            for name, v in value.items():
                conf.setdefault(key, {})[name] = v
        else:
            section, name = key.split(".", 1)
            conf.setdefault(section, {})[name] = value
    return conf


def _overridden(overrides, section, name):
    return ("%s.%s" % (section, name)) in overrides or \
        name in (overrides.get(section) or {})


class Mkpd:
    """One mkpd master, run in the foreground (no -d) under a test's
    directory. Options are the fields of struct config (src/common/conf.h)
    by section; see defaults() for what the harness sets."""

    def __init__(self, build, workdir, dsn, keys, overrides=None):
        self.build = Path(build)
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        chown(self.dir, RUN_USER, RUN_GROUP)
        self.dsn = dsn
        self.keys = keys
        self.conf_path = self.dir / "mkpd.conf"
        self.log_path = self.dir / "mkpd.log"
        self.out_path = self.dir / "mkpd.out"	# its stdout and stderr
        self.pid_path = self.dir / "mkpd.pid"
        self.socket = str(self.dir / "mkpd.sock")
        self.master_key = self.dir / "master.key"
        if not self.master_key.exists():
            fd = os.open(self.master_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
            chown(self.master_key, RUN_USER, RUN_GROUP)
        if not self.log_path.exists():
            # Created here, owned by the workers' user, so a worker that
            # reopens it after dropping privileges still may.
            self.log_path.touch(0o640)
            chown(self.log_path, RUN_USER, RUN_GROUP)
        self.overrides = dict(overrides or {})
        self.proc = None
        self.write_config()

    @property
    def bin(self):
        return self.build / "mkpd"

    def defaults(self):
        return {
            "mkpd": {
                "listen": self.socket,
                "listen_owner": RUN_USER or None,
                "listen_group": RUN_GROUP or None,
                "listen_mode": "0660" if RUN_USER else "0600",
                "user": RUN_USER or None,
                "group": RUN_GROUP or None,
                "pid_file": str(self.pid_path),
                "log_file": str(self.log_path),
                "log_level": "debug",
                "base_path": "/",
            },
            "pool": {"pm": "static", "max_children": 2},
            "store": {"dsn": self.dsn, "spool_dir": str(self.dir / "spool")},
            "keys": {
                "basic_key": self.keys["basic"],
                "kit_key": self.keys["kit"],
                "v1_key": self.keys["v1"],
                "master_key_file": str(self.master_key),
            },
            "app": {
                "front_end_url": "http://127.0.0.1/app/{instanceId}",
                "admin_url": "http://127.0.0.1/app/admin",
            },
        }

    def config(self, extra=None):
        """The option dict the config file is written from: defaults,
        self.overrides, then extra. listen_owner and listen_group are
        dropped for a TCP listen (mkpd refuses them there) unless an
        override sets them."""
        conf = merge_overrides(merge_overrides(self.defaults(), self.overrides),
                               extra)
        m = conf["mkpd"]
        if not str(m.get("listen", "")).startswith("/"):
            for name in ("listen_owner", "listen_group"):
                if not (_overridden(self.overrides, "mkpd", name) or
                        _overridden(extra or {}, "mkpd", name)):
                    m[name] = None
        return conf

    def listen_addr(self):
        return str(self.config()["mkpd"]["listen"])

    def write_config(self, overrides=None, path=None, text=None):
        """Writes the config (defaults + self.overrides + overrides), or
        text verbatim, to path (default: the config mkpd runs with).
        Returns the path."""
        path = Path(path or self.conf_path)
        if text is None:
            text = render_ini(self.config(overrides))
        path.write_text(text)
        path.chmod(0o600)
        return path

    # running

    def start(self, args=(), wait=True, timeout=30):
        """Starts `mkpd -c CONF [args]` in the foreground and, with wait,
        returns once it listens (raises if it exits first)."""
        assert not self.running(), "mkpd already runs"
        if not self.bin.exists():
            raise FileNotFoundError(self.bin)
        self.proc = spawn([str(self.bin), "-c", str(self.conf_path), *args],
                          self.out_path)
        if wait:
            self.wait_listening(timeout)
        return self

    def wait_listening(self, timeout=30):
        addr = self.listen_addr()

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("mkpd exited %s before listening:\n%s\n%s"
                                     % (self.proc.returncode,
                                        tail(self.output()), tail(self.log())))
            return listening(addr)
        wait_for(up, timeout, what="mkpd to listen on " + addr)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends sig (graceful stop by default), waits for the master to
        exit (then kills the whole process group, orphaned workers
        included) and returns its exit status."""
        if self.proc is None:
            return None
        rc = end_process(self.proc, sig, timeout)
        return rc

    # Defined after stop(): its name would shadow the signal module
    # in stop()'s default argument.
    def signal(self, sig):
        """Sends sig to the master."""
        os.kill(self.proc.pid, sig)

    def kill(self):
        """SIGKILL to the master and everything in its process group."""
        if self.proc is not None:
            end_process(self.proc, signal.SIGKILL, 10)

    def reload(self, overrides=None):
        """Rewrites the config with these overrides (merged into the
        current ones; None keeps the file) and sends SIGHUP."""
        if overrides is not None:
            merge_overrides(self.overrides, overrides)
            self.write_config()
        self.signal(signal.SIGHUP)

    def children(self):
        """Pids of the master's direct children (workers and jobs child)."""
        return child_pids(self.proc.pid) if self.running() else []

    def worker_pids(self):
        """Pids of the FastCGI workers: the master's children, less the
        jobs child, told apart by "jobs" in its name (/proc/PID/comm, set
        with prctl(PR_SET_NAME)) or its command line, and the status
        child ("mkpd-status")."""
        return [p for p in self.children()
                if not is_jobs_child(p) and not is_status_child(p)]

    def wait_workers(self, n, timeout=20):
        """Waits until exactly n workers run; returns their pids."""
        return wait_for(lambda: (lambda w: w if len(w) == n else None)(
            self.worker_pids()), timeout, what="%d mkpd workers" % n)

    # logs

    def log(self):
        """The text of mkpd's log file."""
        return read_text(self.log_path)

    def output(self):
        """What mkpd wrote to its stdout and stderr."""
        return read_text(self.out_path)

    def log_mark(self):
        """A position in the log: give it to wait_log(since=) to look only
        at lines written afterwards."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def wait_log(self, regex, timeout=10, since=0):
        """Waits until the log (from byte offset since) matches regex
        (re.MULTILINE); returns the match."""
        pat = re.compile(regex, re.MULTILINE)

        def found():
            try:
                with open(self.log_path, "rb") as f:
                    f.seek(since)
                    return pat.search(f.read().decode(errors="replace"))
            except OSError:
                return None
        try:
            return wait_for(found, timeout, what="log /%s/" % regex)
        except AssertionError as e:
            raise AssertionError("%s; log tail:\n%s" % (e, tail(self.log())))

    def sanitizer_reports(self):
        """ASan/UBSan reports found in the output and the log."""
        text = self.output() + self.log()
        return [m.group(0) for m in SANITIZER_RE.finditer(text)]

    # one-shot commands

    def check_config(self, path=None, args=()):
        """Runs `mkpd -t -c PATH`; returns the CompletedProcess (text)."""
        return subprocess.run([str(self.bin), "-t", "-c",
                               str(path or self.conf_path), *args],
                              capture_output=True, text=True, timeout=60)

    def mkpctl(self, *args, check=False):
        """Runs `mkpctl -c CONF args...`; returns the CompletedProcess."""
        r = subprocess.run([str(self.build / "mkpctl"), "-c",
                            str(self.conf_path), *args],
                           capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError("mkpctl %s failed (%d):\n%s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def migrate(self):
        return self.mkpctl("migrate", check=True)


# --- the front: nginx or Apache over HTTPS ------------------------------------

FRONT_SCRIPT = ROOT / "scripts/front"
_tls_base = [None]
_tls_made = {}		# (CA directory, name) -> (SANs, files' stat) of make_tls's last


def set_tls_dir(path):
    """Where the session's test CA and certificates are made (conftest sets
    it to a directory of the session)."""
    _tls_base[0] = Path(path)


def make_tls(name="server", sans=(), ca_dir=None):
    """A certificate signed by the CA in ca_dir (default: the session's
    test CA, made by scripts/front tls on first use), for sans (default
    DNS:localhost IP:127.0.0.1). Returns {"ca", "cert", "key"} paths."""
    if ca_dir is None:
        if _tls_base[0] is None:
            import tempfile
            set_tls_dir(tempfile.mkdtemp(prefix="mkpd-tls-"))
        ca_dir = _tls_base[0]
    ca_dir = Path(ca_dir)
    made = {"ca": str(ca_dir / "ca.crt"), "cert": str(ca_dir / ("%s.crt" % name)),
            "key": str(ca_dir / ("%s.key" % name))}
    # scripts/front tls checks an existing certificate with five openssl
    # runs (0.3 s), and every front and every mkp-sim call asks: what this
    # process made is remembered, with the SANs and the files as they were
    # then (made again if the SANs differ or a file changed or went away).
    key = (str(ca_dir.resolve()), name)

    def files():
        try:
            return [(st.st_ino, st.st_mtime_ns, st.st_size) for st in
                    (os.stat(f) for f in (*made.values(), ca_dir / "ca.key"))]
        except FileNotFoundError:
            return None
    if key in _tls_made and _tls_made[key] == (tuple(sans), files()):
        return made
    argv = [str(FRONT_SCRIPT), "tls", str(ca_dir)]
    if name != "server":
        argv += ["--out", name]
    r = subprocess.run(argv + list(sans), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("scripts/front tls failed:\n" + r.stderr)
    ca_dir.chmod(0o755)
    _tls_made[key] = (tuple(sans), files())
    return made


def test_ca():
    """The session's test CA certificate (a path)."""
    return make_tls()["ca"]


test_ca.__test__ = False	# not a test, whatever pytest thinks of its name


def spki_sha256(cert_path):
    """base64 SHA-256 of a certificate's public key (Chromium's
    --ignore-certificate-errors-spki-list pins exactly that key)."""
    import base64
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Front:
    """The web server in front of mkpd, as sellers deploy it: the production
    sample (etc/nginx/mkpd.conf or etc/apache/mkpd.conf) rendered by
    scripts/front with loopback values: HTTPS on 127.0.0.1:port with a
    certificate of the session's test CA (url), plain HTTP on http_port
    (http_url, which redirects). fcgi_server is mkpd's socket (a path, or
    host:port); status_server the status child's (default: fcgi_server).
    extra is put at the end of the HTTPS server (e.g. a static location)."""

    KIND = None

    def __init__(self, workdir, fcgi_server, port=None, extra="",
                 status_server=None, tls=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        self.port = port or free_port()
        self.http_port = free_port()
        self.url = "https://127.0.0.1:%d/" % self.port
        self.http_url = "http://127.0.0.1:%d/" % self.http_port
        self.tls = tls or make_tls()
        self.ca = self.tls["ca"]
        self.error_log_path = self.dir / "error.log"
        self.out_path = self.dir / ("%s.out" % self.KIND)
        self.proc = None
        self.write_config(fcgi_server, extra, status_server)

    def write_config(self, fcgi_server, extra="", status_server=None):
        """Renders the sample again (takes effect at start or reload)."""
        def addr(a):
            a = str(a)
            return a[len("unix:"):] if a.startswith("unix:") else a
        values = {"HTTP_PORT": self.http_port, "HTTPS_PORT": self.port,
                  "CERT_FILE": self.tls["cert"], "KEY_FILE": self.tls["key"],
                  "MKPD_SOCKET": addr(fcgi_server),
                  "STATUS_SOCKET": addr(status_server or fcgi_server),
                  "USER": RUN_USER, "GROUP": RUN_GROUP,
                  "EXTRA": extra or ""}
        r = subprocess.run([str(FRONT_SCRIPT), "render", self.KIND, str(self.dir)] +
                           ["%s=%s" % kv for kv in values.items()],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("scripts/front render failed:\n" + r.stderr)

    def check_argv(self):
        raise NotImplementedError

    def run_argv(self):
        raise NotImplementedError

    def start(self, timeout=30):
        assert not self.running(), "%s already runs" % self.KIND
        t = subprocess.run(self.check_argv(), capture_output=True, text=True)
        if t.returncode != 0:
            raise RuntimeError("%s refused its config in %s:\n%s" % (
                self.KIND, self.dir, t.stdout + t.stderr))
        self.proc = spawn(self.run_argv(), self.out_path)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited %s:\n%s\n%s" % (
                    self.KIND, self.proc.returncode, tail(self.error_log()),
                    tail(read_text(self.out_path))))
            return listening("127.0.0.1:%d" % self.port) and \
                listening("127.0.0.1:%d" % self.http_port)
        wait_for(up, timeout, what="%s on ports %d and %d" % (
            self.KIND, self.port, self.http_port))
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def error_log(self):
        return read_text(self.error_log_path)

    def request(self, method="GET", path="/", body=None, headers=None,
                timeout=30, source=None, plain=False):
        """(status, headers, body bytes) of one request through the front:
        over HTTPS, the certificate verified against the test CA; plain:
        over plain HTTP."""
        return http_request(self.http_url if plain else self.url, method,
                            path, body, headers, timeout, source, ca=self.ca)


class Nginx(Front):
    """nginx running etc/nginx/mkpd.conf (Front)."""

    KIND = "nginx"
    BIN = "/usr/sbin/nginx"

    def _argv(self, *extra):
        return [self.BIN, "-p", str(self.dir), "-e", str(self.error_log_path),
                "-c", str(self.dir / "nginx.conf"), *extra]

    def check_argv(self):
        return self._argv("-t", "-q")

    def run_argv(self):
        return self._argv("-g", "daemon off;")

    def stop(self, timeout=30):
        if self.proc is not None:
            end_process(self.proc, signal.SIGQUIT, timeout)
            self.proc = None

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)


_short_dir = []


def short_socket_path(path):
    """path itself, or, when it is too long for mod_proxy (which keeps a
    unix socket path in 96 bytes), a short symbolic link to it in a
    directory of this process under /tmp."""
    if not path.startswith("/") or len(path) < 90:
        return path
    if not _short_dir:
        import tempfile
        d = tempfile.mkdtemp(prefix="mkpd-uds-", dir="/tmp")
        os.chmod(d, 0o755)
        atexit.register(shutil.rmtree, d, True)
        _short_dir.append(d)
    link = os.path.join(_short_dir[0], hashlib.sha256(path.encode()).hexdigest()[:12])
    if not os.path.islink(link):
        os.symlink(path, link)
    return link


class Apache(Front):
    """Apache httpd 2.4 running etc/apache/mkpd.conf (Front)."""

    KIND = "apache"
    BIN = "/usr/sbin/apache2"

    def write_config(self, fcgi_server, extra="", status_server=None):
        fcgi_server = short_socket_path(str(fcgi_server))
        if status_server:
            status_server = short_socket_path(str(status_server))
        super().write_config(fcgi_server, extra, status_server)

    def _argv(self, *extra):
        return [self.BIN, "-d", str(self.dir), "-f", str(self.dir / "httpd.conf"),
                *extra]

    def check_argv(self):
        return self._argv("-t")

    def run_argv(self):
        return self._argv("-DFOREGROUND")

    def stop(self, timeout=30):
        if self.proc is not None:
            # SIGWINCH: graceful stop (requests in flight end first).
            end_process(self.proc, signal.SIGWINCH, timeout)
            self.proc = None

    def reload(self):
        self.proc.send_signal(signal.SIGUSR1)	# graceful restart


FRONTS = {"nginx": Nginx, "apache": Apache}
# The front of every stack that does not name one: nginx, or what
# MKPD_TEST_FRONT says (MKPD_TEST_FRONT=apache runs the suites through Apache).
DEFAULT_FRONT = os.environ.get("MKPD_TEST_FRONT") or "nginx"


def make_front(kind, workdir, fcgi_server, **kw):
    """Front of this kind ("nginx" or "apache"), not started."""
    return FRONTS[kind](workdir, fcgi_server, **kw)


# --- mkp-sim ----------------------------------------------------------------

class CallResult(tuple):
    """What call() returns: unpacks as (exit, json_or_none, stderr); also
    has .stdout (the answer's bytes as text), .http_status (int or None)
    and .body_sign ("ok", "missing", "MISMATCH" or None)."""

    def __new__(cls, exit, obj, stderr, stdout):
        self = super().__new__(cls, (exit, obj, stderr))
        self.exit, self.json, self.stderr, self.stdout = exit, obj, stderr, stdout
        m = re.search(r"^http: (\d+)", stderr, re.MULTILINE)
        self.http_status = int(m.group(1)) if m else None
        m = re.search(r"^body-sign: (\S+)", stderr, re.MULTILINE)
        self.body_sign = m.group(1) if m else None
        return self

    @property
    def result_code(self):
        return self.json.get("resultCode") if isinstance(self.json, dict) else None


def field_args(fields):
    """mkp-sim's name=value / name:=json arguments for a dict: strings as
    strings, anything else (dict, list, number, bool) as raw JSON; None
    values are left out."""
    out = []
    for name, value in (fields or {}).items():
        if value is None:
            continue
        if isinstance(value, str):
            out.append("%s=%s" % (name, value))
        else:
            out.append("%s:=%s" % (name, json.dumps(
                value, separators=(",", ":"), ensure_ascii=False)))
    return out


def run_sim(build, argv, timeout=60):
    """Runs build/mkp-sim argv...; returns the CompletedProcess (text).
    MKPD_URL and MKPD_BASIC_KEY are removed from its environment so that
    only the arguments count."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MKPD_URL", "MKPD_BASIC_KEY")}
    # The fronts' certificates are the session's test CA's: mkp-sim
    # verifies them against it (and their host name), as a client should.
    env.setdefault("MKPD_CA_FILE", test_ca())
    # mkp-sim exits after each call: in a sanitizer build its leaks are
    # looked for (scripts/test sets this), unlike the daemons'.
    if os.environ.get("MKPD_SIM_ASAN_OPTIONS"):
        env["ASAN_OPTIONS"] = os.environ["MKPD_SIM_ASAN_OPTIONS"]
    return subprocess.run([str(Path(build) / "mkp-sim"), *argv],
                          capture_output=True, text=True, env=env,
                          timeout=timeout)


def sim_call(build, url, key, activity, fields=None, args=(), timeout=60):
    """Signs and sends one V2 basic call with mkp-sim; returns CallResult."""
    argv = ["call", "-u", url]
    if key is not None:
        argv += ["-k", key]
    argv += [*args, activity, *field_args(fields)]
    r = run_sim(build, argv, timeout)
    try:
        obj = json.loads(r.stdout) if r.stdout.strip() else None
    except ValueError:
        obj = None
    return CallResult(r.returncode, obj, r.stderr, r.stdout)


# --- the whole stack --------------------------------------------------------

class Stack:
    """PostgreSQL (shared) + mkpd + its front (DEFAULT_FRONT, or the one
    named: front="nginx" or "apache") over HTTPS, and the calls a test
    makes against them."""

    def __init__(self, build, workdir, pg, dsn, keys, overrides=None,
                 front=None):
        front = front or DEFAULT_FRONT
        self.build = Path(build)
        self.dir = Path(workdir)
        self.pg = pg
        self.dsn = dsn
        self.keys = keys
        self.mkpd = Mkpd(build, self.dir / "mkpd", dsn, keys, overrides)
        status = self.mkpd.config()["mkpd"].get("status_listen")
        self.front = make_front(front, self.dir / front, self.mkpd.listen_addr(),
                                status_server=status if status and (
                                    str(status).startswith("/") or ":" in str(status))
                                else None)

    @property
    def nginx(self):
        """The front, whichever it is (the name tests have always used)."""
        return self.front

    @property
    def url(self):
        """The production URL, as the marketplace would call it (HTTPS)."""
        return self.front.url

    def start(self):
        self.mkpd.start()
        self.front.start()
        return self

    def stop(self):
        """Stops the front and mkpd; returns the sanitizer reports found."""
        self.front.stop()
        self.mkpd.stop()
        return self.mkpd.sanitizer_reports()

    def call(self, activity, fields=None, key=None, args=(), timeout=60):
        """mkp-sim call ACTIVITY with fields through the front, signed with key
        (default: this stack's basic key). Returns CallResult, which
        unpacks as (exit, json_or_none, stderr)."""
        return sim_call(self.build, self.url,
                        self.keys["basic"] if key is None else key,
                        activity, fields, args, timeout)

    def sim(self, *argv, timeout=60):
        """Runs mkp-sim with these arguments as given."""
        return run_sim(self.build, list(argv), timeout)

    def http(self, method="GET", path="/", body=None, headers=None, timeout=30,
             source=None):
        """(status, headers, body bytes) of one request through the front
        (HTTPS, verified against the test CA)."""
        return self.front.request(method, path, body, headers, timeout, source)


# --- the marketplace's open API: APIG signing and mkp-sim serve --------------

APIG_ALGORITHM = "SDK-HMAC-SHA256"
ORDER_QUERY_PATH = "/api/mkp-openapi-public/global/v1/order/query"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _apig_escape(s):
    # A-Z a-z 0-9 - _ . ~ kept, every other byte %XX upper case, space %20.
    return quote(s, safe="-_.~")


def apig_canonical_request(method, path, query, headers, body=b""):
    """The SDK-HMAC-SHA256 canonical request (spec/outbound.md §2.2), written
    independently of crypto/apig.c. path and query are as on the request
    line (query without '?'); headers is {name: value} of the headers to
    sign. Returns (canonical text, signed headers list)."""
    segments = [_apig_escape(unquote(seg)) for seg in (path or "/").split("/")]
    uri = "/".join(segments)
    if not uri.endswith("/"):
        uri += "/"
    pairs = []
    for piece in (query or "").split("&"):
        if not piece:
            continue
        k, _, v = piece.partition("=")
        pairs.append((unquote(k), unquote(v)))
    canon_query = "&".join("%s=%s" % (_apig_escape(k), _apig_escape(v))
                           for k, v in sorted(pairs))
    lower = sorted((k.lower(), v.strip()) for k, v in headers.items())
    canon_headers = "".join("%s:%s\n" % kv for kv in lower)
    signed = ";".join(k for k, _ in lower)
    if isinstance(body, str):
        body = body.encode()
    text = "\n".join([method.upper(), uri, canon_query, canon_headers, signed,
                      hashlib.sha256(body or b"").hexdigest()])
    return text, signed


def apig_signature(sk, date, canonical):
    string_to_sign = "%s\n%s\n%s" % (
        APIG_ALGORITHM, date, hashlib.sha256(canonical.encode()).hexdigest())
    return hmac.new(sk.encode(), string_to_sign.encode(),
                    hashlib.sha256).hexdigest()


def apig_sdk_date(t=None):
    """X-Sdk-Date for time t (default now): yyyyMMddTHHmmssZ, UTC."""
    return time.strftime("%Y%m%dT%H%M%SZ",
                         time.gmtime(time.time() if t is None else t))


def apig_sign(method, path, query, headers, body, ak, sk):
    """The Authorization header value for a request whose headers (all
    signed, X-Sdk-Date among them) are given."""
    date = next(v for k, v in headers.items() if k.lower() == "x-sdk-date")
    canonical, signed = apig_canonical_request(method, path, query, headers,
                                               body)
    return "%s Access=%s, SignedHeaders=%s, Signature=%s" % (
        APIG_ALGORITHM, ak, signed, apig_signature(sk, date, canonical))


class SimServer:
    """mkp-sim serve on a free loopback port (test/README.md)."""

    def __init__(self, build, workdir, ak="sim-test-ak", sk=None, orders=None,
                 fail=None, args=(), tls=None):
        self.build = Path(build)
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ak = ak
        self.sk = sk or secrets.token_hex(20)
        self.orders = orders
        self.fail_spec = fail
        self.args = list(args)
        # HTTPS: {"cert", "key"} (make_tls()); the control requests of the
        # test itself do not verify it (the certificate may be a wrong one
        # on purpose): mkpd's verification is what is tested.
        self.tls = tls
        self.log_path = self.dir / "mkp-sim-serve.log"
        self.record_path = self.dir / "calls.jsonl"
        self.proc = None
        self.url = None
        self.host = None

    def argv(self):
        argv = [str(self.build / "mkp-sim"), "serve",
                "--listen", "127.0.0.1:0", "--ak", self.ak, "--sk", self.sk,
                "--record", str(self.record_path)]
        if self.orders is not None:
            argv += ["--orders", str(self.orders)]
        if self.fail_spec is not None:
            argv += ["--fail", self.fail_spec]
        if self.tls is not None:
            argv += ["--tls-cert", self.tls["cert"], "--tls-key", self.tls["key"]]
        return argv + self.args

    def start(self, timeout=10):
        env = dict(os.environ)
        # A clean stop frees everything: leaks are looked for, as for call.
        if os.environ.get("MKPD_SIM_ASAN_OPTIONS"):
            env["ASAN_OPTIONS"] = os.environ["MKPD_SIM_ASAN_OPTIONS"]
        self.proc = spawn(self.argv(), self.log_path, env=env)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("mkp-sim serve exited %s:\n%s" % (
                    self.proc.returncode, tail(self.log())))
            return re.search(r"listening on (https?://([0-9.:]+)/)", self.log())
        m = wait_for(ready, timeout, what="mkp-sim serve to listen")
        self.url, self.host = m.group(1), m.group(2)
        return self

    def log(self):
        return read_text(self.log_path)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the server; returns its exit status (None if not started)."""
        if self.proc is None:
            return None
        rc = end_process(self.proc, sig, timeout)
        self.proc = None
        return rc

    def sanitizer_reports(self):
        return [line for line in self.log().splitlines()
                if SANITIZER_RE.search(line)]

    def request(self, method="GET", path="/", body=None, headers=None,
                timeout=10):
        """(status, headers, body bytes) of one request (HTTPS unverified)."""
        return http_request(self.url, method, path, body, headers, timeout,
                            insecure=True)

    def _control(self, method, what, body=None):
        status, _, data = self.request(
            method, "/-/sim/" + what,
            None if body is None else json.dumps(body),
            {"Content-Type": "application/json"} if body is not None else None)
        assert status == 200, (status, data)
        return json.loads(data)

    def calls(self):
        """Every API call the server got, oldest first (dicts)."""
        return self._control("GET", "calls")["calls"]

    def clear_calls(self):
        return self._control("DELETE", "calls")["cleared"]

    def fail(self, mode, count=1, delay_ms=None, status=None):
        """Makes the next count API calls fail as mode; returns the state."""
        body = {"mode": mode, "count": count}
        if delay_ms is not None:
            body["delay_ms"] = delay_ms
        if status is not None:
            body["status"] = status
        return self._control("POST", "fail", body)

    def signed(self, method="GET", path=ORDER_QUERY_PATH, query="", body=b"",
               headers=None, ak=None, sk=None, date=None, timeout=10,
               sign_extra=True, authorization=None):
        """One request signed as a marketplace client signs it: Host,
        Content-Type and X-Sdk-Date (now, unless date) signed with this
        server's AK/SK unless ak/sk are given; headers are added (and
        signed when sign_extra). authorization replaces the computed
        Authorization value. Returns (status, headers, body bytes)."""
        signed = {"Host": self.host,
                  "Content-Type": "application/json;charset=UTF-8",
                  "X-Sdk-Date": date or apig_sdk_date()}
        extra = dict(headers or {})
        if sign_extra:
            signed.update(extra)
            extra = {}
        auth = authorization if authorization is not None else apig_sign(
            method, path, query, signed, body, ak or self.ak, sk or self.sk)
        all_headers = dict(signed, **extra)
        all_headers["Authorization"] = auth
        target = path + ("?" + query if query else "")
        return self.request(method, target, body or None, all_headers, timeout)

    def order_query(self, order_id, line_id=None, **kw):
        """Signed GET of the order query; returns (status, json or None, raw)."""
        q = "orderId=" + _apig_escape(order_id)
        if line_id is not None:
            q += "&orderLineId=" + _apig_escape(line_id)
        status, _, data = self.signed(query=q, **kw)
        try:
            obj = json.loads(data)
        except ValueError:
            obj = None
        return status, obj, data

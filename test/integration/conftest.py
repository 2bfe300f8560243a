"""conftest.py: the integration suite's fixtures (test/README.md).

Session: one temporary directory (/dev/shm/mkpd-test-* when /dev/shm has
room, else /tmp/mkpd-test-*, or under $MKPD_TEST_TMPDIR),
one PostgreSQL cluster, one migrated database, one set of keys.
Module: `stack`, mkpd + nginx over HTTPS (or MKPD_TEST_FRONT) shared by the
tests of a module (a module may set MKPD_OVERRIDES = {...} for its stack). Function: `fresh_stack` and the
`make_stack` factory, for tests that stop, signal or reconfigure mkpd.

Binaries come from $MKPD_BUILD (scripts/test sets it), else build/. A test
whose binary was not built, or that needs PostgreSQL on a machine without
it, is skipped, not failed: the build step reports a missing binary.
"""

import os
import re
import signal
import tempfile
from pathlib import Path

import pytest

import harness
from harness import Mkpd, Nginx, Postgres, Stack, wait_for  # noqa: F401 (re-exported)

_kept_dir = []


def need(build, *names):
    """Skips the test unless every named program was built."""
    for name in names:
        if not (Path(build) / name).exists():
            pytest.skip("%s was not built in %s" % (name, build))


@pytest.fixture(scope="session")
def build():
    """Path of the build directory holding mkpd, mkpctl and mkp-sim."""
    return Path(os.environ.get("MKPD_BUILD") or harness.ROOT / "build").resolve()


# /dev/shm holds the session directory when it has this much room: a whole
# run writes some 1.5 GB in 50 000 files there (clusters, databases, base
# backups), which on a disk cost the suite minutes of waiting on it.
SHM_ROOM = 4 << 30


def session_parent():
    """Where the session directory goes: $MKPD_TEST_TMPDIR, else /dev/shm
    (memory) when it is writable with SHM_ROOM free, else /tmp."""
    if os.environ.get("MKPD_TEST_TMPDIR"):
        return os.environ["MKPD_TEST_TMPDIR"]
    try:
        st = os.statvfs("/dev/shm")
        if os.access("/dev/shm", os.W_OK | os.X_OK) and st.f_bavail * st.f_frsize >= SHM_ROOM:
            return "/dev/shm"
    except OSError:
        pass
    return "/tmp"


@pytest.fixture(scope="session")
def session_dir(request):
    """The session's temporary directory (mode 0755 so that postgres and
    nobody reach what is inside), under session_parent(). Removed at the
    end unless a test failed or MKPD_KEEP_TMP is set: by an rm of its own
    that pytest does not wait for (a whole run leaves some 50 000 files,
    whose removal took 20 s and more on a disk)."""
    d = Path(tempfile.mkdtemp(prefix="mkpd-test-", dir=session_parent()))
    d.chmod(0o755)
    # The test CA: every front's certificate is signed by it, every client
    # (mkp-sim, http_request) verifies against it.
    harness.set_tls_dir(d / "tls")
    yield d
    harness.kill_all()
    if request.session.testsfailed or os.environ.get("MKPD_KEEP_TMP"):
        _kept_dir.append(d)
    else:
        harness.remove_later(d)


_dir_seq = [0]


def unique_dir(session_dir, name):
    _dir_seq[0] += 1
    # Only plain characters: the path ends up in nginx's include, which
    # takes [] and * as glob patterns (parametrised test names have them).
    # At most 50 characters: a socket's path (mkpd's, PostgreSQL's) must
    # fit in 107 bytes under /dev/shm/mkpd-test-XXXXXXXX/NAME-N/.
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:50]
    d = session_dir / ("%s-%d" % (safe, _dir_seq[0]))
    d.mkdir()
    d.chmod(0o755)
    return d


@pytest.fixture
def workdir(request, session_dir):
    """A fresh directory for this test, reachable by postgres and nobody
    (pytest's tmp_path is not)."""
    return unique_dir(session_dir, request.node.name)


@pytest.fixture(scope="session")
def pg(session_dir):
    """The session's PostgreSQL (harness.Postgres): .psql(sql, db=None),
    .dsn, .port, .stop(mode), .start(), .create_database()."""
    if harness.pg_bindir() is None:
        pytest.skip("no PostgreSQL server installed")
    server = Postgres(session_dir / "pg")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def keys():
    """{"basic", "kit", "v1"}: the interface keys every stack is given."""
    return harness.new_keys()


def migrated_database(build, pg, session_dir, keys, dsn):
    need(build, "mkpctl")
    m = Mkpd(build, unique_dir(session_dir, "migrate"), dsn, keys)
    m.migrate()
    return dsn


@pytest.fixture(scope="session")
def database(build, pg, session_dir, keys):
    """dsn of the session's database after `mkpctl -c CONF migrate`."""
    return migrated_database(build, pg, session_dir, keys, pg.dsn)


class _Stacks:
    """Starts stacks and stops them all at teardown, failing the test when
    a sanitizer reported anything."""

    def __init__(self, build, pg, database, keys, session_dir, name):
        self.args = (build, pg, database, keys, session_dir)
        self.name = name
        self.made = []

    def make(self, overrides=None, start=True, fresh_db=False, keys=None, dsn=None,
             pg=None, front=None):
        build, session_pg, session_dsn, default_keys, session_dir = self.args
        need(build, "mkpd")
        dsn = dsn or (pg.dsn if pg else session_dsn)
        pg = pg or session_pg
        if fresh_db:
            dsn = migrated_database(build, pg, session_dir, default_keys,
                                    pg.create_database())
        s = Stack(build, unique_dir(session_dir, self.name), pg, dsn,
                  keys or default_keys, overrides, front=front)
        self.made.append(s)
        if start:
            s.start()
        return s

    def close(self):
        reports = []
        for s in self.made:
            try:
                reports += s.stop()
            finally:
                s.mkpd.kill()
        assert not reports, "sanitizer reports: %s" % reports


@pytest.fixture(scope="module")
def stack(request, build, pg, database, keys, session_dir):
    """mkpd + nginx for this module (harness.Stack), started, using the
    module's MKPD_OVERRIDES if it sets one."""
    stacks = _Stacks(build, pg, database, keys, session_dir,
                     request.module.__name__)
    try:
        yield stacks.make(getattr(request.module, "MKPD_OVERRIDES", None))
    finally:
        stacks.close()


@pytest.fixture
def make_stack(request, build, pg, database, keys, session_dir):
    """Factory: make_stack(overrides=None, start=True, fresh_db=False,
    keys=None, dsn=None, pg=None, front=None) -> harness.Stack; dsn:
    another stack's database (two hosts on one store); pg: a cluster of the
    test's own (harness.Postgres, its database migrated), for tests that
    stop it; front: "nginx" or "apache" (default harness.DEFAULT_FRONT:
    nginx unless MKPD_TEST_FRONT says). Every stack made is stopped after
    the test."""
    stacks = _Stacks(build, pg, database, keys, session_dir, request.node.name)
    try:
        yield stacks.make
    finally:
        stacks.close()


@pytest.fixture
def fresh_stack(make_stack):
    """A stack of its own for one test (default options), started."""
    return make_stack()


@pytest.fixture(scope="module")
def call(stack):
    """stack.call: call(activity, fields=None, key=None, args=()) ->
    (exit, json_or_none, stderr), through the module's stack."""
    need(stack.build, "mkp-sim")
    return stack.call


@pytest.fixture
def make_front(session_dir, request):
    """Factory: make_front(kind, fcgi_server, extra="") -> started
    harness.Nginx or harness.Apache (kind "nginx" or "apache"), stopped
    after the test."""
    made = []

    def make(kind, fcgi_server, extra=""):
        n = harness.make_front(kind, unique_dir(session_dir, request.node.name),
                               fcgi_server, extra=extra)
        made.append(n)
        return n.start()
    yield make
    for n in made:
        n.stop()


@pytest.fixture
def make_nginx(make_front):
    """Factory: make_nginx(fcgi_server, extra="") -> started harness.Nginx."""
    return lambda fcgi_server, extra="": make_front("nginx", fcgi_server, extra)


@pytest.fixture
def make_sim_server(build, session_dir, request):
    """Factory: make_sim_server(**kw) -> started harness.SimServer (kw as
    SimServer: ak, sk, orders, fail, args). Each is stopped after the test,
    which fails if it did not stop cleanly or logged a sanitizer report."""
    need(build, "mkp-sim")
    made = []

    def make(**kw):
        s = harness.SimServer(build, unique_dir(session_dir, request.node.name),
                              **kw)
        made.append(s)
        return s.start()
    yield make
    problems = []
    for s in made:
        rc = s.stop()
        if rc not in (None, 0):
            problems.append("mkp-sim serve exited %s" % rc)
        problems += s.sanitizer_reports()
    assert not problems, problems


@pytest.fixture
def sim_server(make_sim_server):
    """make_sim_server(): mkp-sim serve with the MOCK orders, a random SK."""
    return make_sim_server()


def pytest_sessionfinish(session, exitstatus):
    harness.kill_all()


def pytest_terminal_summary(terminalreporter):
    for d in _kept_dir:
        terminalreporter.write_line("integration test files kept in %s" % d)


# Tests never hang on a stuck child: a signal that ends pytest still runs
# the finalizers (SIGTERM from a CI time-out becomes KeyboardInterrupt).
def _term(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


signal.signal(signal.SIGTERM, _term)

"""test_package.py: the Debian package, as an administrator uses it.

Builds mkpd_*.deb from a clean copy of HEAD (git archive, DEB_BUILD_OPTIONS
nocheck), then on this machine: installs it with apt-get, checks what it
put where, points /etc/mkpd/mkpd.conf at a PostgreSQL cluster of the
test's own, applies it with dpkg-reconfigure (which migrates), runs the
unit's ExecStart behind nginx and sends signed calls with the packaged
mkp-sim; upgrades to a package of a higher version that carries one more
migration and checks that the migration ran, the running mkpd kept
serving and the data and configuration are kept; then tries an upgrade
whose migration fails, which must fail and leave mkpd running; removes it
(the configuration, the key, the logs and the user stay), then purges it
and checks that nothing of mkpd is left but the database.

It changes the machine (a package, a system user), so it runs only as root
and only when asked: scripts/test sets MKPD_PACKAGE_TEST=1 and runs this
file once, outside the per-build runs (CI machines are disposable). The
purge happens in a finally, so the machine is left as it was found.
"""

import grp
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

import harness
from conftest import unique_dir
from harness import Nginx, Postgres, end_process, listening, sim_call, spawn, wait_for

pytestmark = [
    pytest.mark.skipif(os.environ.get("MKPD_PACKAGE_TEST") != "1",
                       reason="installs and purges the mkpd package on this machine: "
                              "run as root with MKPD_PACKAGE_TEST=1 (scripts/test does)"),
    pytest.mark.skipif(not harness.IS_ROOT,
                       reason="installs the mkpd package: needs root"),
]

CONF = Path("/etc/mkpd/mkpd.conf")
MASTER_KEY = Path("/etc/mkpd/master.key")
UNIT_DIR = Path("/lib/systemd/system")
SOCKET = "/run/mkpd/mkpd.sock"
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive", DEBCONF_NONINTERACTIVE_SEEN="true")
# The migration the upgrade package adds, and one that cannot apply.
UPGRADE_MIGRATION = ("999_package_upgrade.sql",
                     "CREATE TABLE package_upgrade_check (id integer PRIMARY KEY);\n")
BROKEN_MIGRATION = ("9999_package_broken.sql",
                    "ALTER TABLE no_such_table_for_the_package_test ADD COLUMN x integer;\n")

# Everything the package puts on the machine outside the database; none of
# it may be left after the purge.
PACKAGE_PATHS = [
    "/usr/sbin/mkpd", "/usr/bin/mkpctl", "/usr/bin/mkp-sim",
    "/etc/mkpd", "/var/log/mkpd", "/run/mkpd", "/etc/logrotate.d/mkpd",
    "/lib/systemd/system/mkpd.service", "/lib/systemd/system/mkpd.socket",
    "/lib/systemd/system/mkpd-activated.service", "/usr/lib/tmpfiles.d/mkpd.conf",
    "/usr/share/doc/mkpd", "/usr/share/mkpd", "/usr/share/man/man8/mkpd.8.gz",
    "/etc/dbconfig-common/mkpd.conf",
]


def run(argv, check=True, env=None, cwd=None, timeout=900):
    r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s\n%s" % (
            " ".join(map(str, argv)), r.returncode, harness.tail(r.stdout, 60),
            harness.tail(r.stderr, 60)))
    return r


def installed_version():
    r = run(["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", "mkpd"], check=False)
    return r.stdout.split() if r.returncode == 0 else None


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def build_deb(src, out_dir, incremental=False):
    """dpkg-buildpackage -b in src; moves the .deb to out_dir, returns it."""
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=%d" % (os.cpu_count() or 1),
               DEB_BUILD_PROFILES="nocheck")
    argv = ["dpkg-buildpackage", "-us", "-uc", "-b"]
    if incremental:
        # Keep the configured tree: only the changed files are rebuilt.
        for f in [src / "debian/debhelper-build-stamp", *src.glob("debian/*.debhelper.log")]:
            f.unlink(missing_ok=True)
        argv.append("-nc")
    run(argv, cwd=src, env=env)
    version = run(["dpkg-parsechangelog", "-S", "Version"], cwd=src).stdout.strip()
    deb = src.parent / ("mkpd_%s_amd64.deb" % version)
    assert deb.exists(), "dpkg-buildpackage made no %s" % deb.name
    out_dir.mkdir(exist_ok=True)
    return Path(shutil.move(str(deb), out_dir / deb.name))


def next_version(src, suffix, migration):
    """Raises the changelog version and adds one migration to the tree."""
    version = run(["dpkg-parsechangelog", "-S", "Version"], cwd=src).stdout.strip()
    log = src / "debian/changelog"
    new = version + suffix
    log.write_text("mkpd (%s) unstable; urgency=medium\n\n  * Package test build.\n\n"
                   " -- mkpd maintainers <maintainers@mkpd.example.org>  "
                   "Thu, 03 Dec 2026 12:00:00 +0000\n\n" % new + log.read_text())
    name, sql = migration
    (src / "schema" / name).write_text(sql)
    with open(src / "Makefile.am", "a") as f:
        f.write("\nSCHEMA_FILES += schema/%s\n" % name)
    return new


@pytest.fixture(scope="module")
def debs(session_dir):
    """Three packages built from HEAD: the release, an upgrade with one
    more migration, and a further upgrade whose migration fails."""
    if shutil.which("dpkg-buildpackage") is None:
        pytest.fail("dpkg-buildpackage is missing (scripts/lib.sh MKP_TEST_PACKAGES)")
    root = harness.ROOT
    if run(["git", "-C", str(root), "rev-parse", "HEAD"], check=False).returncode != 0:
        pytest.skip("%s is not a git checkout: the package is built from HEAD" % root)
    base = unique_dir(session_dir, "package")
    src = base / "work" / "mkpd"
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", "HEAD"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    out = base / "debs"
    first = build_deb(src, out)
    v2 = next_version(src, "+pkgtest1", UPGRADE_MIGRATION)
    second = build_deb(src, out, incremental=True)
    v3 = next_version(src, "+pkgtest2", BROKEN_MIGRATION)
    third = build_deb(src, out, incremental=True)
    return {"release": first, "upgrade": second, "broken": third,
            "versions": (run(["dpkg-deb", "-f", str(first), "Version"]).stdout.strip(),
                         v2, v3)}


def test_package_lintian_clean(debs):
    """lintian finds no error and no warning that is not overridden."""
    r = run(["lintian", "--no-tag-display-limit", "--fail-on", "error,warning",
             str(debs["release"])], check=False)
    bad = [l for l in r.stdout.splitlines() if re.match(r"^[EW]: ", l)]
    assert r.returncode == 0 and not bad, r.stdout + r.stderr


def test_package_contents(debs):
    """The files an administrator expects, where Debian puts them."""
    listing = run(["dpkg-deb", "-c", str(debs["release"])]).stdout
    names = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    for path in ["/usr/sbin/mkpd", "/usr/bin/mkpctl", "/usr/bin/mkp-sim",
                 "/etc/mkpd/mkpd.conf", "/etc/logrotate.d/mkpd",
                 "/lib/systemd/system/mkpd.service", "/lib/systemd/system/mkpd.socket",
                 "/lib/systemd/system/mkpd-activated.service",
                 "/usr/lib/tmpfiles.d/mkpd.conf",
                 "/usr/share/man/man8/mkpd.8.gz", "/usr/share/man/man5/mkpd.conf.5.gz",
                 "/usr/share/man/man8/mkpctl.8.gz", "/usr/share/man/man1/mkp-sim.1.gz",
                 "/usr/share/mkpd/schema/001_base.sql",
                 "/usr/share/doc/mkpd/examples/nginx/mkpd.conf",
                 "/usr/share/doc/mkpd/examples/apache/mkpd.conf",
                 "/usr/share/doc/mkpd/examples/hooks/rest-api.sh",
                 "/usr/share/doc/mkpd/examples/hooks/postgres-table.sh"]:
        assert path in names, "%s is not in the package" % path
    # The master key is made on the machine, never shipped.
    assert not any("master.key" in n for n in names)
    conffiles = run(["dpkg-deb", "-I", str(debs["release"]), "conffiles"]).stdout.split()
    assert "/etc/mkpd/mkpd.conf" in conffiles
    # The manual names the configuration where the package keeps it.
    page = subprocess.run("dpkg-deb --fsys-tarfile %s | tar -xOf - ./usr/share/man/man8/mkpd.8.gz"
                          " | gzip -dc" % debs["release"], shell=True, capture_output=True,
                          text=True, check=True).stdout
    assert "/etc/mkpd/mkpd.conf" in page and "SYSCONFDIR" not in page


def unit_commands(unit):
    """ExecStartPre and ExecStart of an installed unit, as argv lists."""
    text = (UNIT_DIR / unit).read_text()
    cmds = {}
    for key in ("ExecStartPre", "ExecStart"):
        m = re.search(r"^%s=(.+)$" % key, text, re.MULTILINE)
        assert m, "%s has no %s" % (unit, key)
        cmds[key] = m.group(1).split()
    return cmds


def edit_conf(changes):
    """Sets name = value lines in /etc/mkpd/mkpd.conf in place (the file
    keeps its owner and mode, as an editor would)."""
    text = CONF.read_text()
    for name, value in changes.items():
        text, n = re.subn(r"(?m)^%s[ \t]*=.*$" % name, "%s = %s" % (name, value), text)
        assert n == 1, "%s is not in %s" % (name, CONF)
    with open(CONF, "r+") as f:
        f.truncate(0)
        f.write(text)


class Service:
    """The unit's ExecStart run by hand (no systemd on CI), and nginx."""

    def __init__(self, workdir):
        self.dir = workdir
        self.proc = None
        self.nginx = Nginx(workdir / "nginx", SOCKET)

    def start(self):
        cmds = unit_commands("mkpd.service")
        pre = run(cmds["ExecStartPre"], check=False)
        assert pre.returncode == 0, "ExecStartPre: " + pre.stdout + pre.stderr
        self.proc = spawn(cmds["ExecStart"], self.dir / "mkpd.out")

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("mkpd exited %s:\n%s\n%s" % (
                    self.proc.returncode, harness.read_text(self.dir / "mkpd.out"),
                    harness.tail(harness.read_text("/var/log/mkpd/mkpd.log"))))
            return listening(SOCKET)
        wait_for(up, 30, what="the packaged mkpd to listen on " + SOCKET)
        if not self.nginx.running():
            self.nginx.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None:
            rc = end_process(self.proc, signal.SIGTERM, 30)
            self.proc = None
            return rc
        return None

    def close(self):
        self.nginx.stop()
        self.stop()


def purge():
    return run(["apt-get", "purge", "-y", "-q", "mkpd"], check=False, env=APT_ENV)


def test_package_install_upgrade_purge(debs, workdir):
    if installed_version() is not None or user_exists("mkpd") or CONF.parent.exists():
        pytest.skip("mkpd is already installed on this machine (or its user or /etc/mkpd "
                    "is there): this test installs and purges it")
    work = workdir
    pg = Postgres(work / "pg")
    pg.start()
    pg.psql("CREATE ROLE mkpd LOGIN; ALTER DATABASE mkpd OWNER TO mkpd;", db="postgres")
    service = Service(work)
    key = str(uuid.uuid4())
    release, v2, v3 = debs["versions"]
    try:
        # --- install ------------------------------------------------------
        r = run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                 str(debs["release"])], check=False, env=APT_ENV)
        assert r.returncode == 0, r.stdout + r.stderr
        assert installed_version() == ["installed", release]
        # Not configured yet: one line says what to set and which command
        # applies it, and nothing is started or enabled.
        hint = [l for l in r.stdout.splitlines() if l.startswith("mkpd: not started")]
        assert len(hint) == 1 and "basic_key" in hint[0] and "dpkg-reconfigure mkpd" in hint[0], \
            r.stdout
        assert not Path("/etc/systemd/system/multi-user.target.wants/mkpd.service").exists()
        assert not listening(SOCKET)

        for prog in ("/usr/sbin/mkpd", "/usr/bin/mkpctl", "/usr/bin/mkp-sim"):
            assert os.access(prog, os.X_OK), prog
        st = CONF.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, grp.getgrgid(st.st_gid).gr_name) == \
            (0o640, 0, "mkpd"), "mkpd.conf must be 0640 root:mkpd"
        st = MASTER_KEY.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o600, 0)
        master = MASTER_KEY.read_text().strip()
        assert re.fullmatch(r"[0-9a-f]{64}", master), "master key: " + master
        u = pwd.getpwnam("mkpd")
        assert u.pw_uid < 1000 and grp.getgrgid(u.pw_gid).gr_name == "mkpd"
        assert u.pw_shell.endswith("nologin")
        assert Path("/var/log/mkpd").is_dir() and Path("/run/mkpd").is_dir()
        for page in (["8", "mkpd"], ["5", "mkpd.conf"], ["8", "mkpctl"], ["1", "mkp-sim"]):
            assert run(["man", "-w", *page], check=False).returncode == 0, "man %s" % page
        for unit in ("mkpd.service", "mkpd.socket", "mkpd-activated.service"):
            assert (UNIT_DIR / unit).exists(), unit
        for unit in ("mkpd.service", "mkpd-activated.service"):
            cmds = unit_commands(unit)
            assert cmds["ExecStart"][:3] == ["/usr/sbin/mkpd", "-c", str(CONF)], cmds
            assert cmds["ExecStartPre"][:4] == ["/usr/sbin/mkpd", "-t", "-c", str(CONF)], cmds
        assert Path("/etc/logrotate.d/mkpd").read_text().count("/var/log/mkpd/") >= 1

        # --- configure: the key, the database; dpkg-reconfigure applies it -
        edit_conf({"basic_key": key,
                   "front_end_url": "https://app.example.com/{instanceId}",
                   "dsn": "host=%s port=%d dbname=mkpd user=mkpd" % (pg.host, pg.port),
                   # nginx's workers run as nobody:nogroup here, not www-data.
                   "listen_group": "nogroup"})
        r = run(["dpkg-reconfigure", "-f", "noninteractive", "mkpd"], check=False, env=APT_ENV)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "not started" not in r.stdout, r.stdout
        assert Path("/etc/systemd/system/multi-user.target.wants/mkpd.service").is_symlink(), \
            "configured, but mkpd.service was not enabled"
        latest = int(pg.psql("SELECT max(version) FROM schema_migrations"))
        assert latest == int(sorted(p.name for p in Path("/usr/share/mkpd/schema")
                                    .glob("[0-9]*_*.sql"))[-1].split("_")[0])
        assert pg.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'instance'") == "mkpd"
        st = CONF.stat()
        assert (stat.S_IMODE(st.st_mode), grp.getgrgid(st.st_gid).gr_name) == (0o640, "mkpd")

        # --- run the unit's command behind nginx; signed calls ------------
        service.start()
        url = service.nginx.url
        order_id, line_id = harness.new_order()
        code, ans, err = sim_call(Path("/usr/bin"), url, key, "newInstance",
                                  {"orderId": order_id, "orderLineId": line_id,
                                   "businessId": str(uuid.uuid4())})
        assert code == 0 and ans["resultCode"] == "000000", (ans, err)
        instance = ans["instanceId"]

        def query_ok():
            c, a, e = sim_call(Path("/usr/bin"), url, key, "queryInstance",
                               {"instanceId": instance})
            assert c == 0 and a["resultCode"] == "000000", (a, e)
            return a
        query_ok()
        assert Path("/var/log/mkpd/mkpd.log").stat().st_size > 0
        old_pid = service.proc.pid

        # --- upgrade: the new migration runs, the running mkpd serves on --
        r = run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                 str(debs["upgrade"])], check=False, env=APT_ENV)
        assert r.returncode == 0, r.stdout + r.stderr
        assert installed_version() == ["installed", v2]
        assert pg.psql("SELECT count(*) FROM schema_migrations WHERE version = 999") == "1", \
            "the upgrade did not run its migration"
        assert pg.psql("SELECT to_regclass('package_upgrade_check') IS NOT NULL") == "t"
        assert service.running() and service.proc.pid == old_pid
        query_ok()
        assert re.search(r"(?m)^basic_key = %s$" % key, CONF.read_text()), \
            "the upgrade lost the configuration"
        assert MASTER_KEY.read_text().strip() == master, "the upgrade changed the master key"
        # The new binary takes over: a restart, as systemd would do it.
        assert service.stop() == 0
        service.start()
        query_ok()
        assert run(["runuser", "-u", "mkpd", "--", "mkpctl", "version"],
                   check=False).returncode == 0

        # --- an upgrade whose migration fails leaves mkpd as it was -------
        pid = service.proc.pid
        r = run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                 str(debs["broken"])], check=False, env=APT_ENV)
        assert r.returncode != 0, "an upgrade with a failing migration succeeded"
        assert "schema migration failed" in r.stdout + r.stderr, r.stdout + r.stderr
        assert pg.psql("SELECT count(*) FROM schema_migrations WHERE version = 9999") == "0"
        assert service.running() and service.proc.pid == pid
        query_ok()

        # --- remove keeps the configuration, the key, the logs, the user ----
        service.close()
        r = run(["apt-get", "remove", "-y", "-q", "mkpd"], check=False, env=APT_ENV)
        assert r.returncode == 0, r.stdout + r.stderr
        assert installed_version() == ["config-files", v3]
        assert not os.path.exists("/usr/sbin/mkpd")
        assert re.search(r"(?m)^basic_key = %s$" % key, CONF.read_text())
        assert MASTER_KEY.read_text().strip() == master
        assert Path("/var/log/mkpd/mkpd.log").exists() and user_exists("mkpd")

        # --- purge: nothing of mkpd is left but the database ---------------
        r = purge()
        assert r.returncode == 0, r.stdout + r.stderr
        assert installed_version() is None
        left = [p for p in PACKAGE_PATHS if os.path.lexists(p)]
        assert not left, "left after the purge: %s" % left
        assert not user_exists("mkpd") and not group_exists("mkpd")
        assert "mkpd" not in run(["dpkg-statoverride", "--list"]).stdout
        assert not list(Path("/etc/systemd/system").rglob("mkpd*"))
        assert run(["debconf-show", "mkpd"], check=False).stdout.strip() == ""
        assert pg.psql("SELECT count(*) FROM instance WHERE instance_id = '%s'" % instance) == "1", \
            "the purge touched the database"
    finally:
        service.close()
        if installed_version() is not None:
            purge()
        pg.stop()

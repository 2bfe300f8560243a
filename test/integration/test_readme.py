"""The README is a test: its shell blocks, as written, run in order against
a deployment made by scripts/quickstart (on free ports, in a state directory
of its own: the clone's var/ is never touched, and the build under test is
reused), in one shell as a reader pasting them into one terminal would.

Each block must exit 0 (it runs under `set -eo pipefail`, so a failing
command in the middle fails it) and print what the text promises. What a
block promises is said in an HTML comment on the line before it, which the
rendered README does not show:

    <!-- readme-test: expect REGEX -->            REGEX is in the output
    <!-- readme-test: expect N x REGEX -->        ... exactly N times
    <!-- readme-test: retry SECONDS until REGEX -->
        run again (in a subshell: variables it sets are not kept) until it
        exits 0 with REGEX in the output (the README's "it polls until")
    <!-- readme-test: skip (why) -->               not run

The blocks from "## Production" on are for a production host and are not
run. The output is stdout and stderr together."""

import os
import queue
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

import harness
from harness import free_port, wait_for

README = harness.ROOT / "README.md"
BLOCK_TIMEOUT = 120

_BLOCK = re.compile(r"(?:^<!-- readme-test: (?P<mark>.*?) -->\n)?^```sh\n(?P<code>.*?)^```\n",
                    re.M | re.S)


def readme_blocks(text):
    """[(line, mark or None, code)] of the shell blocks before ## Production."""
    text = text.split("\n## Production\n", 1)[0]
    return [(text.count("\n", 0, m.start()) + 1, m.group("mark"), m.group("code"))
            for m in _BLOCK.finditer(text)]


def parse_mark(mark):
    """(kind, count, seconds, regex) of a readme-test comment."""
    if mark is None:
        return ("run", None, None, None)
    if mark.startswith("skip"):
        return ("skip", None, None, None)
    m = re.fullmatch(r"expect (?:(\d+) x )?(.+)", mark)
    if m:
        return ("run", int(m.group(1)) if m.group(1) else None, None, m.group(2))
    m = re.fullmatch(r"retry (\d+) until (.+)", mark)
    if m:
        return ("retry", None, int(m.group(1)), m.group(2))
    raise AssertionError("README: unknown readme-test comment: %r" % mark)


def test_readme_marks_parse_and_cover_the_walkthrough():
    blocks = readme_blocks(README.read_text())
    marks = [parse_mark(m) for _, m, _ in blocks]
    run = [b for b, k in zip(blocks, marks) if k[0] != "skip"]
    assert len(run) >= 10, "only %d README blocks to run" % len(run)
    code = "".join(c for _, _, c in run)
    for what in ("newInstance", "--kit tenantSync", "--kit applicationSync",
                 "--kit authSync", "--kit singleOrgSync", "--kit allOrgSync",
                 "--kit-v1 authSync", "$MKPD_USAGE_URL", "build/mkpctl usage push --now",
                 "psql "):
        assert what in code, "no README block runs %s" % what
    # Commands that do not paste: literal ports, bare mkpctl, the old $TOKEN.
    text = README.read_text().split("\n## Production\n", 1)[0]
    for _, _, c in readme_blocks(text):
        assert not re.search(r"127\.0\.0\.1:\d+|-p \d{4,5}\b", c), c
        assert not re.search(r"(^|[\s;(|])mkpctl\b", c), c
        assert "$TOKEN" not in c, c


class Shell:
    """One bash, fed block after block; output read by a thread."""

    def __init__(self, cwd, env):
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=str(cwd),
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.cwd = Path(cwd)
        self.n = 0

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def run(self, code, subshell=False, timeout=BLOCK_TIMEOUT):
        """(exit status, output) of code; None as status when the shell died."""
        self.n += 1
        path = self.cwd / (".readme-block-%d.sh" % self.n)
        path.write_text(code)
        marker = "@@readme-block-%d-done" % self.n
        if subshell:
            cmd = "( set -eo pipefail; . %s ); echo \"%s $?\"\n" % (path, marker)
        else:
            cmd = "set -eo pipefail; . %s; set +eo pipefail; echo \"%s 0\"\n" % (path, marker)
        self.proc.stdin.write(cmd)
        self.proc.stdin.flush()
        out, deadline = [], time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("block still running after %d s; so far:\n%s"
                                     % (timeout, "".join(out)))
            if line is None:
                return self.proc.wait(10), "".join(out)
            # The last command may leave no newline (curl): the marker
            # then ends the line.
            if marker + " " in line:
                before, after = line.split(marker + " ", 1)
                return int(after.split()[0]), "".join(out) + before
            out.append(line)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def quickstart(build, workdir):
    """A quickstart deployment in workdir/var, on free ports; workdir also
    holds build -> the build under test, so the README's build/... and
    var/keys.env mean this deployment from workdir."""
    from conftest import need
    need(build, "mkpd", "mkpctl", "mkp-sim")
    if harness.pg_bindir() is None:
        pytest.skip("no PostgreSQL server installed")
    (workdir / "build").symlink_to(build)
    var = workdir / "var"
    env = dict(os.environ, MKPD_VAR=str(var), MKPD_BUILD=str(build))
    for name in ("MKPD_HTTP_PORT", "MKPD_HTTPS_PORT", "MKPD_PG_PORT", "MKPD_SIM_PORT"):
        env[name] = str(free_port())
    for name in ("MKPD_CONF", "MKPD_URL", "MKPD_CA_FILE", "MKPD_MARKETPLACE_URL",
                 "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"):
        env.pop(name, None)
    # The front the suites run through (MKPD_TEST_FRONT=apache: Apache).
    env["MKPD_FRONT"] = harness.DEFAULT_FRONT
    qs = str(harness.ROOT / "scripts" / "quickstart")

    def stop():
        return subprocess.run([qs, "stop"], env=env, capture_output=True, text=True,
                              timeout=300)
    try:
        r = subprocess.run([qs], env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, "quickstart failed:\n%s%s" % (r.stdout, r.stderr)
        yield workdir, r.stdout, stop
    finally:
        stop()


def test_readme_blocks_run_as_written(quickstart):
    workdir, printed, stop = quickstart
    assert "mkpd is ready." in printed
    # A reader's terminal: no variable of another deployment, a UTF-8 locale.
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
           "HOME": str(workdir), "LANG": "C.UTF-8", "TERM": "dumb"}
    sh = Shell(workdir, env)
    ran = 0
    try:
        for line, mark, code in readme_blocks(README.read_text()):
            kind, count, seconds, regex = parse_mark(mark)
            where = "README.md:%d" % line
            if kind == "skip":
                continue
            ran += 1
            if kind == "retry":
                last = {}

                def done():
                    last["rc"], last["out"] = sh.run(code, subshell=True)
                    return last["rc"] == 0 and re.search(regex, last["out"], re.M)
                try:
                    wait_for(done, seconds, interval=1, what="%s: %r" % (where, regex))
                except AssertionError as e:
                    raise AssertionError("%s (exit %s):\n%s---\n%s" % (
                        e, last.get("rc"), code, last.get("out"))) from None
                continue
            rc, out = sh.run(code)
            assert rc == 0, "%s: exit %s:\n%s---\n%s" % (where, rc, code, out)
            if regex is not None and count is None:
                assert re.search(regex, out, re.M), \
                    "%s: no %r in:\n%s---\n%s" % (where, regex, code, out)
            elif regex is not None:
                n = len(re.findall(regex, out, re.M))
                assert n == count, "%s: %r %d times, not %d:\n%s---\n%s" % (
                    where, regex, n, count, code, out)
    finally:
        sh.close()
    assert ran >= 10
    # Everything the README shows went as a user would want: mkpd's log
    # holds no warning or error (the audit journal's spool_dir was a
    # directory quickstart never made, and every worker said so).
    log = (workdir / "var" / "log" / "mkpd.log").read_text()
    bad = [x for x in log.splitlines() if re.search(r"\] (warn|error): ", x)]
    assert bad == [], "\n".join(bad)
    # Stopped, nothing of it is left running, nor a pid file that says so.
    r = stop()
    assert r.returncode == 0, r.stderr
    left = [p.name for p in (workdir / "var" / "run").glob("*.pid")]
    assert left == [], left


def keys_env(var):
    """var/keys.env as a dict (quickstart writes NAME=value lines, quoted
    with single quotes where needed)."""
    out = {}
    for line in (var / "keys.env").read_text().splitlines():
        m = re.match(r"^(?:export )?([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip("'\"")
    return out


def test_quickstart_secrets(quickstart):
    """The master key is read only by mkpd's master (root): root's, mode
    0600, not nobody's, whose processes (the front's workers, mkp-sim) any
    such compromise would reach; and mkp-sim's SK is not on its command
    line, which every user of the host sees in ps."""
    workdir, printed, stop = quickstart
    key = os.stat(workdir / "var" / "master.key")
    assert key.st_mode & 0o777 == 0o600
    if os.geteuid() == 0:
        assert (key.st_uid, key.st_gid) == (0, 0)
    sk = keys_env(workdir / "var")["MKPD_SIM_SK"]
    assert len(sk) >= 16
    sims = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"mkp-sim") for a in argv[:1]) and b"serve" in argv:
            sims.append(argv)
    assert sims, "no mkp-sim serve runs"
    assert not any(sk.encode() in a for argv in sims for a in argv), sims

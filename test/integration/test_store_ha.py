"""The store that hangs, fails over or is away (issue 17, doc/operations.md
"High availability"): no call waits on PostgreSQL without a bound.

A primary that hangs instead of dying (its processes frozen with SIGSTOP:
the kernel still accepts connections and acknowledges data, so neither
TCP keepalives nor tcp_user_timeout notice) must cost a caller 000005
well inside the marketplace's 5 s, never an answer that does not come;
once it runs again, calls succeed again without a restart of mkpd."""

import json
import os
import signal
import time

import harness
from harness import wait_for
from test_faults import (OK, RETRY, Load, check_answered_calls_are_stored,  # noqa: F401
                         check_stopped_clean, private_pg)

# What a call may take while the store hangs: the round trip's bound
# (statement_timeout 2000 + 1000) or a connect attempt (connect_timeout 2 s),
# with room for a loaded machine. The marketplace waits 5 s.
HUNG_CALL_MAX_S = 4.5


class TimedLoad(Load):
    """Load that keeps, for each call, when it started and how long it took."""

    def __init__(self, s, **kw):
        super().__init__(s, **kw)
        self.times = []		# (start monotonic, seconds, resultCode)

    def one(self, activity, fields):
        t0 = time.monotonic()
        r = super().one(activity, fields)
        self.times.append((t0, time.monotonic() - t0, r.result_code))
        return r


def cluster_pids(pg):
    """The postmaster and every process it forked (backends, auxiliaries)."""
    return [pg.proc.pid] + harness.child_pids(pg.proc.pid)


def freeze(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def status(s):
    """mkpctl status --json --full and how long it took."""
    t0 = time.monotonic()
    r = s.mkpd.mkpctl("status", "--json", "--full", check=True)
    return json.loads(r.stdout), time.monotonic() - t0


def test_hung_primary_answers_000005_in_bound_and_recovers(make_stack, private_pg):
    s = make_stack({"pool": {"pm": "static", "max_children": 2},
                    "jobs": {"purge_interval": 0}}, pg=private_pg, start=False)
    s.mkpd.overrides.setdefault("mkpd", {})["control_socket"] = str(s.mkpd.dir / "ctl.sock")
    s.mkpd.overrides["mkpd"]["status_listen"] = str(s.mkpd.dir / "status.sock")
    s.mkpd.write_config()
    s.start()
    frozen = []
    pages = []
    with TimedLoad(s) as load:
        load.wait_calls(6)
        wait_for(lambda: status(s)[0]["jobs_backlog"] >= 0, what="the store's figures")
        frozen = cluster_pids(private_pg)
        freeze(frozen, signal.SIGSTOP)
        try:
            hung_at = time.monotonic()
            base = load.count(RETRY)
            # The status page answers at once from its cache all along,
            # and no worker is seen busy past the bound.
            while load.count(RETRY) < base + 6 and time.monotonic() - hung_at < 60:
                pages.append(status(s))
            hung_until = time.monotonic()
        finally:
            freeze(frozen, signal.SIGCONT)
        load.wait_calls(6, timeout=60)
    assert load.count(RETRY) >= base + 6, "too few 000005 answers while the store hung"
    assert all(took < 1.5 for _, took in pages), [round(t, 2) for _, t in pages]
    for page, _ in pages:
        for w in page["workers"]:
            assert w["state"] != "busy" or w["request_duration_ms"] < HUNG_CALL_MAX_S * 1000, w
    assert load.unexpected() == []
    # Every call made while the store hung was answered within the bound,
    # and 000005 unless it ended after the store was back.
    during = [(round(d, 2), code, t0 + d <= hung_until) for t0, d, code in load.times
              if hung_at <= t0 <= hung_until]
    assert len([c for c in during if c[2]]) >= 4, during
    assert all(d <= HUNG_CALL_MAX_S and (code == RETRY or not ended)
               for d, code, ended in during), during
    check_answered_calls_are_stored(s, load)
    # Two workers, the jobs child and the status child: none stuck, none extra.
    workers = s.mkpd.wait_workers(2, timeout=30)
    assert len([p for p in s.mkpd.children() if p not in workers]) == 2
    s.mkpd.wait_log(r"db: no answer from the server in 3000 ms: giving the connection up")
    s.mkpd.wait_log(r"db: connected again")
    check_stopped_clean(s)

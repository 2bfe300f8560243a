"""The store that hangs, fails over or is away (issue 17, doc/operations.md
"High availability"): no call waits on PostgreSQL without a bound.

A primary that hangs instead of dying (its processes frozen with SIGSTOP:
the kernel still accepts connections and acknowledges data, so neither
TCP keepalives nor tcp_user_timeout notice) must cost a caller 000005
well inside the marketplace's 5 s, never an answer that does not come;
once it runs again, calls succeed again without a restart of mkpd."""

import os
import signal
import time

import harness
from harness import wait_for
from test_faults import (OK, RETRY, Load, check_answered_calls_are_stored,  # noqa: F401
                         check_pool_whole, check_stopped_clean, private_pg)

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


def test_hung_primary_answers_000005_in_bound_and_recovers(make_stack, private_pg):
    s = make_stack({"pool": {"pm": "static", "max_children": 2},
                    "jobs": {"purge_interval": 0}}, pg=private_pg)
    frozen = []
    with TimedLoad(s) as load:
        load.wait_calls(6)
        frozen = cluster_pids(private_pg)
        freeze(frozen, signal.SIGSTOP)
        try:
            hung_at = time.monotonic()
            load.wait_calls(6, code=RETRY, timeout=60)
            hung_until = time.monotonic()
        finally:
            freeze(frozen, signal.SIGCONT)
        load.wait_calls(6, timeout=60)
    assert load.unexpected() == []
    during = [(round(d, 2), code) for t0, d, code in load.times
              if t0 >= hung_at and t0 + d <= hung_until]
    assert len(during) >= 6, during
    assert all(code == RETRY and d <= HUNG_CALL_MAX_S for d, code in during), during
    check_answered_calls_are_stored(s, load)
    check_pool_whole(s, 2)
    s.mkpd.wait_log(r"db: no answer from the server in 3000 ms: giving the connection up")
    s.mkpd.wait_log(r"db: connected again")
    check_stopped_clean(s)

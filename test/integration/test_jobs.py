"""The jobs child and its queue (schema/003_jobs.sql, src/jobs/runner.h):
jobs run and end done, failures are retried with a growing back-off and
end dead with the reason, `mkpctl jobs retry` queues a dead one again, a
runner killed mid-job loses nothing and doubles nothing, and two mkpd on
one database run every job once.

A job is made slow or failing the way the store would make it: a psql
session holds LOCK TABLE nonce, which the purge job's DELETE waits for.
Each test has a database of its own so no other stack claims its jobs."""

import json
import os
import re
import signal
import subprocess

import pytest

from harness import read_text, wait_for

# Short leases and back-offs, no scheduled purge: the tests queue their jobs.
JOBS = {"jobs": {"lease": 2, "backoff_base": 1, "backoff_max": 4,
                 "max_attempts": 3, "purge_interval": 0, "poll_interval": 200}}


def conf(**extra):
    c = {"jobs": dict(JOBS["jobs"])}
    for section, values in extra.items():
        c.setdefault(section, {}).update(values)
    return c


def dbname(stack):
    return re.search(r"dbname=(\S+)", stack.dsn).group(1)


def sql(stack, text):
    return stack.pg.psql(text, db=dbname(stack))


def job_row(stack, job_id):
    out = sql(stack, "SELECT state, attempts, coalesce(last_error, ''), "
                     "coalesce(locked_by, '') FROM job WHERE id = %d" % job_id)
    state, attempts, err, by = out.split("|", 3)
    return state, int(attempts), err, by


def wait_state(stack, job_id, state, timeout=20):
    return wait_for(lambda: (lambda r: r if r[0] == state else None)(job_row(stack, job_id)),
                    timeout, what="job %d %s" % (job_id, state))


def enqueue_purge(stack, n=1):
    out = sql(stack, "INSERT INTO job (kind) SELECT 'purge' FROM generate_series(1, %d) "
                     "RETURNING id" % n)
    return [int(x) for x in out.split()]


def jobs_pids(mkpd):
    return [p for p in mkpd.children()
            if read_text("/proc/%d/comm" % p).strip() == "mkpd-jobs"]


def count_effects(stack):
    """Every DELETE on nonce (the purge job's effect) that commits leaves a
    row naming the job that ran it (mkpd.job_id, set by the runner)."""
    sql(stack, """
        CREATE TABLE job_effect (job_id bigint, at timestamptz DEFAULT now());
        CREATE FUNCTION job_effect_add() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO job_effect (job_id)
                VALUES (nullif(current_setting('mkpd.job_id', true), '')::bigint);
            RETURN NULL;
        END $$;
        CREATE TRIGGER nonce_purged AFTER DELETE ON nonce
            FOR EACH STATEMENT EXECUTE FUNCTION job_effect_add();""")


def effects(stack, job_id):
    return int(sql(stack, "SELECT count(*) FROM job_effect WHERE job_id = %d" % job_id))


class TableLock:
    """A psql session holding LOCK TABLE table (nonce) until release()."""

    def __init__(self, stack, table="nonce", mode="EXCLUSIVE"):
        pg = stack.pg
        self.stack = stack
        self.proc = subprocess.Popen(
            [str(pg.bindir / "psql"), "-X", "-q", "-h", pg.host, "-p", str(pg.port),
             "-U", "postgres", "-d", dbname(stack)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            text=True)
        self.proc.stdin.write("BEGIN;\nLOCK TABLE %s IN %s MODE;\n" % (table, mode))
        self.proc.stdin.flush()
        lock_mode = "".join(w.title() for w in mode.split()) + "Lock"
        wait_for(lambda: sql(stack, "SELECT count(*) FROM pg_locks l JOIN pg_class c "
                                    "ON c.oid = l.relation WHERE c.relname = '%s' "
                                    "AND l.mode = '%s' AND l.granted"
                                    % (table, lock_mode)) == "1",
                 10, what="the lock on " + table)

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("COMMIT;\n\\q\n")
            self.proc.stdin.close()
            self.proc.wait(10)


def test_jobs_child_is_named_and_not_a_worker(make_stack):
    s = make_stack({"pool": {"pm": "static", "max_children": 2}})
    s.mkpd.wait_workers(2)
    pids = wait_for(lambda: jobs_pids(s.mkpd), what="the jobs child")
    assert len(pids) == 1
    assert len(s.mkpd.children()) == 3
    # A reload replaces it, like the workers.
    mark = s.mkpd.log_mark()
    s.mkpd.reload({"jobs.poll_interval": 500})
    wait_for(lambda: (lambda p: p if p and p != pids else None)(jobs_pids(s.mkpd)),
             what="a new jobs child after the reload")
    s.mkpd.wait_log(r"jobs: exiting: asked to stop", since=mark)
    s.mkpd.wait_workers(2)
    # A graceful stop waits for it and is clean.
    mark = s.mkpd.log_mark()
    assert s.mkpd.stop() == 0
    s.mkpd.wait_log(r"jobs child exited", since=mark)


def test_jobs_disabled_forks_no_jobs_child(make_stack):
    s = make_stack({"jobs": {"enabled": False}})
    s.mkpd.wait_workers(2)
    s.mkpd.wait_log(r"worker \d+ started")
    assert jobs_pids(s.mkpd) == []
    assert "jobs child started" not in s.mkpd.log()


def test_enqueued_job_runs_and_ends_done(make_stack):
    s = make_stack(JOBS, fresh_db=True)
    sql(s, "INSERT INTO nonce (nonce, seen_at) VALUES ('v2:old', now() - interval '1 hour'), "
           "('v2:new', now())")
    [job] = enqueue_purge(s)
    state, attempts, err, by = wait_state(s, job, "done")
    assert attempts == 1 and err == ""
    assert by.endswith(":%d" % jobs_pids(s.mkpd)[0])
    assert sql(s, "SELECT nonce FROM nonce ORDER BY 1") == "v2:new"
    s.mkpd.wait_log(r"job %d \(purge\) done \(attempt 1\)" % job)
    listed = json.loads(s.mkpd.mkpctl("jobs", "--state", "done", "--json", check=True).stdout)
    assert [j for j in listed if j["id"] == job] == [
        {"id": job, "kind": "purge", "state": "done", "attempts": 1, "max_attempts": None,
         "run_at": listed[0]["run_at"], "last_error": None, "locked_by": by}]
    table = s.mkpd.mkpctl("jobs", check=True).stdout
    assert re.search(r"^%d\s+purge\s+done\s+1 of \d+" % job, table, re.M), table
    assert sql(s, "SELECT jobs FROM jobs_by_state WHERE kind = 'purge' AND state = 'done'") == "1"


def test_purge_job_makes_usage_partitions_ahead(make_stack):
    """The purge job keeps this month's and the next two months' partitions
    of usage_event and usage_record made, and moves what the default
    partition took (no partition for its month yet) into its month's."""
    s = make_stack(JOBS, fresh_db=True)
    sql(s, "INSERT INTO instance (instance_id, order_id, order_line_id, business_id, state)"
           " VALUES ('p-1', 'CSP', 'CSP-1', 'b', 'active');"
           "INSERT INTO usage_event (event_id, instance_id, value, event_time, window_begin)"
           " VALUES ('e-now', 'p-1', 1, now(), date_trunc('hour', now()))")
    assert sql(s, "SELECT count(*) FROM usage_event_default") == "1"
    [job] = enqueue_purge(s)
    wait_state(s, job, "done")
    want = sql(s, "SELECT string_agg(t || '_' || to_char(now() AT TIME ZONE 'UTC'"
                  " + make_interval(months => k), 'YYYYMM'), ' ' ORDER BY t, k)"
                  " FROM unnest(ARRAY['usage_event', 'usage_record']) t,"
                  " generate_series(0, 2) k").split()
    have = sql(s, "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i"
                  " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent IN"
                  " ('usage_event'::regclass, 'usage_record'::regclass)"
                  " AND c.relname !~ '_default$'").split()
    assert have == want
    assert sql(s, "SELECT count(*) FROM usage_event_default") == "0"
    assert sql(s, "SELECT event_id FROM %s" % want[0]) == "e-now"


def test_purge_is_scheduled_once_for_all_hosts(make_stack):
    a = make_stack({"jobs": {"purge_interval": 60}}, fresh_db=True)
    make_stack({"jobs": {"purge_interval": 60}}, dsn=a.dsn)
    wait_for(lambda: sql(a, "SELECT count(*) FROM job WHERE kind = 'purge' "
                            "AND dedupe_key = 'purge' AND state = 'done'") != "0",
             what="a scheduled purge done")
    # Both hosts queued one at start; the dedupe key let at most one wait at a
    # time, and none is left unfinished now.
    wait_for(lambda: sql(a, "SELECT count(*) FROM job WHERE state IN ('queued', 'running')")
             == "0", what="no purge left pending")


def test_failing_job_backs_off_ends_dead_and_retry_requeues(make_stack):
    s = make_stack(conf(store={"statement_timeout": 300}), fresh_db=True)
    lock = TableLock(s)
    try:
        [job] = enqueue_purge(s)
        state, attempts, err, _ = wait_state(s, job, "dead", timeout=30)
        assert attempts == 3
        assert "statement timeout" in err, err
        s.mkpd.wait_log(r"job %d \(purge\) is dead after 3 attempts: .*statement timeout" % job)
        delays = [int(d) for d in re.findall(
            r"job %d \(purge\) failed \(attempt \d of 3\): .*; next attempt in (\d+) ms" % job,
            s.mkpd.log())]
        # backoff_base 1 s doubling, each wait drawn from [half, all] of it.
        assert len(delays) == 2, delays
        assert 500 <= delays[0] <= 1000 and 1000 <= delays[1] <= 2000, delays
        assert delays[1] >= delays[0]
        dead = json.loads(s.mkpd.mkpctl("jobs", "--state", "dead", "--json", check=True).stdout)
        assert [j["id"] for j in dead] == [job] and "statement timeout" in dead[0]["last_error"]
    finally:
        lock.release()

    # Only dead jobs are retried; others are refused, saying why.
    [other] = enqueue_purge(s)
    wait_state(s, other, "done")
    r = s.mkpd.mkpctl("jobs", "retry", str(other))
    assert r.returncode == 1 and "is done, not dead" in r.stderr, r.stderr
    r = s.mkpd.mkpctl("jobs", "retry", "999999")
    assert r.returncode == 1 and "no job 999999" in r.stderr
    r = s.mkpd.mkpctl("jobs", "retry", "x")
    assert r.returncode == 2

    r = s.mkpd.mkpctl("jobs", "retry", str(job))
    assert r.returncode == 0 and "queued again" in r.stdout, r.stderr
    state, attempts, err, _ = wait_state(s, job, "done")
    assert attempts == 1
    assert "statement timeout" in err	# the last failure stays on record


def test_a_table_locked_when_the_jobs_child_connects_fails_only_its_jobs(make_stack):
    """A connection prepares every statement of its process, and parsing a
    statement takes its tables' locks: a nonce table held locked (somebody's
    LOCK TABLE, ALTER TABLE, VACUUM FULL) when the jobs child connected kept
    it from connecting at all, so no job of any kind ran while it lasted.
    Now the statement is prepared when first used: the purge job fails with
    the reason, a job that never reads nonce runs, and once the lock is gone
    the same connection purges."""
    s = make_stack(conf(store={"statement_timeout": 300}), fresh_db=True, start=False)
    lock = TableLock(s)
    try:
        s.start()
        s.mkpd.wait_log(r"jobs: db: preparing nonce_purge: .*lock timeout.*"
                        r"it is prepared when first used")
        [push] = [int(x) for x in sql(s, "INSERT INTO job (kind) VALUES ('usage_push') "
                                         "RETURNING id").split()]
        assert wait_state(s, push, "done")[1] == 1
        [job] = enqueue_purge(s)
        state, attempts, err, _ = wait_state(s, job, "dead", timeout=30)
        assert attempts == 3 and "statement timeout" in err, err
    finally:
        lock.release()
    [again] = enqueue_purge(s)
    wait_state(s, again, "done")
    log = s.mkpd.log()
    assert len(re.findall(r"jobs: db: preparing nonce_purge: .*first used", log)) == 1, log
    assert "db: connected again" not in log


def test_killed_jobs_child_job_completes_once(make_stack):
    s = make_stack(conf(store={"statement_timeout": 30000}), fresh_db=True)
    count_effects(s)
    lock = TableLock(s)
    try:
        [job] = enqueue_purge(s)
        # The purge is mid-job: its DELETE waits for our lock.
        wait_for(lambda: sql(s, "SELECT count(*) FROM pg_stat_activity WHERE "
                                "application_name = 'mkpd-jobs' AND wait_event_type = 'Lock'")
                 == "1", what="the purge job waiting on the lock")
        [old] = jobs_pids(s.mkpd)
        mark = s.mkpd.log_mark()
        os.kill(old, signal.SIGKILL)
        s.mkpd.wait_log(r"jobs child died of signal 9", since=mark)
        wait_for(lambda: (lambda p: p if p and old not in p else None)(jobs_pids(s.mkpd)),
                 what="a new jobs child")
        # Its lease runs out while the dead runner's transaction still holds
        # the row: nobody takes the job until that transaction is gone.
        assert job_row(s, job)[0] == "running"
    finally:
        lock.release()
    state, attempts, err, _ = wait_state(s, job, "done")
    assert attempts == 2
    assert effects(s, job) == 1
    s.mkpd.wait_log(r"job %d \(purge\) done \(attempt 2\)" % job)
    s.mkpd.wait_workers(2)	# the workers never noticed


def test_two_instances_run_every_job_once(make_stack):
    a = make_stack(JOBS, fresh_db=True)
    b = make_stack(JOBS, dsn=a.dsn)
    count_effects(a)
    wait_for(lambda: jobs_pids(a.mkpd) and jobs_pids(b.mkpd), what="both jobs children")
    jobs = enqueue_purge(a, 40)
    wait_for(lambda: sql(a, "SELECT count(*) FROM job WHERE state = 'done' AND id = ANY "
                            "('{%s}')" % ",".join(map(str, jobs))) == "40",
             timeout=30, what="40 jobs done")
    rows = sql(a, "SELECT j.id, j.attempts, count(e.job_id) FROM job j LEFT JOIN job_effect e "
                  "ON e.job_id = j.id WHERE j.id = ANY ('{%s}') GROUP BY j.id, j.attempts"
               % ",".join(map(str, jobs))).split("\n")
    assert len(rows) == 40
    for row in rows:
        job_id, attempts, n = row.split("|")
        assert (attempts, n) == ("1", "1"), row
    hosts = sql(a, "SELECT count(DISTINCT locked_by) FROM job")
    assert hosts in ("1", "2")


@pytest.mark.parametrize("stats", ["analyzed", "none yet"])
def test_a_claim_reads_the_first_due_job_not_the_whole_queue(build, pg, session_dir, keys,
                                                              stats):
    """The claim takes the due job (queued and due, or running with its
    lease run out) that has waited longest, of the kinds asked for, and
    reads only that: with a backlog of thousands it read and sorted every
    due job at every claim (37 ms a claim at 30 000), so a backlog drained
    slowly. The plan's nodes, run, may see a row or two each, whether the
    job table has been analyzed or not yet (a new store's first burst of
    jobs: the planner then took the kinds' filter for one row and read the
    whole queue), in the plan of the first claims and in the generic plan
    the jobs child's later claims use."""
    from conftest import migrated_database
    dsn = migrated_database(build, pg, session_dir, keys, pg.create_database())
    db = re.search(r"dbname=(\S+)", dsn).group(1)
    if stats == "none yet":	# and autovacuum kept from giving it some meanwhile
        pg.psql("ALTER TABLE job SET (autovacuum_enabled = false)", db=db)
    claim = subprocess.run([str(build / "mkpctl"), "statements", "job_store_claim"],
                           capture_output=True, text=True, check=True).stdout.strip()
    pg.psql("INSERT INTO job (kind, payload, state, run_at)"
            " SELECT 'provision', json_build_object('n', g), 'queued',"
            "  now() - interval '1 hour' + g * interval '1 ms' FROM generate_series(1, 5000) g;"
            # Not to be taken: not due, another kind, a lease still running, done.
            "INSERT INTO job (kind, payload, state, run_at, lease_until, attempts) VALUES"
            " ('provision', '{\"n\": \"later\"}', 'queued', now() + interval '1 hour', NULL, 0),"
            " ('usage_push', '{\"n\": \"kind\"}', 'queued', now() - interval '3 hours', NULL, 0),"
            " ('provision', '{\"n\": \"held\"}', 'running', now() - interval '3 hours',"
            "  now() + interval '1 hour', 1),"
            " ('provision', '{\"n\": \"done\"}', 'done', now() - interval '3 hours', NULL, 1),"
            # Taken first: its runner is gone, and it has waited longest.
            " ('provision', '{\"n\": \"lapsed\"}', 'running', now() - interval '2 hours',"
            "  now() - interval '1 minute', 1);" +
            (" ANALYZE job" if stats == "analyzed" else ""), db=db)
    if stats == "none yet":
        assert pg.psql("SELECT reltuples FROM pg_class WHERE relname = 'job'", db=db) == "-1"
    prepare = "PREPARE c(int, text, text[]) AS %s;" % claim

    def nodes(n):
        yield n
        for c in n.get("Plans", []):
            yield from nodes(c)
    for mode in ("force_custom_plan", "force_generic_plan"):
        plan = json.loads(pg.psql(prepare + " BEGIN; SET LOCAL plan_cache_mode = %s;"
                                  " EXPLAIN (ANALYZE, FORMAT JSON)"
                                  " EXECUTE c(60, 'h', '{provision,purge}'); ROLLBACK" % mode,
                                  db=db))
        rows = [(n["Node Type"], n["Actual Rows"]) for n in nodes(plan[0]["Plan"])]
        assert max(r for _, r in rows) <= 2, (mode, rows)
    taken = pg.psql(prepare + " EXECUTE c(60, 'h', '{provision}');" * 3, db=db).splitlines()
    assert [(json.loads(x.split("|")[2])["n"], x.split("|")[3]) for x in taken] == \
        [("lapsed", "2"), (1, "1"), (2, "1")], taken
    assert pg.psql("SELECT string_agg(payload->>'n', ',' ORDER BY id) FROM job"
                   " WHERE state = 'running' AND locked_by = 'h'", db=db) == "1,2,lapsed"


def test_a_stop_takes_effect_between_the_jobs_of_a_backlog(make_stack):
    """A reload (or a stop) asks the jobs child to finish: it does after
    the job it is running, even with thousands more due. It used to see the
    request only when the queue was empty, and the master killed it,
    mid-job, after its stop time."""
    s = make_stack(JOBS, fresh_db=True)
    enqueue_purge(s, 20000)
    old = wait_for(lambda: jobs_pids(s.mkpd), what="the jobs child")
    wait_for(lambda: sql(s, "SELECT count(*) > 10 FROM job WHERE state = 'done'") == "t", 30,
             what="the backlog under way")
    mark = s.mkpd.log_mark()
    s.mkpd.reload({"jobs.poll_interval": 300})
    s.mkpd.wait_log(r"jobs: exiting: asked to stop", since=mark, timeout=10)
    assert int(sql(s, "SELECT count(*) FROM job WHERE state = 'queued'")) > 1000
    wait_for(lambda: (lambda p: p if p and p != old else None)(jobs_pids(s.mkpd)),
             what="the new jobs child")
    assert "killing it" not in s.mkpd.log()[mark:]
    # It finished its job: none is left running under the old child's name.
    wait_for(lambda: sql(s, "SELECT count(*) FROM job WHERE state = 'running' AND"
                            " locked_by LIKE '%%:%d'" % old[0]) == "0", 10,
             what="the old child's job finished")


def test_a_reload_while_the_jobs_child_starts_runs_no_job_on_the_old_config(make_stack):
    """The master asks the jobs child to stop at a reload; when that came
    while the child was still starting (connecting, or waiting on the store
    for its first query), the child saw it only at its first wait, after
    claiming and running a due job with the configuration of before the
    reload (CI: a hook killed at the old hook_timeout). Here the child is
    held in its start by a lock on a table its first query reads."""
    s = make_stack(conf(store={"statement_timeout": 30000}), fresh_db=True)
    first = wait_for(lambda: jobs_pids(s.mkpd), what="the jobs child")
    lock = TableLock(s, "package_balance", "ACCESS EXCLUSIVE")
    try:
        mark = s.mkpd.log_mark()
        s.mkpd.reload({"jobs.poll_interval": 300})
        starting = wait_for(lambda: (lambda p: p if p and p != first else None)(
            jobs_pids(s.mkpd)), what="the jobs child of the first reload")
        wait_for(lambda: sql(s, "SELECT count(*) FROM pg_stat_activity WHERE "
                                "application_name = 'mkpd-jobs' AND wait_event_type = "
                                "'Lock'") == "1", 10,
                 what="the new jobs child held in its start")
        [job] = enqueue_purge(s)
        s.mkpd.reload({"jobs.poll_interval": 250})
        s.mkpd.wait_log(r"reloaded: generation 3", since=mark)
    finally:
        lock.release()
    by = wait_state(s, job, "done")[3]
    log = s.mkpd.log()[mark:]
    assert re.search(r"\[%d\] info: jobs: exiting: asked to stop" % starting[0], log), log
    assert not by.endswith(":%d" % starting[0]), (by, log)
    assert "killing it" not in log

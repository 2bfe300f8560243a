-- 003_jobs: the job queue of the jobs child (src/jobs/runner.h).
--
-- A job is work that must happen once even though the process doing it
-- may die: it is claimed under a lease (FOR UPDATE SKIP LOCKED, so any
-- number of hosts claim side by side without waiting on each other), run,
-- and finished in the transaction that holds its effect. A runner that
-- dies leaves the job 'running' with a lease in the past; the next runner
-- to look takes it again. Failures are retried with exponential back-off
-- until max_attempts, then the job is 'dead' with the reason kept, until
-- `mkpctl jobs retry ID` queues it again.
--
-- Enqueue inside the transaction that makes the change needing the job
-- (store/job_store.h job_enqueue), so the job exists exactly when the change
-- does. The trigger below sends NOTIFY mkpd_jobs, which wakes idle
-- runners at commit; a DBA's INSERT wakes them too.
CREATE TABLE job (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}',
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts    integer CHECK (max_attempts IS NULL OR max_attempts >= 1),
                    -- NULL: the kind's limit, else [jobs] max_attempts
    run_at          timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    locked_by       text,           -- host:pid of the runner that took it last
    last_error      text,
    dedupe_key      text,           -- same (kind, key) unfinished: enqueue is a no-op
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz     -- when it became done or dead
);

-- Enqueueing the same work twice while the first is unfinished does nothing.
CREATE UNIQUE INDEX job_dedupe_unfinished ON job (kind, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
-- What the claim scans: due queued jobs, and running ones whose lease ran out.
CREATE INDEX job_queued_idx ON job (run_at) WHERE state = 'queued';
CREATE INDEX job_lease_idx ON job (lease_until) WHERE state = 'running';
-- mkpctl jobs --state S, newest first.
CREATE INDEX job_state_idx ON job (state, id);

CREATE FUNCTION mkp_job_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Identical notifications of one transaction are folded into one.
    PERFORM pg_notify('mkpd_jobs', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER job_notify AFTER INSERT OR UPDATE OF state ON job
    FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION mkp_job_notify();

-- For the DBA: jobs by kind and state, the oldest due and the last change.
CREATE VIEW jobs_by_state AS
    SELECT kind, state, count(*) AS jobs, min(run_at) AS first_run_at,
           max(updated_at) AS last_change,
           count(*) FILTER (WHERE state = 'running' AND lease_until < now()) AS lease_expired
      FROM job GROUP BY kind, state;

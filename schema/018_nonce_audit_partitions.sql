-- 018_nonce_audit_partitions: one index less per nonce claim, and
-- callback_log partitioned by month (retention drops whole months).
--
-- nonce --------------------------------------------------------------------------
--
-- A claim inserted two index entries: the primary key, which refuses the
-- replay, and seen_at, which only served the purge. The table holds no
-- more than twice time_window of calls between two purges (the jobs
-- child's, every purge_interval), so the purge reads it whole instead;
-- the claim pays one index insertion. (A ring of partitions by the signed
-- time was measured too: routing a row into a partition on every claim
-- cost the backend more than the index it saved; doc/performance.md.)

DROP INDEX nonce_seen_idx;
COMMENT ON TABLE nonce IS
    'Replay protection: one row per signed call''s nonce, shared by every host. UNLOGGED '
    '(empty after a crash; the time window still refuses stale calls). Written by the '
    'workers through mkp_nonce_claim; rows older than twice time_window are purged by '
    'the jobs child (purge job), which reads the table whole: it is small, and an index '
    'on seen_at would cost every claim an insertion.';

-- callback_log ------------------------------------------------------------------
--
-- The audit log, partitioned by the month of received_at (UTC): retention
-- drops whole months (mkp_callback_log_purge, mkpctl purge
-- --audit-older-than) instead of deleting rows one by one. The key
-- becomes (call_id, received_at): a row sent twice (the worker's journal
-- resent after a kill) carries the same time, so it is still written once.
-- The jobs child's purge job makes the next months' partitions ahead
-- (mkp_callback_log_partitions); a row outside every month (none made yet)
-- goes to callback_log_default, and is moved to its month's partition when
-- that is made.

ALTER TABLE callback_log RENAME TO callback_log_old;
ALTER INDEX callback_log_pkey RENAME TO callback_log_old_pkey;
ALTER INDEX callback_log_received_idx RENAME TO callback_log_old_received_idx;
ALTER INDEX callback_log_instance_idx RENAME TO callback_log_old_instance_idx;
ALTER INDEX callback_log_failed_idx RENAME TO callback_log_old_failed_idx;

CREATE TABLE callback_log (
    call_id         text        NOT NULL,
    received_at     timestamptz NOT NULL,
    remote_addr     text,
    dialect         text NOT NULL,
    activity        text,
    instance_id     text,
    order_id        text,
    order_line_id   text,
    result_code     text,
    http_status     integer NOT NULL,
    latency_us      bigint NOT NULL,
    is_test         boolean NOT NULL DEFAULT false,
    reason          text,
    body            text,
    PRIMARY KEY (call_id, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX callback_log_received_idx ON callback_log (received_at);
CREATE INDEX callback_log_instance_idx ON callback_log (instance_id) WHERE instance_id IS NOT NULL;
CREATE INDEX callback_log_failed_idx ON callback_log (received_at)
    WHERE result_code IS DISTINCT FROM '000000';
CREATE TABLE callback_log_default PARTITION OF callback_log DEFAULT;

-- Makes the partitions of this month and the p_months_ahead next ones that
-- do not exist yet (callback_log_YYYYMM, months of UTC), moving into each
-- the rows the default partition holds for it; returns how many it made.
CREATE FUNCTION mkp_callback_log_partitions(p_months_ahead integer DEFAULT 2)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    lo timestamptz;
    hi timestamptz;
    part text;
    made integer := 0;
BEGIN
    -- Two hosts' purges make a month once: the second waits, then finds it.
    LOCK TABLE ONLY callback_log IN SHARE UPDATE EXCLUSIVE MODE;
    FOR k IN 0..p_months_ahead LOOP
        lo := (m + make_interval(months => k)) AT TIME ZONE 'UTC';
        hi := (m + make_interval(months => k + 1)) AT TIME ZONE 'UTC';
        part := 'callback_log_' || to_char(m + make_interval(months => k), 'YYYYMM');
        CONTINUE WHEN to_regclass(part) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I (LIKE callback_log INCLUDING DEFAULTS)', part);
        EXECUTE format('WITH moved AS (DELETE FROM callback_log_default WHERE received_at >= $1 '
                       'AND received_at < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
                       part) USING lo, hi;
        EXECUTE format('ALTER TABLE callback_log ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part, lo, hi);
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;

-- Drops the months wholly before p_before and deletes the rows before it
-- left in the others (the month it falls in, the default partition);
-- returns the rows gone.
CREATE FUNCTION mkp_callback_log_purge(p_before timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n bigint;
    total bigint := 0;
BEGIN
    FOR r IN SELECT c.relname,
                    (to_timestamp(substring(c.relname FROM '^callback_log_(\d{6})$'), 'YYYYMM')
                         AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC' AS upper
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'callback_log'::regclass
                AND c.relname ~ '^callback_log_\d{6}$'
              ORDER BY c.relname LOOP
        CONTINUE WHEN r.upper > p_before;
        EXECUTE format('SELECT count(*) FROM %I', r.relname) INTO n;
        EXECUTE format('DROP TABLE %I', r.relname);
        total := total + n;
    END LOOP;
    DELETE FROM callback_log WHERE received_at < p_before;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN total + n;
END
$$;

-- The months the rows already there need, and the next ones.
DO $$
DECLARE
    m timestamp;
BEGIN
    FOR m IN SELECT DISTINCT date_trunc('month', received_at AT TIME ZONE 'UTC')
               FROM callback_log_old
              WHERE received_at < date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF callback_log FOR VALUES FROM (%L) TO (%L)',
                       'callback_log_' || to_char(m, 'YYYYMM'), m AT TIME ZONE 'UTC',
                       (m + interval '1 month') AT TIME ZONE 'UTC');
    END LOOP;
END
$$;
-- This month and the next ones: the purge job makes them (their names would
-- date the schema); until then their rows wait in callback_log_default.
INSERT INTO callback_log SELECT * FROM callback_log_old;

CREATE OR REPLACE VIEW failed_calls AS
    SELECT received_at, dialect, activity, instance_id, order_id, result_code,
           reason, remote_addr, latency_us
      FROM callback_log
     WHERE CASE WHEN coalesce(result_code, '') = '' THEN http_status >= 400
                ELSE result_code NOT IN ('000000', '000004') END;
CREATE OR REPLACE VIEW kit_recent_calls AS
    SELECT received_at, dialect, activity, instance_id, result_code, reason, is_test,
           latency_us, remote_addr
      FROM callback_log
     WHERE dialect IN ('kit-v2', 'kit-v1')
       AND received_at > now() - interval '7 days'
     ORDER BY received_at DESC;
DROP TABLE callback_log_old;

COMMENT ON TABLE callback_log IS
    'The audit log: one row per inbound call, whatever its outcome, written by the '
    'worker after answering (from its journal, in batches). Usually the largest table. '
    'Partitioned by month of received_at (callback_log_YYYYMM, UTC; callback_log_default '
    'for a month not made yet); the jobs child''s purge job makes the next months '
    '(mkp_callback_log_partitions). Kept until mkpctl purge --audit-older-than DAYS, which '
    'drops whole months (debug rows: --test-data).';
COMMENT ON COLUMN callback_log.call_id IS
    'Unique id of the call, also in mkpd''s log lines and in the *_event rows it caused.';
COMMENT ON COLUMN callback_log.received_at IS 'When the request arrived (the partition key).';
COMMENT ON COLUMN callback_log.remote_addr IS 'The client address the web server saw.';
COMMENT ON COLUMN callback_log.dialect IS 'v2, v1, kit-v2, kit-v1, or local (POST /-/usage from the seller''s application).';
COMMENT ON COLUMN callback_log.activity IS 'The interface called (newInstance, tenantSync...), NULL when unknown.';
COMMENT ON COLUMN callback_log.instance_id IS 'The instance the call named, when it named one.';
COMMENT ON COLUMN callback_log.order_id IS 'The order the call named, when it named one.';
COMMENT ON COLUMN callback_log.order_line_id IS 'The order line the call named, when it named one.';
COMMENT ON COLUMN callback_log.result_code IS
    'The resultCode answered: 000000 success, 000004 still provisioning, other codes '
    'refusals (000001 authentication, 000002 parameters...); NULL when none was sent.';
COMMENT ON COLUMN callback_log.http_status IS 'HTTP status of the answer.';
COMMENT ON COLUMN callback_log.latency_us IS 'Time from arrival to answer, in microseconds.';
COMMENT ON COLUMN callback_log.is_test IS 'A debug call (testFlag 1).';
COMMENT ON COLUMN callback_log.reason IS 'Why it was refused or failed, in words.';
COMMENT ON COLUMN callback_log.body IS
    'The request body with secrets and contact data replaced by "***" (passwords, '
    'clientSecret, tokens, mobilePhone, email...), cut at a size limit ("...(cut)").';
COMMENT ON FUNCTION mkp_callback_log_partitions(integer) IS
    'Makes the callback_log partitions of this month and the next p_months_ahead (UTC) '
    'that do not exist, moving their rows out of callback_log_default; returns how many.';
COMMENT ON FUNCTION mkp_callback_log_purge(timestamptz) IS
    'Drops the callback_log months wholly before p_before and deletes the older rows left '
    'in the others; returns the rows gone.';

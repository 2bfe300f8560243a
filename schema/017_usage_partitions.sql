-- 017_usage_partitions: usage_event and usage_record partitioned by month.
--
-- The two tables grow with every metered hour (tens of millions of rows a
-- year) and nothing ever deleted them. Partitioned by the UTC month of
-- window_begin, a month past retention goes with DETACH and DROP (no
-- DELETE, no VACUUM, no bloat), and every statement that names an hour
-- (closing it, summing it, the ingest's lookups) reads one partition.
--
-- Keys carry the partition key, as PostgreSQL requires:
--   usage_event   (event_id, window_begin): the ingest refuses a repeated
--                 id in any hour it could still be booked in (since the
--                 push horizon), as the old key on event_id did for every
--                 event it still accepts;
--   usage_record  (id, window_begin), (metering_sn, window_begin): the
--                 number is a hash of (instance, package, hour), so it is
--                 as unique as before; (instance_id, pkg_instance_id,
--                 window_begin) stays as it was.
-- Partitions are named TABLE_YYYYMM; TABLE_default takes a row whose month
-- has no partition yet, so an insert never fails. mkp_partitions_ensure()
-- (the jobs child's purge job, mkpctl purge) creates the current month's
-- and the next ones, and moves rows out of the default partition into
-- their month's. mkp_usage_drop_before() detaches and drops whole months
-- (mkpctl purge --usage-older-than DAYS), carrying the sums of the records
-- it drops into usage_carry, so queryInstance's cumulative usage does not
-- change. Rows are copied; the views on the tables are recreated as they
-- were. Grants on usage_event, usage_record and the three views must be
-- given again after this migration.

DROP VIEW usage_hourly;
DROP VIEW usage_push_history;
DROP VIEW usage_unpushed;

ALTER TABLE usage_event RENAME TO usage_event_old;
ALTER INDEX usage_event_pkey RENAME TO usage_event_old_pkey;
ALTER INDEX usage_event_window_idx RENAME TO usage_event_old_window_idx;
ALTER TABLE usage_record RENAME TO usage_record_old;
ALTER INDEX usage_record_pkey RENAME TO usage_record_old_pkey;
ALTER INDEX usage_record_instance_id_pkg_instance_id_window_begin_key
    RENAME TO usage_record_old_key;
ALTER INDEX usage_record_metering_sn_key RENAME TO usage_record_old_sn_key;
ALTER INDEX usage_record_pkg_idx RENAME TO usage_record_old_pkg_idx;
ALTER INDEX usage_record_push_idx RENAME TO usage_record_old_push_idx;
ALTER INDEX usage_record_unsent_idx RENAME TO usage_record_old_unsent_idx;
ALTER SEQUENCE usage_record_id_seq OWNED BY NONE;

CREATE TABLE usage_event (
    event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
    instance_id text NOT NULL REFERENCES instance (instance_id),
    pkg_instance_id text NOT NULL DEFAULT '' CHECK (length(pkg_instance_id) <= 64),
    value numeric(20,4) NOT NULL CHECK (value >= 0),
    event_time timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    window_begin timestamptz NOT NULL,
    shifted boolean NOT NULL DEFAULT false,
    CONSTRAINT usage_event_pkey PRIMARY KEY (event_id, window_begin)
) PARTITION BY RANGE (window_begin);
CREATE INDEX usage_event_window_idx ON usage_event (window_begin, instance_id, pkg_instance_id);
CREATE TABLE usage_event_default PARTITION OF usage_event DEFAULT;

CREATE TABLE usage_record (
    id bigint NOT NULL DEFAULT nextval('usage_record_id_seq'),
    instance_id text NOT NULL REFERENCES instance (instance_id),
    pkg_instance_id text NOT NULL DEFAULT '',
    window_begin timestamptz NOT NULL,
    window_end timestamptz NOT NULL,
    value numeric(20,4) NOT NULL CHECK (value >= 0),
    metering_sn text NOT NULL,
    state text NOT NULL DEFAULT 'open'
        CHECK (state IN ('open', 'pending', 'sending', 'delivered', 'failed', 'expired')),
    fail_reason text,
    attempts integer NOT NULL DEFAULT 0,
    last_push_id bigint,
    record_time timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    claimed_by text,
    last_error text,
    CONSTRAINT usage_record_check CHECK (window_end = window_begin + interval '1 hour'),
    CONSTRAINT usage_record_pkey PRIMARY KEY (id, window_begin),
    CONSTRAINT usage_record_instance_id_pkg_instance_id_window_begin_key
        UNIQUE (instance_id, pkg_instance_id, window_begin),
    CONSTRAINT usage_record_metering_sn_key UNIQUE (metering_sn, window_begin)
) PARTITION BY RANGE (window_begin);
ALTER SEQUENCE usage_record_id_seq OWNED BY usage_record.id;
CREATE INDEX usage_record_pkg_idx ON usage_record (pkg_instance_id) WHERE pkg_instance_id <> '';
CREATE INDEX usage_record_push_idx ON usage_record (last_push_id);
CREATE INDEX usage_record_unsent_idx ON usage_record (window_begin)
    WHERE state IN ('open', 'pending', 'sending');
CREATE TABLE usage_record_default PARTITION OF usage_record DEFAULT;

-- What dropped months of usage_record summed to, per instance and package.
CREATE TABLE usage_carry (
    instance_id text NOT NULL REFERENCES instance (instance_id),
    pkg_instance_id text NOT NULL DEFAULT '',
    value numeric NOT NULL DEFAULT 0,
    records bigint NOT NULL DEFAULT 0,
    through timestamptz NOT NULL,
    PRIMARY KEY (instance_id, pkg_instance_id)
);
CREATE INDEX usage_carry_pkg_idx ON usage_carry (pkg_instance_id) WHERE pkg_instance_id <> '';
COMMENT ON TABLE usage_carry IS
    'One row per (instance, package instance) whose usage records were dropped with their '
    'month (mkp_usage_drop_before, mkpctl purge --usage-older-than): what they summed to, '
    'so mkp_usage_cumulative (queryInstance usageInfo) still counts them.';
COMMENT ON COLUMN usage_carry.value IS 'The sum of the dropped records'' values.';
COMMENT ON COLUMN usage_carry.records IS 'How many records were dropped.';
COMMENT ON COLUMN usage_carry.through IS 'The end of the last month dropped.';

-- The month partition of p_table (usage_event or usage_record) holding
-- p_month, made if missing; rows the default partition holds for that
-- month move into it. True when it made one.
CREATE FUNCTION mkp_partition_ensure(p_table text, p_month timestamptz) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_lo     timestamp := date_trunc('month', p_month AT TIME ZONE 'UTC');
    v_hi     timestamp := date_trunc('month', p_month AT TIME ZONE 'UTC') + interval '1 month';
    v_name   text := p_table || '_' || to_char(v_lo, 'YYYYMM');
    v_def    text := p_table || '_default';
    v_bounds text := format('FROM (%L) TO (%L)', to_char(v_lo, 'YYYY-MM-DD') || ' 00:00:00+00',
                            to_char(v_hi, 'YYYY-MM-DD') || ' 00:00:00+00');
    v_n      bigint;
BEGIN
    IF p_table NOT IN ('usage_event', 'usage_record') THEN
        RAISE EXCEPTION 'mkp_partition_ensure: % is not partitioned by month', p_table;
    END IF;
    IF to_regclass(v_name) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- One maker at a time (every host's purge job runs this): the others
    -- wait for its commit, then find the partition made. The lock lets
    -- reads and writes of the table go on.
    EXECUTE format('LOCK TABLE %I IN SHARE UPDATE EXCLUSIVE MODE', p_table);
    IF to_regclass(v_name) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Whatever the default took for the month, as it stands (writers wait).
    EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', v_def);
    EXECUTE format('SELECT count(*) FROM %I WHERE window_begin >= $1 AND window_begin < $2',
                   v_def) INTO v_n USING v_lo AT TIME ZONE 'UTC', v_hi AT TIME ZONE 'UTC';
    IF v_n = 0 THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES %s', v_name, p_table,
                       v_bounds);
    ELSE
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       v_name, p_table);
        EXECUTE format('WITH m AS (DELETE FROM %I WHERE window_begin >= $1'
                       ' AND window_begin < $2 RETURNING *) INSERT INTO %I SELECT * FROM m',
                       v_def, v_name) USING v_lo AT TIME ZONE 'UTC', v_hi AT TIME ZONE 'UTC';
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES %s', p_table, v_name,
                       v_bounds);
        RAISE NOTICE 'partition %: % rows moved out of %', v_name, v_n, v_def;
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mkp_partition_ensure(text, timestamptz) IS
    'Makes the month partition (TABLE_YYYYMM) of usage_event or usage_record holding '
    'p_month if it is missing, moving the rows the default partition took for that month '
    'into it. True when it made one.';

-- The partitions of this month and the next p_ahead ones, and those of any
-- month the default partitions hold rows of. Returns how many it made.
CREATE FUNCTION mkp_partitions_ensure(p_ahead integer DEFAULT 2) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_n integer := 0;
    v_t text;
    v_m timestamptz;
BEGIN
    FOREACH v_t IN ARRAY ARRAY['usage_event', 'usage_record'] LOOP
        FOR v_m IN SELECT now() + make_interval(months => k)
                     FROM generate_series(0, greatest(p_ahead, 0)) k LOOP
            v_n := v_n + mkp_partition_ensure(v_t, v_m)::integer;
        END LOOP;
        FOR v_m IN EXECUTE format('SELECT DISTINCT date_trunc(''month'', window_begin'
                                  ' AT TIME ZONE ''UTC'') AT TIME ZONE ''UTC'' FROM %I',
                                  v_t || '_default') LOOP
            v_n := v_n + mkp_partition_ensure(v_t, v_m)::integer;
        END LOOP;
    END LOOP;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION mkp_partitions_ensure(integer) IS
    'Makes the month partitions of usage_event and usage_record for this month and the '
    'next p_ahead ones, and for every month their default partitions hold rows of (moved '
    'out). Run by the jobs child''s purge job and by mkpctl purge. Returns how many it made.';

-- Detaches and drops the months of usage_record and usage_event that end
-- before p_before (at least 21 days ago: younger ones may still be pushed,
-- and the ingest reads events back to the push horizon). A month with a
-- record not final yet (open, pending, sending) is kept, with its events.
CREATE FUNCTION mkp_usage_drop_before(p_before timestamptz)
    RETURNS TABLE(partition_name text, rows bigint, dropped boolean)
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
DECLARE
    v_m    record;
    v_rec  text;
    v_ev   text;
    v_left bigint;
    v_n    bigint;
BEGIN
    IF p_before > now() - interval '21 days' THEN
        RAISE EXCEPTION 'usage younger than 21 days is kept (it may still be pushed)'
            USING ERRCODE = '22023';
    END IF;
    PERFORM mkp_partitions_ensure(0);
    FOR v_m IN SELECT DISTINCT substring(c.relname from '_([0-9]{6})$') AS ym
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent IN ('usage_event'::regclass, 'usage_record'::regclass)
                  AND c.relname ~ '^usage_(event|record)_[0-9]{6}$'
                  AND to_timestamp(substring(c.relname from '_([0-9]{6})$'), 'YYYYMM')
                      AT TIME ZONE 'UTC' + interval '1 month' <= p_before
                ORDER BY 1 LOOP
        v_rec := 'usage_record_' || v_m.ym;
        v_ev := 'usage_event_' || v_m.ym;
        IF to_regclass(v_rec) IS NOT NULL THEN
            EXECUTE format('LOCK TABLE %I IN EXCLUSIVE MODE', v_rec);
            EXECUTE format('SELECT count(*) FILTER (WHERE state IN (''open'', ''pending'','
                           ' ''sending'')), count(*) FROM %I', v_rec) INTO v_left, v_n;
            IF v_left > 0 THEN
                partition_name := v_rec; rows := v_n; dropped := false;
                RETURN NEXT;
                CONTINUE;
            END IF;
            EXECUTE format('INSERT INTO usage_carry AS c (instance_id, pkg_instance_id, value,'
                           ' records, through)'
                           ' SELECT instance_id, pkg_instance_id, sum(value), count(*), $1'
                           '   FROM %I GROUP BY instance_id, pkg_instance_id'
                           ' ON CONFLICT (instance_id, pkg_instance_id) DO UPDATE'
                           ' SET value = c.value + EXCLUDED.value,'
                           '     records = c.records + EXCLUDED.records,'
                           '     through = greatest(c.through, EXCLUDED.through)', v_rec)
                USING to_timestamp(v_m.ym, 'YYYYMM') AT TIME ZONE 'UTC' + interval '1 month';
            EXECUTE format('ALTER TABLE usage_record DETACH PARTITION %I', v_rec);
            EXECUTE format('DROP TABLE %I', v_rec);
            partition_name := v_rec; rows := v_n; dropped := true;
            RETURN NEXT;
        END IF;
        IF to_regclass(v_ev) IS NOT NULL THEN
            EXECUTE format('SELECT count(*) FROM %I', v_ev) INTO v_n;
            EXECUTE format('ALTER TABLE usage_event DETACH PARTITION %I', v_ev);
            EXECUTE format('DROP TABLE %I', v_ev);
            partition_name := v_ev; rows := v_n; dropped := true;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION mkp_usage_drop_before(timestamptz) IS
    'Retention of metered usage (mkpctl purge --usage-older-than DAYS): detaches and drops '
    'the month partitions of usage_record and usage_event that end before p_before (at '
    'least 21 days ago), their records'' sums added to usage_carry first; a month with a '
    'record still open, pending or sending is kept. One row per partition.';

-- The rows, each into its month's partition.
DO $$
DECLARE
    v_m timestamptz;
BEGIN
    FOR v_m IN SELECT DISTINCT date_trunc('month', window_begin AT TIME ZONE 'UTC')
                               AT TIME ZONE 'UTC' FROM usage_event_old LOOP
        PERFORM mkp_partition_ensure('usage_event', v_m);
    END LOOP;
    FOR v_m IN SELECT DISTINCT date_trunc('month', window_begin AT TIME ZONE 'UTC')
                               AT TIME ZONE 'UTC' FROM usage_record_old LOOP
        PERFORM mkp_partition_ensure('usage_record', v_m);
    END LOOP;
END
$$;
INSERT INTO usage_event SELECT * FROM usage_event_old;
INSERT INTO usage_record SELECT * FROM usage_record_old;
DROP TABLE usage_event_old;
DROP TABLE usage_record_old;
ALTER TABLE usage_event
    ADD CONSTRAINT usage_event_value_max CHECK (value <= 99999999.9999) NOT VALID;

-- Comments, as 016 wrote them.
COMMENT ON TABLE usage_event IS 'One row per metered usage event the seller''s application reported (POST /-/usage or mkp_usage_ingest), unique by event_id, booked into a UTC hour. Written by mkp_usage_ingest_batch only; debug instances'' rows go with mkpctl purge --test-data.';
COMMENT ON COLUMN usage_event.pkg_instance_id IS 'The package instance drawn from; '''' for none.';
COMMENT ON COLUMN usage_event.value IS 'The amount, in the product''s metering unit; numeric, never floating point. At most 99999999.9999, the marketplace''s Double(12,4) (CHECK usage_event_value_max; the intake refuses a larger value with a reason).';
COMMENT ON COLUMN usage_event.event_time IS 'When the usage happened, as reported.';
COMMENT ON COLUMN usage_event.window_begin IS 'The UTC hour it is booked into.';
COMMENT ON COLUMN usage_event.shifted IS 'Booked into a later hour than its own, which was already closed.';
COMMENT ON TABLE usage_record IS 'One row per (instance, package instance, UTC hour) with usage: the record pushed to the marketplace. Made open by the ingest, closed by mkp_usage_close_windows, pushed by the usage_push job (or mkpctl usage push --now).';
COMMENT ON COLUMN usage_record.value IS 'The hour''s sum, in the metering unit (0 while open: usage_hourly has the running sum).';
COMMENT ON COLUMN usage_record.metering_sn IS 'The record''s number at the marketplace: a hash of its identity, so a retry re-sends the same number and is kept once.';
COMMENT ON COLUMN usage_record.state IS 'open: the hour takes events; pending: closed, to push; sending: claimed by a pusher (lease_until); delivered: accepted by the marketplace, or nothing to bill (0); failed: refused by the marketplace, not pushable, or an hourly sum too large for value (fail_reason says why; mkp_usage_retry puts it back); expired: older than 21 days, can no longer be pushed.';
COMMENT ON COLUMN usage_record.fail_reason IS 'failed or expired: why; delivered with 0: a note.';
COMMENT ON COLUMN usage_record.attempts IS 'Push attempts so far.';
COMMENT ON COLUMN usage_record.last_push_id IS 'The last attempt (usage_push.id).';
COMMENT ON COLUMN usage_record.record_time IS 'When it was closed (sent as the record''s time).';
COMMENT ON COLUMN usage_record.lease_until IS 'sending: the claim holds until then; after it any pusher takes the record again.';
COMMENT ON COLUMN usage_record.claimed_by IS 'sending: host:pid of the pusher.';
COMMENT ON COLUMN usage_record.last_error IS 'Why the last attempt did not deliver.';
COMMENT ON COLUMN usage_event.event_id IS
    'The seller''s id of the event (1 to 128 characters): a repeat is a duplicate while any hour it could be booked in is open to the ingest (the push horizon). An event cut across packages is booked as parts: the first keeps the id, the others get id#2, id#3... (part:md5(id)#N for an id longer than 120 characters).';

-- The views, as they were.
CREATE VIEW usage_hourly AS
 SELECT e.instance_id,
    e.pkg_instance_id,
    e.window_begin,
    sum(e.value) AS value,
    count(*) AS events,
    count(*) FILTER (WHERE e.shifted) AS shifted_events,
    r.state AS record_state,
    r.metering_sn
   FROM (usage_event e
     LEFT JOIN usage_record r ON (((r.instance_id = e.instance_id) AND (r.pkg_instance_id = e.pkg_instance_id) AND (r.window_begin = e.window_begin))))
  GROUP BY e.instance_id, e.pkg_instance_id, e.window_begin, r.state, r.metering_sn;

COMMENT ON VIEW usage_hourly IS 'Usage per instance, package and UTC hour as the events booked it, with its record''s state.';
CREATE VIEW usage_push_history AS
 SELECT p.id,
    p.sent_at,
    p.finished_at,
    p.pushed_by,
    p.records,
    p.outcome,
    p.http_status,
    p.result_code,
    p.error,
    p.request_id,
    ( SELECT sum(r.value) AS sum
           FROM usage_record r
          WHERE (r.id = ANY (p.record_ids))) AS value,
    p.record_ids
   FROM usage_push p;

COMMENT ON VIEW usage_push_history IS 'Every push attempt: who pushed, records, outcome, HTTP status, result code, the value carried.';
CREATE VIEW usage_unpushed AS
 SELECT usage_record.id,
    usage_record.instance_id,
    usage_record.pkg_instance_id,
    usage_record.window_begin,
    usage_record.value,
    usage_record.state,
    usage_record.attempts,
    usage_record.fail_reason,
    usage_record.last_error,
    usage_record.lease_until,
    usage_record.claimed_by,
    usage_record.updated_at,
    mkp_usage_at_risk(usage_record.state, usage_record.window_end) AS at_risk
   FROM usage_record
  WHERE (usage_record.state = ANY (ARRAY['open'::text, 'pending'::text, 'sending'::text, 'failed'::text]));

COMMENT ON VIEW usage_unpushed IS 'Records not delivered yet (open, pending, sending, failed); at_risk (mkp_usage_at_risk): failed, or not delivered an hour after its hour ended, so near the marketplace''s target (two hours after the hour ends).';

-- The ingest: a repeated id is looked for in every hour it could be
-- booked in, since the key no longer spans the whole table.
CREATE OR REPLACE FUNCTION mkp_usage_ingest_batch(p_ids text[], p_instances text[], p_pkgs text[], p_values text[], p_times timestamp with time zone[], p_horizon interval DEFAULT '20 days'::interval) RETURNS TABLE(event_id text, outcome text, reason text)
    LANGUAGE plpgsql
    AS $_$
#variable_conflict use_column
DECLARE
    -- Masks over the batch, zipped with it by unnest (never joined: the
    -- planner cannot size a join of two unnests).
    v_now   timestamptz := now();
    -- The earliest hour an event the batch may take can be booked in: an
    -- id stored since then is a duplicate (older ones were refused anyway).
    v_since timestamptz := now() - p_horizon - interval '1 hour';
    v_why   text[];         -- why each event is refused (NULL: valid)
    v_first boolean[];      -- valid, and the first of its id in the batch
    v_late  boolean[];      -- of those, the ones whose window was closed (NULL: none)
    v_cl_inst text[];       -- the windows closed already: instance,
    v_cl_pkg  text[];       -- package instance,
    v_cl_win  timestamptz[];  -- and hour
    v_state text;
    v_win   timestamptz;
    v_n     integer;
    e       record;
BEGIN
    -- Each event checked once.
    SELECT array_agg(c.why ORDER BY c.n) INTO v_why
      FROM (SELECT u.n,
                   CASE
                   WHEN u.id IS NULL OR length(u.id) NOT BETWEEN 1 AND 128 THEN
                       'id missing or longer than 128 characters'
                   WHEN u.val IS NULL OR u.val !~ '^[0-9]{1,16}(\.[0-9]{1,4})?$' THEN
                       'value must be a non-negative decimal with at most 4 decimals'
                   WHEN u.t IS NULL THEN 'time missing'
                   WHEN u.t > v_now THEN 'time is in the future'
                   WHEN u.t < v_now - p_horizon THEN 'time is older than the push horizon'
                   WHEN length(coalesce(u.pkg, '')) > 64 THEN
                       'packageInstanceId longer than 64 characters'
                   WHEN i.state IS NULL THEN 'unknown instance'
                   WHEN i.state = 'released' THEN 'instance released'
                   WHEN i.state = 'failed' THEN 'instance failed'
                   END AS why
              FROM unnest(p_ids, p_instances, p_pkgs, p_values, p_times)
                   WITH ORDINALITY AS u(id, inst, pkg, val, t, n)
              LEFT JOIN instance i ON i.instance_id = u.inst) c;
    IF v_why IS NULL THEN
        RETURN;         -- an empty batch
    END IF;
    RETURN QUERY
        SELECT u.id, 'rejected'::text, u.why
          FROM unnest(p_ids, v_why) WITH ORDINALITY AS u(id, why, n)
         WHERE u.why IS NOT NULL ORDER BY u.n;
    -- A repeated id in the batch: the first counts, the others are duplicates.
    SELECT array_agg(f.first ORDER BY f.n) INTO v_first
      FROM (SELECT u.n, u.why IS NULL AND u.n = min(u.n) FILTER (WHERE u.why IS NULL)
                                                   OVER (PARTITION BY u.id) AS first
              FROM unnest(p_ids, v_why) WITH ORDINALITY AS u(id, why, n)) f;
    RETURN QUERY
        SELECT u.id, 'duplicate'::text, NULL::text
          FROM unnest(p_ids, v_why, v_first) WITH ORDINALITY AS u(id, why, first, n)
         WHERE u.why IS NULL AND NOT u.first ORDER BY u.n;
    IF NOT (true = ANY (v_first)) THEN
        RETURN;
    END IF;
    -- The windows' records, made in one order ...
    INSERT INTO usage_record AS r (instance_id, pkg_instance_id, window_begin, window_end,
                                   value, metering_sn, state)
    SELECT w.inst, w.pkg, w.win, w.win + interval '1 hour', 0,
           mkp_usage_metering_sn(w.inst, w.pkg, w.win), 'open'
      FROM (SELECT DISTINCT u.inst, coalesce(u.pkg, '') AS pkg,
                   date_trunc('hour', u.t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS win
              FROM unnest(p_instances, p_pkgs, p_times, v_first) AS u(inst, pkg, t, first)
             WHERE u.first) w
     ORDER BY w.inst, w.pkg, w.win
    ON CONFLICT (instance_id, pkg_instance_id, window_begin) DO NOTHING;
    -- ... and share-locked in id order, as mkp_usage_close_windows locks
    -- them for update: closing waits for this batch to commit its events.
    -- Those closed already (the lock holds them so) are the late ones'.
    SELECT array_agg(x.instance_id), array_agg(x.pkg_instance_id), array_agg(x.window_begin)
      INTO v_cl_inst, v_cl_pkg, v_cl_win
      FROM (SELECT r.instance_id, r.pkg_instance_id, r.window_begin, r.state
              FROM usage_record r
             WHERE (r.instance_id, r.pkg_instance_id, r.window_begin) IN
                   (SELECT u.inst, coalesce(u.pkg, ''),
                           date_trunc('hour', u.t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                      FROM unnest(p_instances, p_pkgs, p_times, v_first)
                           AS u(inst, pkg, t, first)
                     WHERE u.first)
             ORDER BY r.id FOR SHARE) x
     WHERE x.state <> 'open';
    IF v_cl_inst IS NOT NULL THEN
        SELECT array_agg(l.late ORDER BY l.n) INTO v_late
          FROM (SELECT u.n, u.first AND c.inst IS NOT NULL AS late
                  FROM unnest(p_instances, p_pkgs, p_times, v_first) WITH ORDINALITY
                       AS u(inst, pkg, t, first, n)
                  LEFT JOIN unnest(v_cl_inst, v_cl_pkg, v_cl_win) AS c(inst, pkg, win)
                    ON c.inst = u.inst AND c.pkg = coalesce(u.pkg, '')
                   AND c.win = date_trunc('hour', u.t AT TIME ZONE 'UTC')
                               AT TIME ZONE 'UTC') l;
    END IF;
    -- Events of open windows, in one statement; an id stored before is a duplicate.
    RETURN QUERY
        WITH o AS (
            SELECT u.n, u.id, u.inst, coalesce(u.pkg, '') AS pkg, u.val, u.t,
                   date_trunc('hour', u.t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS win
              FROM unnest(p_ids, p_instances, p_pkgs, p_values, p_times, v_first, v_late)
                   WITH ORDINALITY AS u(id, inst, pkg, val, t, first, late, n)
             WHERE u.first AND NOT coalesce(u.late, false)),
        ins AS (
            INSERT INTO usage_event (event_id, instance_id, pkg_instance_id, value,
                                     event_time, window_begin, shifted)
            SELECT o.id, o.inst, o.pkg, o.val::numeric, o.t, o.win, false FROM o
             WHERE NOT EXISTS (SELECT 1 FROM usage_event x
                                WHERE x.event_id = o.id AND x.window_begin >= v_since)
            ON CONFLICT ON CONSTRAINT usage_event_pkey DO NOTHING
            RETURNING usage_event.event_id)
        SELECT o.id, 'duplicate'::text, NULL::text
          FROM o WHERE o.id NOT IN (SELECT ins.event_id FROM ins)
         ORDER BY o.n;
    -- Late events: into the first later hour of the instance still open.
    FOR e IN SELECT u.id, u.inst, coalesce(u.pkg, '') AS pkg, u.val, u.t
               FROM unnest(p_ids, p_instances, p_pkgs, p_values, p_times, v_late)
                    WITH ORDINALITY AS u(id, inst, pkg, val, t, late, n)
              WHERE coalesce(u.late, false) ORDER BY u.n LOOP
        v_win := date_trunc('hour', e.t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        LOOP
            v_win := v_win + interval '1 hour';
            INSERT INTO usage_record AS r (instance_id, pkg_instance_id, window_begin,
                                           window_end, value, metering_sn, state)
                 VALUES (e.inst, e.pkg, v_win, v_win + interval '1 hour', 0,
                         mkp_usage_metering_sn(e.inst, e.pkg, v_win), 'open')
            ON CONFLICT (instance_id, pkg_instance_id, window_begin) DO NOTHING;
            SELECT r.state INTO v_state FROM usage_record r
             WHERE r.instance_id = e.inst AND r.pkg_instance_id = e.pkg
               AND r.window_begin = v_win
               FOR SHARE;
            EXIT WHEN v_state = 'open';
        END LOOP;
        INSERT INTO usage_event (event_id, instance_id, pkg_instance_id, value,
                                 event_time, window_begin, shifted)
             SELECT e.id, e.inst, e.pkg, e.val::numeric, e.t, v_win, true
              WHERE NOT EXISTS (SELECT 1 FROM usage_event x
                                 WHERE x.event_id = e.id AND x.window_begin >= v_since)
        ON CONFLICT ON CONSTRAINT usage_event_pkey DO NOTHING;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        event_id := e.id;
        IF v_n = 0 THEN
            outcome := 'duplicate';
            reason := NULL;
        ELSE
            -- Accepted, but late: the caller logs and counts it.
            outcome := 'shifted';
            reason := 'booked into ' ||
                to_char(v_win AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
        END IF;
        RETURN NEXT;
    END LOOP;
END
$_$;

CREATE OR REPLACE FUNCTION mkp_usage_ingest_packages(p_ids text[], p_instances text[], p_pkgs text[], p_values text[], p_times timestamp with time zone[], p_horizon interval, p_thresholds numeric[]) RETURNS TABLE(event_id text, outcome text, reason text, taken text)
    LANGUAGE plpgsql
    AS $_$
#variable_conflict use_column
DECLARE
    v_now     timestamptz := now();
    n         integer := coalesce(array_length(p_ids, 1), 0);
    -- The parts given to the batch, written by index (in place, not copied).
    o_m       integer := 0;
    o_ids     text[] := '{}';
    o_inst    text[] := '{}';
    o_pkgs    text[] := '{}';
    o_vals    text[] := '{}';
    o_times   timestamptz[] := '{}';
    o_of      bigint[] := '{}';     -- the seller's event each part is of
    o_pk      integer[] := '{}';    -- the package (index into k_*) it drew, NULL none
    -- The packages of the locked balances, in drawing order, held here and
    -- written once at the end: one row version per package, not per event.
    k_id      text[];
    k_inst    text[];
    k_rest    numeric[];
    k_add     numeric[];            -- drawn by this call
    k_exp     timestamptz[];
    k_live    boolean[];            -- its instance active or frozen
    k_stop    boolean[];
    v_capped  numeric[];            -- per event: taken, when less than its value
    v_refuse  text[];               -- per event: why refused here
    v_insts   text[];
    e         record;
    r         record;
    v_left    numeric;
    v_take    numeric;
    v_k       integer;
    v_j       integer;
    v_pass    integer;
    v_pinst   text;
    v_stop    boolean;
BEGIN
    -- No package anywhere near the batch (the common case): the batch alone.
    IF NOT EXISTS (SELECT 1 FROM package_account a
                    WHERE a.instance_id IN (SELECT unnest(p_instances)))
       AND NOT EXISTS (SELECT 1 FROM package k
                        WHERE k.pkg_instance_id IN (SELECT unnest(p_pkgs))) THEN
        RETURN QUERY SELECT b.event_id, b.outcome, b.reason, NULL::text
                       FROM mkp_usage_ingest_batch(p_ids, p_instances, p_pkgs, p_values,
                                                   p_times, p_horizon) AS b;
        RETURN;
    END IF;
    v_capped := array_fill(NULL::numeric, ARRAY[n]);
    v_refuse := array_fill(NULL::text, ARRAY[n]);
    -- An event naming a known package nobody links yet links it (same buyer).
    FOR e IN SELECT DISTINCT u.inst, u.pkg
               FROM unnest(p_instances, p_pkgs) AS u(inst, pkg)
               JOIN package k ON k.pkg_instance_id = u.pkg AND k.instance_id IS NULL
               JOIN instance pi ON pi.instance_id = k.pkg_instance_id
               JOIN instance oi ON oi.instance_id = u.inst
              WHERE pi.buyer_id IS NOT NULL AND pi.buyer_id = oi.buyer_id LOOP
        PERFORM mkp_package_link(e.pkg, e.inst, 'event', p_thresholds);
    END LOOP;
    -- The balances of every instance of the batch, locked in one order;
    -- then their packages are read, after the lock, as they are now.
    SELECT array_agg(a.instance_id ORDER BY a.instance_id) INTO v_insts
      FROM (SELECT x.instance_id FROM package_account x
             WHERE x.instance_id IN (SELECT unnest(p_instances))
             ORDER BY x.instance_id FOR UPDATE) a;
    v_insts := coalesce(v_insts, '{}');
    SELECT array_agg(k.pkg_instance_id ORDER BY k.instance_id, i.expire_at NULLS LAST,
                     k.created_at, k.pkg_instance_id),
           array_agg(k.instance_id ORDER BY k.instance_id, i.expire_at NULLS LAST,
                     k.created_at, k.pkg_instance_id),
           array_agg(k.quota - k.drawn ORDER BY k.instance_id, i.expire_at NULLS LAST,
                     k.created_at, k.pkg_instance_id),
           array_agg(i.expire_at ORDER BY k.instance_id, i.expire_at NULLS LAST,
                     k.created_at, k.pkg_instance_id),
           array_agg(i.state IN ('active', 'frozen') ORDER BY k.instance_id,
                     i.expire_at NULLS LAST, k.created_at, k.pkg_instance_id),
           array_agg(k.mode = 'stop' ORDER BY k.instance_id, i.expire_at NULLS LAST,
                     k.created_at, k.pkg_instance_id)
      INTO k_id, k_inst, k_rest, k_exp, k_live, k_stop
      FROM package k JOIN instance i ON i.instance_id = k.pkg_instance_id
     WHERE k.instance_id = ANY (v_insts);
    k_id := coalesce(k_id, '{}');
    k_add := array_fill(0::numeric, ARRAY[coalesce(array_length(k_id, 1), 0)]);
    FOR e IN SELECT u.n, u.id, u.inst, u.pkg, u.val, u.t,
                    u.n = min(u.n) OVER (PARTITION BY u.id) AS first
               FROM unnest(p_ids, p_instances, p_pkgs, p_values, p_times)
                    WITH ORDINALITY AS u(id, inst, pkg, val, t, n)
              ORDER BY u.t NULLS LAST, u.n LOOP
        -- Anything the batch will refuse anyway, a repeat of an id, or an
        -- event without packages passes unchanged: it draws nothing.
        IF NOT (e.inst = ANY (v_insts) OR (coalesce(e.pkg, '') <> '' AND
                EXISTS (SELECT 1 FROM package k WHERE k.pkg_instance_id = e.pkg)))
           OR e.id IS NULL OR NOT e.first
           OR e.val IS NULL OR e.val !~ '^[0-9]{1,16}(\.[0-9]{1,4})?$'
           OR e.t IS NULL OR e.t > v_now OR e.t < v_now - p_horizon
           OR EXISTS (SELECT 1 FROM usage_event x WHERE x.event_id = e.id
                      AND x.window_begin >= v_now - p_horizon - interval '1 hour') THEN
            o_m := o_m + 1;
            o_ids[o_m] := e.id; o_inst[o_m] := e.inst; o_pkgs[o_m] := e.pkg;
            o_vals[o_m] := e.val; o_times[o_m] := e.t; o_of[o_m] := e.n; o_pk[o_m] := NULL;
            CONTINUE;
        END IF;
        IF coalesce(e.pkg, '') <> '' THEN
            SELECT k.instance_id INTO v_pinst FROM package k WHERE k.pkg_instance_id = e.pkg;
            IF v_pinst IS DISTINCT FROM e.inst THEN
                v_refuse[e.n] := 'package instance ' || e.pkg || ' is not a package of '
                                 || e.inst;
                CONTINUE;
            ELSIF NOT mkp_package_live(e.pkg, e.t) THEN
                v_refuse[e.n] := 'package instance ' || e.pkg || ' is not live';
                CONTINUE;
            END IF;
        END IF;
        v_left := e.val::numeric;
        v_k := 0;
        v_stop := NULL;
        -- Pass 1 the named package, pass 2 the others, in drawing order.
        FOR v_pass IN 1 .. 2 LOOP
            FOR v_j IN 1 .. coalesce(array_length(k_id, 1), 0) LOOP
                CONTINUE WHEN k_inst[v_j] <> e.inst;
                v_stop := coalesce(v_stop, false) OR k_stop[v_j];
                CONTINUE WHEN (v_pass = 1) = (k_id[v_j] IS DISTINCT FROM e.pkg);
                CONTINUE WHEN v_left <= 0 OR k_rest[v_j] <= 0 OR NOT k_live[v_j]
                              OR (k_exp[v_j] IS NOT NULL AND k_exp[v_j] <= e.t);
                v_take := least(v_left, k_rest[v_j]);
                k_rest[v_j] := k_rest[v_j] - v_take;
                k_add[v_j] := k_add[v_j] + v_take;
                v_k := v_k + 1;
                o_m := o_m + 1;
                o_ids[o_m] := CASE WHEN v_k = 1 THEN e.id
                                   WHEN length(e.id) <= 120 THEN e.id || '#' || v_k
                                   ELSE 'part:' || md5(e.id) || '#' || v_k END;
                o_inst[o_m] := e.inst; o_pkgs[o_m] := k_id[v_j];
                o_vals[o_m] := v_take::text; o_times[o_m] := e.t; o_of[o_m] := e.n;
                o_pk[o_m] := v_j;
                v_left := v_left - v_take;
            END LOOP;
        END LOOP;
        IF v_left > 0 THEN
            -- Past every package: overflow only when no package says stop.
            IF NOT coalesce(v_stop, true) THEN
                v_k := v_k + 1;
                o_m := o_m + 1;
                o_ids[o_m] := CASE WHEN v_k = 1 THEN e.id
                                   WHEN length(e.id) <= 120 THEN e.id || '#' || v_k
                                   ELSE 'part:' || md5(e.id) || '#' || v_k END;
                o_inst[o_m] := e.inst; o_pkgs[o_m] := '';
                o_vals[o_m] := v_left::text; o_times[o_m] := e.t; o_of[o_m] := e.n;
                o_pk[o_m] := NULL;
            ELSIF v_k = 0 THEN
                v_refuse[e.n] := 'package used up';
            ELSE
                v_capped[e.n] := e.val::numeric - v_left;
            END IF;
        END IF;
    END LOOP;
    -- The batch decides the rest; a part it did not take gives its quota
    -- back. Its rows are matched to the parts by a hash join, not a scan
    -- per row (a resent batch answers every event "duplicate"); a repeat
    -- of an id in the call (copies > 1) is the batch's duplicate, not a
    -- part's.
    FOR r IN SELECT b.event_id, b.outcome, b.reason, m.of, m.pk, m.val,
                    m.id = p_ids[m.of] AS first, m.copies
               FROM mkp_usage_ingest_batch(o_ids, o_inst, o_pkgs, o_vals, o_times, p_horizon)
                    AS b
               LEFT JOIN (SELECT DISTINCT ON (u.id) u.id, u.of, u.pk, u.val,
                                 count(*) OVER (PARTITION BY u.id) AS copies
                            FROM unnest(o_ids, o_of, o_pk, o_vals) AS u(id, of, pk, val)
                           ORDER BY u.id, u.of) m ON m.id = b.event_id LOOP
        IF r.outcome IN ('rejected', 'duplicate') AND r.pk IS NOT NULL AND r.copies = 1 THEN
            k_add[r.pk] := k_add[r.pk] - r.val::numeric;
            IF r.first THEN
                v_capped[r.of] := NULL;
            END IF;
        END IF;
        IF r.first IS NOT FALSE THEN
            event_id := r.event_id; outcome := r.outcome; reason := r.reason; taken := NULL;
            RETURN NEXT;
        END IF;
    END LOOP;
    -- What was drawn, once per package (CHECK (drawn <= quota) backs the lock).
    UPDATE package k SET drawn = k.drawn + d.add, updated_at = now()
      FROM unnest(k_id, k_add) AS d(id, add)
     WHERE k.pkg_instance_id = d.id AND d.add <> 0;
    FOR v_k IN 1 .. n LOOP
        IF v_refuse[v_k] IS NOT NULL THEN
            event_id := p_ids[v_k]; outcome := 'rejected'; reason := v_refuse[v_k];
            taken := NULL;
            RETURN NEXT;
        ELSIF v_capped[v_k] IS NOT NULL THEN
            event_id := p_ids[v_k]; outcome := 'capped';
            reason := 'package used up: ' || v_capped[v_k]::text || ' of ' ||
                      p_values[v_k] || ' taken';
            taken := v_capped[v_k]::text;
            RETURN NEXT;
        END IF;
    END LOOP;
    FOR v_k IN 1 .. coalesce(array_length(v_insts, 1), 0) LOOP
        PERFORM mkp_package_account_check(v_insts[v_k], p_thresholds);
        event_id := v_insts[v_k]; outcome := 'quota';
        SELECT coalesce(sum(k.quota - k.drawn) FILTER
                        (WHERE mkp_package_live(k.pkg_instance_id, v_now)), 0)::text,
               CASE WHEN coalesce(bool_or(k.mode = 'stop'), true) THEN 'stop'
                    ELSE 'overflow' END
          INTO taken, reason
          FROM package k WHERE k.instance_id = v_insts[v_k];
        RETURN NEXT;
    END LOOP;
END
$_$;

-- queryInstance usageInfo also counts the months dropped.
CREATE OR REPLACE FUNCTION mkp_usage_cumulative(p_instance text, p_package boolean) RETURNS numeric
    LANGUAGE sql STABLE
    AS $$
    SELECT (SELECT coalesce(sum(CASE WHEN r.state = 'open' THEN
                        coalesce((SELECT sum(e.value) FROM usage_event e
                                   WHERE e.window_begin = r.window_begin
                                     AND e.instance_id = r.instance_id
                                     AND e.pkg_instance_id = r.pkg_instance_id), 0)
                        ELSE r.value END), 0)
              FROM usage_record r
             WHERE (NOT p_package AND r.instance_id = p_instance)
                OR (p_package AND r.pkg_instance_id = p_instance))
         + (SELECT coalesce(sum(c.value), 0) FROM usage_carry c
             WHERE (NOT p_package AND c.instance_id = p_instance)
                OR (p_package AND c.pkg_instance_id = p_instance))
$$;

-- Closing the hours and claiming records join usage_record by id: with the
-- hour too, each reads the partitions of its hours only.
CREATE OR REPLACE FUNCTION mkp_usage_close_windows() RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_n integer;
BEGIN
    -- Wait for ingests still booking into these windows (FOR SHARE) ...
    PERFORM 1 FROM usage_record
      WHERE state = 'open' AND window_end <= now()
      ORDER BY id FOR UPDATE;
    -- ... then sum in a new statement, whose snapshot sees their events.
    -- The sum is numeric without a bound: a record it does not fit fails
    -- alone, with the sum as its reason.
    UPDATE usage_record r
       SET value = CASE WHEN s.total > 9999999999999999.9999 THEN 0 ELSE s.total END,
           state = CASE WHEN s.total > 9999999999999999.9999 THEN 'failed'
                        WHEN s.total > 0 THEN 'pending' ELSE 'delivered' END,
           fail_reason = CASE WHEN s.total > 9999999999999999.9999 THEN
                                  'hourly sum ' || s.total::text ||
                                  ' exceeds what a record holds (numeric(20,4))'
                              WHEN s.total > 0 THEN NULL
                              ELSE 'zero usage: nothing to push' END,
           record_time = now(), updated_at = now()
      FROM (SELECT r2.id, r2.window_begin, coalesce((SELECT sum(e.value) FROM usage_event e
                                     WHERE e.instance_id = r2.instance_id
                                       AND e.pkg_instance_id = r2.pkg_instance_id
                                       AND e.window_begin = r2.window_begin), 0) AS total
              FROM usage_record r2
             WHERE r2.state = 'open' AND r2.window_end <= now()) AS s
     WHERE r.id = s.id AND r.window_begin = s.window_begin;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    UPDATE usage_record SET state = 'expired', updated_at = now(), lease_until = NULL,
           fail_reason = 'begin_time older than 21 days'
     WHERE (state = 'pending' OR (state = 'sending' AND lease_until < now()))
       AND window_begin < now() - interval '21 days';
    RETURN v_n;
END
$$;

CREATE OR REPLACE FUNCTION mkp_usage_claim(p_limit integer, p_lease interval, p_by text, p_request_id text) RETURNS TABLE(push_id bigint, id bigint, instance_id text, pkg_instance_id text, window_begin timestamp with time zone, window_end timestamp with time zone, record_time timestamp with time zone, value numeric, metering_sn text, attempts integer)
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
DECLARE
    v_ids  bigint[];
    v_push bigint;
    v_lo   timestamptz;
    v_hi   timestamptz;
BEGIN
    SELECT array_agg(c.id ORDER BY c.window_begin, c.id), min(c.window_begin),
           max(c.window_begin) INTO v_ids, v_lo, v_hi
      FROM (SELECT r.id, r.window_begin FROM usage_record r
             WHERE r.state = 'pending' OR (r.state = 'sending' AND r.lease_until < now())
             ORDER BY r.window_begin, r.id
             LIMIT p_limit FOR UPDATE SKIP LOCKED) c;
    IF v_ids IS NULL THEN
        RETURN;
    END IF;
    -- The attempts whose pusher stopped before the answer end here.
    UPDATE usage_push p
       SET outcome = 'retry', finished_at = now(),
           error = 'no answer recorded: the pusher stopped, its claim ran out'
     WHERE p.outcome = 'sending'
       AND p.id IN (SELECT r.last_push_id FROM usage_record r
                     WHERE r.id = ANY (v_ids) AND r.state = 'sending'
                       AND r.window_begin BETWEEN v_lo AND v_hi);
    INSERT INTO usage_push (records, record_ids, request_id, pushed_by, outcome)
         VALUES (cardinality(v_ids), v_ids, p_request_id, p_by, 'sending')
      RETURNING usage_push.id INTO v_push;
    RETURN QUERY
        WITH u AS (
            UPDATE usage_record r
               SET state = 'sending', lease_until = now() + p_lease, claimed_by = p_by,
                   attempts = r.attempts + 1, last_push_id = v_push, updated_at = now()
             WHERE r.id = ANY (v_ids) AND r.window_begin BETWEEN v_lo AND v_hi
            RETURNING r.id, r.instance_id, r.pkg_instance_id, r.window_begin, r.window_end,
                      r.record_time, r.value, r.metering_sn, r.attempts)
        SELECT v_push, u.id, u.instance_id, u.pkg_instance_id, u.window_begin, u.window_end,
               u.record_time, u.value::numeric, u.metering_sn, u.attempts
          FROM u ORDER BY u.window_begin, u.id;
END
$$;

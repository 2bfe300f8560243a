-- 010_usage_sending: the push claims records visibly, and every attempt
-- is history (spec/README.md reading 9; issue 5 §3).
--
-- A record goes pending -> sending -> delivered | failed (reason) |
-- expired. 'sending' is a committed claim with a lease: the pusher
-- commits it before the HTTP call, so another host (SKIP LOCKED, then the
-- state) leaves the records alone while the call is under way, and a
-- pusher that dies mid-call leaves them 'sending' until the lease runs
-- out; then any pusher takes them again and re-sends them unchanged (same
-- metering_sn, begin and end), which the marketplace keeps once. The lease
-- is longer than the HTTP call can last, so a live pusher never loses it.
--
-- usage_push gets one row per attempt, written with the claim (outcome
-- 'sending') and settled with the answer: delivered, retry (transport
-- error, 5xx, 429, MKT.0999: the records are pending again), failed (the
-- marketplace refused them: the records are failed with the reason).

ALTER TABLE usage_record
    ADD COLUMN lease_until timestamptz,     -- sending: the claim holds until then
    ADD COLUMN claimed_by  text,            -- sending: host:pid of the pusher
    ADD COLUMN last_error  text;            -- why the last attempt did not deliver

ALTER TABLE usage_push
    ADD COLUMN record_ids  bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN pushed_by   text,
    ADD COLUMN outcome     text NOT NULL DEFAULT 'sending'
                           CHECK (outcome IN ('sending', 'delivered', 'retry', 'failed')),
    ADD COLUMN error       text,
    ADD COLUMN finished_at timestamptz;
-- Rows of the earlier push were written once answered.
UPDATE usage_push SET outcome = CASE WHEN result_code = 'MKT.0000' THEN 'delivered'
                                     ELSE 'failed' END,
                      finished_at = sent_at;

CREATE INDEX usage_record_push_idx ON usage_record (last_push_id);

-- Claims up to p_limit records to push: pending ones, and sending ones
-- whose claim ran out (their pusher died), oldest hour first, skipping
-- rows another transaction holds. They become sending under one new
-- usage_push row (the attempt), whose id every returned row carries.
-- Nothing is returned, and no attempt is written, when nothing is due.
CREATE FUNCTION mkp_usage_claim(p_limit integer, p_lease interval, p_by text,
                                p_request_id text)
RETURNS TABLE (push_id bigint, id bigint, instance_id text, pkg_instance_id text,
               window_begin timestamptz, window_end timestamptz, record_time timestamptz,
               value numeric, metering_sn text, attempts integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_ids  bigint[];
    v_push bigint;
BEGIN
    SELECT array_agg(c.id ORDER BY c.window_begin, c.id) INTO v_ids
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
                     WHERE r.id = ANY (v_ids) AND r.state = 'sending');
    INSERT INTO usage_push (records, record_ids, request_id, pushed_by, outcome)
         VALUES (cardinality(v_ids), v_ids, p_request_id, p_by, 'sending')
      RETURNING usage_push.id INTO v_push;
    RETURN QUERY
        WITH u AS (
            UPDATE usage_record r
               SET state = 'sending', lease_until = now() + p_lease, claimed_by = p_by,
                   attempts = r.attempts + 1, last_push_id = v_push, updated_at = now()
             WHERE r.id = ANY (v_ids)
            RETURNING r.id, r.instance_id, r.pkg_instance_id, r.window_begin, r.window_end,
                      r.record_time, r.value, r.metering_sn, r.attempts)
        SELECT v_push, u.id, u.instance_id, u.pkg_instance_id, u.window_begin, u.window_end,
               u.record_time, u.value::numeric, u.metering_sn, u.attempts
          FROM u ORDER BY u.window_begin, u.id;
END
$$;

-- Settles attempt p_push with the answer: p_outcome 'delivered', 'retry'
-- (records pending again) or 'failed' (records failed with p_reason).
-- Only records still sending under this attempt change: one whose lease
-- ran out and that another pusher took since belongs to that pusher.
-- Returns the number of records settled.
CREATE FUNCTION mkp_usage_settle(p_push bigint, p_outcome text, p_reason text,
                                 p_http integer, p_code text, p_excerpt text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    IF p_outcome NOT IN ('delivered', 'retry', 'failed') THEN
        RAISE EXCEPTION 'mkp_usage_settle: outcome %', p_outcome;
    END IF;
    UPDATE usage_record
       SET state = CASE p_outcome WHEN 'retry' THEN 'pending' ELSE p_outcome END,
           fail_reason = CASE WHEN p_outcome = 'failed' THEN p_reason END,
           last_error = CASE WHEN p_outcome = 'delivered' THEN NULL ELSE p_reason END,
           lease_until = NULL, claimed_by = NULL, updated_at = now()
     WHERE last_push_id = p_push AND state = 'sending';
    GET DIAGNOSTICS v_n = ROW_COUNT;
    UPDATE usage_push
       SET outcome = p_outcome, http_status = p_http, result_code = p_code,
           body_excerpt = p_excerpt, error = p_reason, finished_at = now()
     WHERE id = p_push;
    RETURN v_n;
END
$$;

-- As in 009, and a record left sending by a dead pusher expires too.
CREATE OR REPLACE FUNCTION mkp_usage_close_windows() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    -- Wait for ingests still booking into these windows (FOR SHARE) ...
    PERFORM 1 FROM usage_record
      WHERE state = 'open' AND window_end <= now()
      ORDER BY id FOR UPDATE;
    -- ... then sum in a new statement, whose snapshot sees their events.
    UPDATE usage_record r
       SET value = s.total,
           state = CASE WHEN s.total > 0 THEN 'pending' ELSE 'delivered' END,
           fail_reason = CASE WHEN s.total > 0 THEN NULL ELSE 'zero usage: nothing to push' END,
           record_time = now(), updated_at = now()
      FROM (SELECT r2.id, coalesce((SELECT sum(e.value) FROM usage_event e
                                     WHERE e.instance_id = r2.instance_id
                                       AND e.pkg_instance_id = r2.pkg_instance_id
                                       AND e.window_begin = r2.window_begin), 0) AS total
              FROM usage_record r2
             WHERE r2.state = 'open' AND r2.window_end <= now()) AS s
     WHERE r.id = s.id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    UPDATE usage_record SET state = 'expired', updated_at = now(), lease_until = NULL,
           fail_reason = 'begin_time older than 21 days'
     WHERE (state = 'pending' OR (state = 'sending' AND lease_until < now()))
       AND window_begin < now() - interval '21 days';
    RETURN v_n;
END
$$;

-- Puts failed records back to pending (a person decided to try again):
-- p_id one record, NULL every failed one. Records past the 21 days
-- expire instead. Returns the number made pending.
CREATE FUNCTION mkp_usage_retry(p_id bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    UPDATE usage_record SET state = 'expired', fail_reason = 'begin_time older than 21 days',
           updated_at = now()
     WHERE state = 'failed' AND (p_id IS NULL OR id = p_id)
       AND window_begin < now() - interval '21 days';
    UPDATE usage_record SET state = 'pending', last_error = fail_reason, fail_reason = NULL,
           updated_at = now()
     WHERE state = 'failed' AND (p_id IS NULL OR id = p_id);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;

-- For the DBA: what has not reached the marketplace yet: open windows,
-- closed records waiting or being sent, and those that failed; at_risk
-- when more than an hour has passed since the window closed (the 2-hour
-- reporting target is near).
DROP VIEW usage_unpushed;
CREATE VIEW usage_unpushed AS
    SELECT id, instance_id, pkg_instance_id, window_begin, value, state, attempts,
           fail_reason, last_error, lease_until, claimed_by, updated_at,
           state IN ('pending', 'sending') AND now() > window_end + interval '1 hour'
               AS at_risk
      FROM usage_record
     WHERE state IN ('open', 'pending', 'sending', 'failed');

-- For the DBA: every push attempt, newest first, with what it carried.
CREATE VIEW usage_push_history AS
    SELECT p.id, p.sent_at, p.finished_at, p.pushed_by, p.records, p.outcome,
           p.http_status, p.result_code, p.error, p.request_id,
           (SELECT sum(r.value) FROM usage_record r WHERE r.id = ANY (p.record_ids)) AS value,
           p.record_ids
      FROM usage_push p;

-- queryInstance's usageInfo (spec/outbound.md §1.10): the cumulative usage
-- of an on-demand instance, or the amount drawn from a package instance,
-- summed over its hourly records (an open hour by its events), so the
-- cost grows with the hours, not with the events.
CREATE INDEX usage_record_pkg_idx ON usage_record (pkg_instance_id)
    WHERE pkg_instance_id <> '';

CREATE FUNCTION mkp_usage_cumulative(p_instance text, p_package boolean)
RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(CASE WHEN r.state = 'open' THEN
                        coalesce((SELECT sum(e.value) FROM usage_event e
                                   WHERE e.window_begin = r.window_begin
                                     AND e.instance_id = r.instance_id
                                     AND e.pkg_instance_id = r.pkg_instance_id), 0)
                        ELSE r.value END), 0)
      FROM usage_record r
     WHERE (NOT p_package AND r.instance_id = p_instance)
        OR (p_package AND r.pkg_instance_id = p_instance)
$$;

-- Ingest, set-based (the contract of 009's version, faster by an order of
-- magnitude): the batch is validated in one statement, the windows' records
-- made and share-locked in a few more (in one order, so concurrent batches
-- and mkp_usage_close_windows never deadlock), and the events of open
-- windows inserted in one statement. Only events whose window was closed
-- already go one by one, to the next open hour of their instance.
CREATE OR REPLACE FUNCTION mkp_usage_ingest_batch(p_ids text[], p_instances text[],
                                                  p_pkgs text[], p_values text[],
                                                  p_times timestamptz[],
                                                  p_horizon interval DEFAULT interval '20 days')
RETURNS TABLE (event_id text, outcome text, reason text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    -- Masks over the batch, zipped with it by unnest (never joined: the
    -- planner cannot size a join of two unnests).
    v_now   timestamptz := now();
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
             VALUES (e.id, e.inst, e.pkg, e.val::numeric, e.t, v_win, true)
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
$$;

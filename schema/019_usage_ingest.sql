-- 019_usage_ingest: the ingest of a batch, with the work of a raw COPY and
-- little more (issue 19: ingest >= 0.8 of COPY; it was 0.44 after 017).
--
-- Measured with callgrind on the backend, per event of a call of 10 000
-- (usage_event holding the 200 000 rows the bench copies first): 202 700
-- instructions before, 116 400 after, a raw COPY 88 300. What went:
--   * the duplicate check of 017 was planned as a hash anti join over every
--     event of the push horizon, hashed again on every call (51 000 an event
--     at 200 000 rows, growing with the table). It is now one look-up of the
--     batch's ids in the key (mkp_usage_seen), answering only whether any is
--     stored; when none is (the common case) the events go in by a plain
--     INSERT, without ON CONFLICT, RETURNING or a second look-up;
--   * when one is stored, or a concurrent call stores one of the ids in the
--     same hour first (the plain INSERT's unique_violation, caught), the
--     events go in as before: each id looked up (one index probe per event,
--     no longer a hash of the horizon), ON CONFLICT DO NOTHING, and those
--     not inserted answered "duplicate";
--   * the value's regular expression with bounded repeats cost 11 500 an
--     event; a plain one and two length tests say the same;
--   * the hour of each event is computed once (date_bin, the same UTC hour as
--     date_trunc of the time at UTC), not in four statements;
--   * the repeats of an id in the batch are looked for with a sort of the ids
--     in the checking statement; the window that marks the first of each id
--     runs only when there are repeats; statements with nothing to do (no
--     refused event, no repeat, no closed hour) do not run.
-- The contract is 017's: the same outcomes, reasons and order of rows.

-- Whether any of p_ids is stored in an hour from p_since to p_until: one
-- descent of the key per id and partition (the ids as an array, so the
-- planner sees no table of them to hash; no sequential scan of a month).
CREATE FUNCTION mkp_usage_seen(p_ids text[], p_since timestamptz, p_until timestamptz)
RETURNS boolean LANGUAGE sql STABLE SET enable_seqscan = off AS $$
    SELECT EXISTS (SELECT 1 FROM usage_event x
                    WHERE x.event_id = ANY (p_ids)
                      AND x.window_begin >= p_since AND x.window_begin <= p_until)
$$;
COMMENT ON FUNCTION mkp_usage_seen(text[], timestamptz, timestamptz) IS
    'Whether any of the ids is stored in usage_event in an hour from p_since to p_until '
    '(mkp_usage_ingest_batch''s duplicate check, by the key, never a scan of a month).';

CREATE OR REPLACE FUNCTION mkp_usage_ingest_batch(p_ids text[], p_instances text[],
                                                  p_pkgs text[], p_values text[],
                                                  p_times timestamptz[],
                                                  p_horizon interval DEFAULT interval '20 days')
RETURNS TABLE (event_id text, outcome text, reason text)
LANGUAGE plpgsql AS $_$
#variable_conflict use_column
DECLARE
    -- Masks over the batch, zipped with it by unnest (never joined: the
    -- planner cannot size a join of two unnests).
    v_now    timestamptz := now();
    v_oldest timestamptz := now() - p_horizon;  -- the oldest time taken
    -- An id stored in an hour from v_since (the earliest an event the batch
    -- may take can be booked in) is a duplicate. No hour after v_until is
    -- booked yet (an event goes at the latest into the hour under way);
    -- if one is, the look-up goes to the end of time.
    v_since  timestamptz := now() - p_horizon - interval '1 hour';
    v_until  timestamptz := now() + interval '1 day';
    v_why    text[];        -- why each event is refused (NULL: valid)
    v_win    timestamptz[]; -- the hour each event goes to (NULL: refused, or a repeat)
    v_bad    bigint;        -- events refused
    v_valid  bigint;        -- events valid
    v_ids    bigint;        -- distinct ids among them
    v_seen   boolean;       -- an id of the batch is stored already
    v_late   boolean[];     -- the events whose hour was closed (NULL: none)
    v_cl_inst text[];
    v_cl_pkg  text[];
    v_cl_win  timestamptz[];
    v_state text;
    v_w     timestamptz;
    v_n     integer;
    e       record;
BEGIN
    -- Each event checked once, the hour of each valid one computed once
    -- (OFFSET 0: the check is evaluated once a row, not once a reference).
    SELECT array_agg(c.why ORDER BY c.n), array_agg(c.win ORDER BY c.n),
           count(c.why), count(c.win), count(DISTINCT c.id) FILTER (WHERE c.why IS NULL)
      INTO v_why, v_win, v_bad, v_valid, v_ids
      FROM (SELECT v.n, v.id, v.why,
                   CASE WHEN v.why IS NULL
                   THEN date_bin('1 hour', v.t, timestamptz '2000-01-01 00:00:00+00') END AS win
              FROM (SELECT u.n, u.id, u.t,
                   CASE
                   WHEN u.id IS NULL OR length(u.id) NOT BETWEEN 1 AND 128 THEN
                       'id missing or longer than 128 characters'
                   WHEN u.val IS NULL OR u.val !~ '^[0-9]+(\.[0-9]+)?$'
                        OR (octet_length(u.val) > 5
                            AND (strpos(u.val, '.') BETWEEN 1 AND octet_length(u.val) - 5
                                 OR (octet_length(u.val) > 16
                                     AND strpos(u.val, '.') NOT BETWEEN 1 AND 17))) THEN
                       'value must be a non-negative decimal with at most 4 decimals'
                   WHEN u.t IS NULL THEN 'time missing'
                   WHEN u.t > v_now THEN 'time is in the future'
                   WHEN u.t < v_oldest THEN 'time is older than the push horizon'
                   WHEN length(coalesce(u.pkg, '')) > 64 THEN
                       'packageInstanceId longer than 64 characters'
                   WHEN i.state IS NULL THEN 'unknown instance'
                   WHEN i.state = 'released' THEN 'instance released'
                   WHEN i.state = 'failed' THEN 'instance failed'
                   END AS why
              FROM unnest(p_ids, p_instances, p_pkgs, p_values, p_times)
                   WITH ORDINALITY AS u(id, inst, pkg, val, t, n)
              LEFT JOIN instance i ON i.instance_id = u.inst
              OFFSET 0) v) c;
    IF v_why IS NULL THEN
        RETURN;
    END IF;
    IF v_bad > 0 THEN
        RETURN QUERY
            SELECT u.id, 'rejected'::text, u.why
              FROM unnest(p_ids, v_why) WITH ORDINALITY AS u(id, why, n)
             WHERE u.why IS NOT NULL ORDER BY u.n;
    END IF;
    -- A repeated id in the batch: the first counts, the others are duplicates.
    IF v_ids < v_valid THEN
        SELECT array_agg(CASE WHEN f.n = f.first THEN f.win END ORDER BY f.n) INTO v_win
          FROM (SELECT u.n, u.win, min(u.n) FILTER (WHERE u.why IS NULL)
                                   OVER (PARTITION BY u.id) AS first
                  FROM unnest(p_ids, v_why, v_win) WITH ORDINALITY AS u(id, why, win, n)) f;
        RETURN QUERY
            SELECT u.id, 'duplicate'::text, NULL::text
              FROM unnest(p_ids, v_why, v_win) WITH ORDINALITY AS u(id, why, win, n)
             WHERE u.why IS NULL AND u.win IS NULL ORDER BY u.n;
    END IF;
    IF v_valid = 0 THEN
        RETURN;
    END IF;
    -- The windows' records, made in one order ...
    INSERT INTO usage_record AS r (instance_id, pkg_instance_id, window_begin, window_end,
                                   value, metering_sn, state)
    SELECT w.inst, w.pkg, w.win, w.win + interval '1 hour', 0,
           mkp_usage_metering_sn(w.inst, w.pkg, w.win), 'open'
      FROM (SELECT DISTINCT u.inst, coalesce(u.pkg, '') AS pkg, u.win
              FROM unnest(p_instances, p_pkgs, v_win) AS u(inst, pkg, win)
             WHERE u.win IS NOT NULL) w
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
                   (SELECT u.inst, coalesce(u.pkg, ''), u.win
                      FROM unnest(p_instances, p_pkgs, v_win) AS u(inst, pkg, win)
                     WHERE u.win IS NOT NULL)
             ORDER BY r.id FOR SHARE) x
     WHERE x.state <> 'open';
    IF v_cl_inst IS NOT NULL THEN
        SELECT array_agg(l.late ORDER BY l.n) INTO v_late
          FROM (SELECT u.n, c.inst IS NOT NULL AS late
                  FROM unnest(p_instances, p_pkgs, v_win) WITH ORDINALITY
                       AS u(inst, pkg, win, n)
                  LEFT JOIN unnest(v_cl_inst, v_cl_pkg, v_cl_win) AS c(inst, pkg, win)
                    ON c.inst = u.inst AND c.pkg = coalesce(u.pkg, '') AND c.win = u.win) l;
    END IF;
    -- Events of open windows. No id stored yet (the common case): one
    -- INSERT. A concurrent call storing one of the ids in the same hour
    -- first makes it fail on the key, and the careful form runs instead.
    IF EXISTS (SELECT 1 FROM usage_event x WHERE x.window_begin > v_until) THEN
        v_until := 'infinity';
    END IF;
    v_seen := mkp_usage_seen(p_ids, v_since, v_until);
    IF NOT v_seen THEN
        BEGIN
            INSERT INTO usage_event (event_id, instance_id, pkg_instance_id, value,
                                     event_time, window_begin, shifted)
            SELECT u.id, u.inst, coalesce(u.pkg, ''), u.val::numeric, u.t, u.win, false
              FROM unnest(p_ids, p_instances, p_pkgs, p_values, p_times, v_win, v_late)
                   AS u(id, inst, pkg, val, t, win, late)
             WHERE u.win IS NOT NULL AND NOT coalesce(u.late, false);
        EXCEPTION WHEN unique_violation THEN
            v_seen := true;
        END;
    END IF;
    -- An id stored before (or just now): each looked up, one probe of the
    -- key an event, and those not inserted answered as duplicates.
    IF v_seen THEN
        RETURN QUERY
            WITH o AS (
                SELECT u.n, u.id, u.inst, coalesce(u.pkg, '') AS pkg, u.val, u.t, u.win
                  FROM unnest(p_ids, p_instances, p_pkgs, p_values, p_times, v_win, v_late)
                       WITH ORDINALITY AS u(id, inst, pkg, val, t, win, late, n)
                 WHERE u.win IS NOT NULL AND NOT coalesce(u.late, false)),
            ins AS (
                INSERT INTO usage_event (event_id, instance_id, pkg_instance_id, value,
                                         event_time, window_begin, shifted)
                SELECT o.id, o.inst, o.pkg, o.val::numeric, o.t, o.win, false
                  FROM o LEFT JOIN LATERAL (
                       SELECT 1 AS hit FROM usage_event x
                        WHERE x.event_id = o.id AND x.window_begin >= v_since
                          AND x.window_begin <= v_until LIMIT 1) d ON true
                 WHERE d.hit IS NULL
                ON CONFLICT ON CONSTRAINT usage_event_pkey DO NOTHING
                RETURNING usage_event.event_id)
            SELECT o.id, 'duplicate'::text, NULL::text
              FROM o WHERE o.id NOT IN (SELECT ins.event_id FROM ins)
             ORDER BY o.n;
    END IF;
    -- Late events: into the first later hour of the instance still open.
    IF v_late IS NULL THEN
        RETURN;
    END IF;
    FOR e IN SELECT u.id, u.inst, coalesce(u.pkg, '') AS pkg, u.val, u.t, u.win
               FROM unnest(p_ids, p_instances, p_pkgs, p_values, p_times, v_win, v_late)
                    WITH ORDINALITY AS u(id, inst, pkg, val, t, win, late, n)
              WHERE coalesce(u.late, false) ORDER BY u.n LOOP
        v_w := e.win;
        LOOP
            v_w := v_w + interval '1 hour';
            -- The windows' records, made in one order ...
    INSERT INTO usage_record AS r (instance_id, pkg_instance_id, window_begin,
                                           window_end, value, metering_sn, state)
                 VALUES (e.inst, e.pkg, v_w, v_w + interval '1 hour', 0,
                         mkp_usage_metering_sn(e.inst, e.pkg, v_w), 'open')
            ON CONFLICT (instance_id, pkg_instance_id, window_begin) DO NOTHING;
            SELECT r.state INTO v_state FROM usage_record r
             WHERE r.instance_id = e.inst AND r.pkg_instance_id = e.pkg
               AND r.window_begin = v_w
               FOR SHARE;
            EXIT WHEN v_state = 'open';
        END LOOP;
        INSERT INTO usage_event (event_id, instance_id, pkg_instance_id, value,
                                 event_time, window_begin, shifted)
             SELECT e.id, e.inst, e.pkg, e.val::numeric, e.t, v_w, true
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
                to_char(v_w AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
        END IF;
        RETURN NEXT;
    END LOOP;
END
$_$;

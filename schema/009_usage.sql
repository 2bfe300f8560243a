-- 009_usage: metered usage, from the seller's events to the records pushed
-- to the marketplace (spec/README.md reading 9, spec/outbound.md §1).
--
-- usage_event holds what the seller reported, once per event id, whichever
-- way it came in (POST /-/usage or mkp_usage_ingest() from the seller's own
-- database session): both go through mkp_usage_ingest_batch(), so both
-- apply the same validation. Each event is booked into a UTC hour window;
-- an event whose own window was already closed into a usage_record is booked
-- into the next open window of the same instance and flagged shifted, never
-- dropped. usage_record is one closed window per (instance, package
-- instance); it is what the push sends, with a metering_sn derived from its
-- identity so a retry re-sends the identical record. usage_push keeps every
-- batch sent and what the marketplace answered.
--
-- Amounts are numeric(20,4) everywhere: never floating point.

CREATE TABLE usage_event (
    event_id        text PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 128),
    instance_id     text NOT NULL REFERENCES instance (instance_id),
    pkg_instance_id text NOT NULL DEFAULT ''
                    CHECK (length(pkg_instance_id) <= 64),  -- '' = no package
    value           numeric(20,4) NOT NULL CHECK (value >= 0),
    event_time      timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    window_begin    timestamptz NOT NULL,   -- the UTC hour it is booked into
    shifted         boolean NOT NULL DEFAULT false  -- booked later than its own hour
);
CREATE INDEX usage_event_window_idx ON usage_event (window_begin, instance_id, pkg_instance_id);

CREATE TABLE usage_record (
    id              bigserial PRIMARY KEY,
    instance_id     text NOT NULL REFERENCES instance (instance_id),
    pkg_instance_id text NOT NULL DEFAULT '',
    window_begin    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    value           numeric(20,4) NOT NULL CHECK (value >= 0),
    metering_sn     text NOT NULL UNIQUE,
    -- open: the hour has events and has not been closed yet (value 0 until
    -- then); pending: closed, to push; a record with nothing to bill
    -- (value 0) is closed straight to delivered, with a note in fail_reason.
    state           text NOT NULL DEFAULT 'open'
                    CHECK (state IN ('open', 'pending', 'sending', 'delivered', 'failed',
                                     'expired')),
    fail_reason     text,
    attempts        integer NOT NULL DEFAULT 0,
    last_push_id    bigint,
    record_time     timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (window_end = window_begin + interval '1 hour'),
    UNIQUE (instance_id, pkg_instance_id, window_begin)
);
CREATE INDEX usage_record_unsent_idx ON usage_record (window_begin)
    WHERE state IN ('open', 'pending', 'sending');

CREATE TABLE usage_push (
    id              bigserial PRIMARY KEY,
    records         integer NOT NULL,
    request_id      text,
    http_status     integer,            -- NULL: no answer (transport error)
    result_code     text,
    body_excerpt    text,
    sent_at         timestamptz NOT NULL DEFAULT now()
);

-- metering_sn of a record: its identity, hashed (64 hex characters, the
-- field's maximum), so the same record always carries the same number.
CREATE FUNCTION mkp_usage_metering_sn(p_instance text, p_pkg text, p_begin timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(p_instance || E'\n' || p_pkg || E'\n' ||
        to_char(p_begin AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"'), 'UTF8')), 'hex')
$$;

-- Ingest a batch of events in one statement: one row per event not
-- accepted ('duplicate' or 'rejected' with the reason) or accepted late
-- ('shifted', the reason naming the hour it went to), nothing for the
-- others. Values come as text (a decimal string, at most 4 decimals);
-- times as timestamptz. p_horizon is how old an event may still be: older
-- ones could not be pushed in time (begin_time within 21 days, §1.5).
CREATE FUNCTION mkp_usage_ingest_batch(p_ids text[], p_instances text[], p_pkgs text[],
                                       p_values text[], p_times timestamptz[],
                                       p_horizon interval DEFAULT interval '20 days')
RETURNS TABLE (event_id text, outcome text, reason text)
LANGUAGE plpgsql AS $$
DECLARE
    i       integer;
    v_value numeric(20,4);
    v_state text;
    v_win   timestamptz;
    v_shift boolean;
    v_n     integer;
    v_now   timestamptz := now();
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        event_id := p_ids[i];
        outcome := 'rejected';
        reason := NULL;
        IF p_ids[i] IS NULL OR length(p_ids[i]) NOT BETWEEN 1 AND 128 THEN
            reason := 'id missing or longer than 128 characters';
        ELSIF p_values[i] IS NULL OR p_values[i] !~ '^[0-9]{1,16}(\.[0-9]{1,4})?$' THEN
            reason := 'value must be a non-negative decimal with at most 4 decimals';
        ELSIF p_times[i] IS NULL THEN
            reason := 'time missing';
        ELSIF p_times[i] > v_now THEN
            reason := 'time is in the future';
        ELSIF p_times[i] < v_now - p_horizon THEN
            reason := 'time is older than the push horizon';
        ELSIF length(coalesce(p_pkgs[i], '')) > 64 THEN
            reason := 'packageInstanceId longer than 64 characters';
        ELSE
            SELECT state INTO v_state FROM instance WHERE instance_id = p_instances[i];
            IF NOT FOUND THEN
                reason := 'unknown instance';
            ELSIF v_state = 'released' THEN
                reason := 'instance released';
            ELSIF v_state = 'failed' THEN
                reason := 'instance failed';
            END IF;
        END IF;
        IF reason IS NOT NULL THEN
            RETURN NEXT;
            CONTINUE;
        END IF;
        v_value := p_values[i]::numeric;
        v_win := date_trunc('hour', p_times[i] AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        v_shift := false;
        -- The window's record is the lock closing and booking meet on:
        -- booking holds it FOR SHARE while the window is open, so
        -- mkp_usage_close_windows (FOR UPDATE) waits for this event to
        -- commit before it sums. A window already closed makes the event
        -- go to the first later hour of the instance still open.
        LOOP
            INSERT INTO usage_record AS r (instance_id, pkg_instance_id, window_begin,
                                           window_end, value, metering_sn, state)
                 VALUES (p_instances[i], coalesce(p_pkgs[i], ''), v_win,
                         v_win + interval '1 hour', 0,
                         mkp_usage_metering_sn(p_instances[i], coalesce(p_pkgs[i], ''), v_win),
                         'open')
            ON CONFLICT (instance_id, pkg_instance_id, window_begin) DO NOTHING;
            SELECT r.state INTO v_state FROM usage_record r
             WHERE r.instance_id = p_instances[i]
               AND r.pkg_instance_id = coalesce(p_pkgs[i], '')
               AND r.window_begin = v_win
               FOR SHARE;
            EXIT WHEN v_state = 'open';
            v_win := v_win + interval '1 hour';
            v_shift := true;
        END LOOP;
        INSERT INTO usage_event (event_id, instance_id, pkg_instance_id, value,
                                 event_time, window_begin, shifted)
             VALUES (p_ids[i], p_instances[i], coalesce(p_pkgs[i], ''), v_value,
                     p_times[i], v_win, v_shift)
        ON CONFLICT ON CONSTRAINT usage_event_pkey DO NOTHING;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        IF v_n = 0 THEN
            outcome := 'duplicate';
            RETURN NEXT;
        ELSIF v_shift THEN
            -- Accepted, but late: the caller logs and counts it.
            outcome := 'shifted';
            reason := 'booked into ' ||
                to_char(v_win AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;

-- Closes every open window whose hour has ended: its record takes the sum
-- of the events booked into it and becomes pending (or delivered at once
-- when the sum is 0: the marketplace takes only values > 0). Pending
-- records older than 21 days can no longer be pushed (MKT.9004): expired.
-- Returns the number of records closed.
CREATE FUNCTION mkp_usage_close_windows() RETURNS integer
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
    UPDATE usage_record SET state = 'expired', updated_at = now(),
           fail_reason = 'begin_time older than 21 days'
     WHERE state = 'pending' AND window_begin < now() - interval '21 days';
    RETURN v_n;
END
$$;

-- For sellers who write from their own database session: one event, the
-- same validation. Returns 'accepted', 'duplicate' or 'rejected: reason'.
CREATE FUNCTION mkp_usage_ingest(p_id text, p_instance text, p_value numeric,
                                 p_time timestamptz, p_pkg text DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$
    SELECT coalesce((SELECT CASE WHEN b.outcome = 'rejected' THEN 'rejected: ' || b.reason
                                 WHEN b.outcome = 'shifted' THEN 'accepted: ' || b.reason
                                 ELSE b.outcome END
                       FROM mkp_usage_ingest_batch(ARRAY[p_id], ARRAY[p_instance], ARRAY[p_pkg],
                                                   ARRAY[p_value::text], ARRAY[p_time]) AS b),
                    'accepted')
$$;

-- For the DBA: usage per instance and UTC hour as the events booked it,
-- with the record it went into (if closed yet).
CREATE VIEW usage_hourly AS
    SELECT e.instance_id, e.pkg_instance_id, e.window_begin,
           sum(e.value) AS value, count(*) AS events,
           count(*) FILTER (WHERE e.shifted) AS shifted_events,
           r.state AS record_state, r.metering_sn
      FROM usage_event e
      LEFT JOIN usage_record r
        ON r.instance_id = e.instance_id AND r.pkg_instance_id = e.pkg_instance_id
       AND r.window_begin = e.window_begin
     GROUP BY e.instance_id, e.pkg_instance_id, e.window_begin, r.state, r.metering_sn;

-- For the DBA: what has not reached the marketplace yet: open windows,
-- closed records waiting or being sent, and those that failed.
CREATE VIEW usage_unpushed AS
    SELECT instance_id, pkg_instance_id, window_begin, value, state, attempts,
           fail_reason, updated_at
      FROM usage_record
     WHERE state IN ('open', 'pending', 'sending', 'failed');

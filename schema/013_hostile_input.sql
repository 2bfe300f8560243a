-- 013_hostile_input: what hostile and sloppy input showed the store must
-- bound (issue 13).
--
-- Usage. An event's value is at most 99999999.9999 (the marketplace's
-- Double(12,4)); the intake refuses larger ones with a reason, and the
-- table says so too for sellers who write from their own session. Closing
-- the hours no longer fails as a whole when one record's sum does not fit
-- numeric(20,4): the sum is taken unbounded, and a record it does not fit
-- is failed with the sum in its reason, while every other record closes.
-- A record that is failed, or open an hour after its hour ended (closing
-- does not run or cannot close it), is "at risk" as a pending one is.

ALTER TABLE usage_event ADD CONSTRAINT usage_event_value_max
    CHECK (value <= 99999999.9999) NOT VALID;

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

-- At risk: not delivered an hour after its hour ended (open: not closed;
-- pending or sending: not pushed yet), or failed (waiting for a person).
CREATE FUNCTION mkp_usage_at_risk(p_state text, p_window_end timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_state = 'failed'
        OR (p_state IN ('open', 'pending', 'sending')
            AND now() > p_window_end + interval '1 hour')
$$;

CREATE OR REPLACE VIEW usage_unpushed AS
    SELECT id, instance_id, pkg_instance_id, window_begin, value, state, attempts,
           fail_reason, last_error, lease_until, claimed_by, updated_at,
           mkp_usage_at_risk(state, window_end) AS at_risk
      FROM usage_record
     WHERE state IN ('open', 'pending', 'sending', 'failed');

-- 023_usage_close_sum_once: closing an hour sums each record's events once.
--
-- mkp_usage_close_windows (017) took each record's sum from a subquery in
-- FROM whose column was a scalar subquery (SELECT sum(value) FROM
-- usage_event ...). PostgreSQL pulls such a subquery up into the UPDATE
-- and copies the expression to every place its column is used: the SET
-- list uses it seven times, and a record with usage ran six of the copies,
-- each reading all the hour's events of the record again (2.4 million
-- index reads to close 400 000 events; EXPLAIN ANALYZE shows SubPlan 1 to
-- 7). The sum is now taken in a LATERAL subquery, which PostgreSQL never
-- pulls up since it aggregates: one read of each event, one sum per
-- record. The rest of the function is 017's.
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
      FROM (SELECT r2.id, r2.window_begin, coalesce(t.total, 0) AS total
              FROM usage_record r2
             CROSS JOIN LATERAL (SELECT sum(e.value) AS total FROM usage_event e
                                  WHERE e.instance_id = r2.instance_id
                                    AND e.pkg_instance_id = r2.pkg_instance_id
                                    AND e.window_begin = r2.window_begin) t
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

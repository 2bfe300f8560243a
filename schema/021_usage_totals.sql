-- 021_usage_totals: queryInstance's cumulative usage without reading history.
--
-- mkp_usage_cumulative (017) summed every hourly record of the instance, in
-- every month kept, at every queryInstance of an on-demand instance or a
-- package, and as a SQL function it was planned again at each call over
-- every month of usage_record and usage_event: in a store keeping two
-- years, about 25 ms of the backend for an instance with no usage at all,
-- and more with each hour of usage.
--
-- usage_total keeps, per (instance, package instance), the sum of its
-- records that are no longer open (what the close made of their events, or
-- what they were written with), kept up by three statement-level triggers
-- on usage_record that see the statement's rows once (transition tables):
-- an insert or update adds the rows that are not open, an update or delete
-- takes away what the old rows added. Dropping a month (DETACH, DROP)
-- fires no trigger, so the total keeps the months dropped: usage_carry is
-- no longer read for the sum (mkp_usage_drop_before still fills it, as the
-- record of what each drop took). Rows moved between partitions by
-- mkp_partition_ensure are moved on the partitions themselves, which
-- fires no trigger of usage_record either.
--
-- The cumulative usage is then that total plus the events of the records
-- still open (the current hours), as before.

CREATE TABLE usage_total (
    instance_id     text NOT NULL REFERENCES instance (instance_id),
    pkg_instance_id text NOT NULL DEFAULT '',
    value           numeric NOT NULL DEFAULT 0,
    records         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (instance_id, pkg_instance_id)
);
CREATE INDEX usage_total_pkg_idx ON usage_total (pkg_instance_id) WHERE pkg_instance_id <> '';
COMMENT ON TABLE usage_total IS
    'Per (instance, package instance): the sum of its hourly usage records that are no '
    'longer open, including those of months dropped (kept by triggers on usage_record). '
    'queryInstance''s cumulative usage is this plus the events of the open hours.';
COMMENT ON COLUMN usage_total.pkg_instance_id IS
    'The package instance drawn from, '''' for none (as usage_record.pkg_instance_id).';
COMMENT ON COLUMN usage_total.value IS 'The sum of the records'' values.';
COMMENT ON COLUMN usage_total.records IS 'How many records it sums.';

-- What the triggers add: the statement's new rows that are not open, less
-- its old rows that were not open, per (instance, package instance), in
-- key order, so two statements lock the totals they share in one order.
-- Statements that change no record's contribution (an ingest's open
-- hours, a push moving pending to sending to delivered) write nothing.
CREATE FUNCTION mkp_usage_total_apply() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO usage_total AS t (instance_id, pkg_instance_id, value, records)
        SELECT n.instance_id, n.pkg_instance_id, sum(n.value), count(*)
          FROM usage_new n WHERE n.state <> 'open'
         GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (instance_id, pkg_instance_id) DO UPDATE
            SET value = t.value + EXCLUDED.value, records = t.records + EXCLUDED.records;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO usage_total AS t (instance_id, pkg_instance_id, value, records)
        SELECT d.instance_id, d.pkg_instance_id, sum(d.value), sum(d.records)
          FROM (SELECT n.instance_id, n.pkg_instance_id, n.value, 1 AS records
                  FROM usage_new n WHERE n.state <> 'open'
                UNION ALL
                SELECT o.instance_id, o.pkg_instance_id, -o.value, -1
                  FROM usage_old o WHERE o.state <> 'open') d
         GROUP BY 1, 2
        HAVING sum(d.value) <> 0 OR sum(d.records) <> 0 ORDER BY 1, 2
        ON CONFLICT (instance_id, pkg_instance_id) DO UPDATE
            SET value = t.value + EXCLUDED.value, records = t.records + EXCLUDED.records;
    ELSE
        UPDATE usage_total t SET value = t.value - d.value, records = t.records - d.records
          FROM (SELECT o.instance_id, o.pkg_instance_id, sum(o.value) AS value,
                       count(*) AS records
                  FROM usage_old o WHERE o.state <> 'open' GROUP BY 1, 2) d
         WHERE t.instance_id = d.instance_id AND t.pkg_instance_id = d.pkg_instance_id;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mkp_usage_total_apply() IS
    'Trigger (statement level, on usage_record): keeps usage_total, the sums of the records '
    'that are no longer open.';

CREATE TRIGGER usage_total_insert AFTER INSERT ON usage_record
    REFERENCING NEW TABLE AS usage_new
    FOR EACH STATEMENT EXECUTE FUNCTION mkp_usage_total_apply();
CREATE TRIGGER usage_total_update AFTER UPDATE ON usage_record
    REFERENCING OLD TABLE AS usage_old NEW TABLE AS usage_new
    FOR EACH STATEMENT EXECUTE FUNCTION mkp_usage_total_apply();
CREATE TRIGGER usage_total_delete AFTER DELETE ON usage_record
    REFERENCING OLD TABLE AS usage_old
    FOR EACH STATEMENT EXECUTE FUNCTION mkp_usage_total_apply();
COMMENT ON TRIGGER usage_total_insert ON usage_record IS 'Keeps usage_total (mkp_usage_total_apply).';
COMMENT ON TRIGGER usage_total_update ON usage_record IS 'Keeps usage_total (mkp_usage_total_apply).';
COMMENT ON TRIGGER usage_total_delete ON usage_record IS 'Keeps usage_total (mkp_usage_total_apply).';

-- What the records kept and the months dropped add up to now. Writers of
-- usage_record wait for this migration's lock, so nothing is counted twice.
LOCK TABLE usage_record IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO usage_total AS t (instance_id, pkg_instance_id, value, records)
SELECT instance_id, pkg_instance_id, sum(value), sum(records)
  FROM (SELECT instance_id, pkg_instance_id, value, 1 AS records
          FROM usage_record WHERE state <> 'open'
        UNION ALL
        SELECT instance_id, pkg_instance_id, value, records FROM usage_carry) s
 GROUP BY 1, 2;

-- The open hours are read through the index of each month, by instance or
-- by package; plpgsql keeps the plans for the connection.
CREATE OR REPLACE FUNCTION mkp_usage_cumulative(p_instance text, p_package boolean)
    RETURNS numeric LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_closed numeric;
    v_open   numeric;
BEGIN
    IF p_package THEN
        SELECT sum(t.value) INTO v_closed FROM usage_total t WHERE t.pkg_instance_id = p_instance;
        SELECT sum(e.value) INTO v_open
          FROM usage_record r
          JOIN usage_event e ON e.window_begin = r.window_begin
                            AND e.instance_id = r.instance_id
                            AND e.pkg_instance_id = r.pkg_instance_id
         WHERE r.pkg_instance_id = p_instance AND r.state = 'open';
    ELSE
        SELECT sum(t.value) INTO v_closed FROM usage_total t WHERE t.instance_id = p_instance;
        SELECT sum(e.value) INTO v_open
          FROM usage_record r
          JOIN usage_event e ON e.window_begin = r.window_begin
                            AND e.instance_id = r.instance_id
                            AND e.pkg_instance_id = r.pkg_instance_id
         WHERE r.instance_id = p_instance AND r.state = 'open';
    END IF;
    RETURN coalesce(v_closed, 0) + coalesce(v_open, 0);
END
$$;

COMMENT ON TABLE usage_carry IS
    'One row per (instance, package instance) whose usage records were dropped with their '
    'month (mkp_usage_drop_before, mkpctl purge --usage-older-than): what they summed to. '
    'A record of the drops; the cumulative usage reads usage_total, which keeps them too.';

-- The status page's figures (every host's status child, once a second) and
-- mkpctl usage count the failed records; usage_record_unsent_idx covers the
-- open, pending and sending ones only, so the count read every record of
-- every month: with two years of them (12.5 million), a sequential scan a
-- second per host. Failed records are few: their own partial index.
CREATE INDEX usage_record_failed_idx ON usage_record (window_end) WHERE state = 'failed';
COMMENT ON INDEX usage_record_failed_idx IS
    'The failed usage records (the status figures and mkpctl usage count them).';

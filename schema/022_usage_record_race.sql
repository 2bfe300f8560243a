-- 022_usage_record_race: two ingests making the same hourly record at once.
--
-- mkp_usage_ingest_batch makes the records of the hours its events go to
-- with INSERT ... ON CONFLICT (instance_id, pkg_instance_id, window_begin)
-- DO NOTHING. usage_record has a second unique key, (metering_sn,
-- window_begin), and metering_sn is a hash of the same three columns. Only
-- the named key arbitrates: when two calls made the same record at the
-- same moment, the second could reach the metering_sn key first and fail
-- with unique_violation instead of doing nothing, and mkpd answered its
-- whole call as invalid (HTTP 400: 1 call of the bench's 20, 2 of 600 when
-- four clients book into the same new hours at once). Without a
-- named key every unique key arbitrates: a record made by the other call,
-- whichever key sees it first, is left alone as intended.
--
-- The function is otherwise 019's: its two record inserts are rewritten in
-- place, and the migration fails if either is not found as 019 wrote it.
DO $$
DECLARE
    v_def text := pg_get_functiondef('mkp_usage_ingest_batch(text[], text[], text[], text[],'
                                     ' timestamptz[], interval)'::regprocedure);
    v_new text;
BEGIN
    v_new := replace(v_def, 'ON CONFLICT (instance_id, pkg_instance_id, window_begin) DO NOTHING',
                     'ON CONFLICT DO NOTHING');
    IF (length(v_def) - length(v_new)) <> 2 * (length('(instance_id, pkg_instance_id, window_begin) ')) THEN
        RAISE EXCEPTION '022: mkp_usage_ingest_batch is not as 019 made it';
    END IF;
    EXECUTE v_new;
END
$$;

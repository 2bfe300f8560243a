-- 012_failed_calls: failed_calls lists calls that failed, not the usage
-- intake's successes.
--
-- failed_calls (001) took every call whose result code was neither 000000
-- nor 000004 as failed. A call of the local usage intake (POST /-/usage,
-- dialect 'local') has no result code: it answers by its HTTP status, so
-- every accepted report (HTTP 200, no code) was listed as a failure. A
-- call without a result code now fails when its HTTP status does (400 and
-- up); a call with one, as before. Same columns, so CREATE OR REPLACE.
-- mkpctl callbacks search --failed uses the same test.

CREATE OR REPLACE VIEW failed_calls AS
    SELECT received_at, dialect, activity, instance_id, order_id, result_code,
           reason, remote_addr, latency_us
      FROM callback_log
     WHERE CASE WHEN coalesce(result_code, '') = '' THEN http_status >= 400
                ELSE result_code NOT IN ('000000', '000004') END;

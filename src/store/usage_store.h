/*
 * usage_store.h: the SQL behind metered usage (schema/009_usage.sql).
 *
 * Thin typed wrappers over prepared statements; the validation that needs
 * the database (instance known and not released, event id unseen, window
 * still open) lives in mkp_usage_ingest_batch(), which the seller's own
 * sessions call too, so both ingest paths decide alike.
 */
#ifndef MKP_USAGE_STORE_H
#define MKP_USAGE_STORE_H

#include <stddef.h>
#include "store/db.h"

extern const struct db_stmt usage_store_stmts[];

/* One event as the store takes it: all text, value a decimal string, time RFC 3339. */
struct ustore_event {
	const char	*id;
	const char	*instance_id;
	const char	*pkg_instance_id;	/* NULL: no package */
	const char	*value;
	const char	*time;
};

/*
 * Inserts the n events in one statement (one round trip, one transaction),
 * with horizon_s the oldest event age accepted, in seconds, drawing package
 * quotas (thresholds: the numeric[] literal of [packages] thresholds).
 * Returns the rows of the events not accepted as given: columns 0 event id,
 * 1 outcome ("duplicate", "rejected", "shifted", or "capped": accepted up to
 * column 3, taken), 2 reason (NULL for a duplicate); and one row "quota"
 * per instance with packages: 0 the instance, 2 its mode, 3 what remains.
 * Caller PQclear()s; NULL when the store failed (nothing was inserted then).
 */
PGresult *ustore_ingest(struct db *, const struct ustore_event *, size_t n,
	    long horizon_s, const char *thresholds) MUSTCHECK;

/* Closes the windows whose hour ended (mkp_usage_close_windows): how many, -1 on failure. */
int	 ustore_close(struct db *);

/*
 * Claims up to limit records to push (mkp_usage_claim, schema 010): pending
 * ones and sending ones whose lease ran out, made sending for lease_s
 * seconds by `by` (host:pid) under one new attempt row of usage_push,
 * committed at once (autocommit: call it outside a transaction).
 * Columns: 0 push id, 1 record id, 2 instance_id, 3 pkg_instance_id
 * ("" = none), 4 begin, 5 end, 6 record_time (yyyyMMddTHHmmssZ), 7 value
 * (numeric text), 8 metering_sn, 9 "t" when more than an hour has passed
 * since the window closed (the 2-hour reporting target is at risk),
 * 10 attempts (this one included). No rows: nothing due. NULL on failure.
 */
PGresult *ustore_claim(struct db *, int limit, long lease_s, const char *by,
	    const char *request_id) MUSTCHECK;

/*
 * Settles attempt push_id (mkp_usage_settle): outcome "delivered", "retry"
 * (the records are pending again) or "failed" (failed with reason);
 * http_status 0 when nothing answered. Returns the number of records
 * settled (fewer than claimed when a lease ran out and another pusher took
 * them), -1 on failure.
 */
int	 ustore_settle(struct db *, const char *push_id, const char *outcome,
	    const char *reason, long http_status, const char *result_code,
	    const char *excerpt);

/* 1 when pending records remain, 0 when not, -1 on failure. */
int	 ustore_more(struct db *);

/*
 * Milliseconds until the first lease of a record in "sending" runs out (0
 * when one already has), -1 when no record is being sent, -2 on failure.
 */
int64_t	 ustore_lease_wait(struct db *);

/* The state of the push, for status pages and `mkpctl status`. */
struct usage_status {
	int64_t	 us_pending;	/* closed, not delivered yet: pending or sending */
	int64_t	 us_sending;	/* of those, claimed by a push under way */
	int64_t	 us_at_risk;	/* of those, closed more than an hour ago */
	int64_t	 us_failed;	/* refused by the marketplace, waiting for a person */
	char	 us_last_push[24];	/* last delivered push, RFC 3339 UTC; "" none */
	char	 us_last_outcome[16];	/* outcome of the last attempt answered; "" none */
	char	 us_last_attempt[24];	/* when that attempt ended, RFC 3339 UTC; "" none */
};

/* Fills *st from the worker's or jobs child's store handle. False on failure. */
bool	 usage_store_status(struct db *, struct usage_status *st) MUSTCHECK;
/* The same from a plain connection (mkpctl). */
bool	 usage_store_status_pq(PGconn *, struct usage_status *st) MUSTCHECK;

/*
 * mkpctl usage: the hourly report of one instance (NULL: all), newest
 * first, at most limit rows. Columns: 0 instance_id, 1 pkg_instance_id,
 * 2 window_begin (RFC 3339 UTC), 3 value, 4 events, 5 shifted events,
 * 6 record state ("" while no record), 7 metering_sn. NULL on failure.
 */
PGresult *ustore_admin_hourly(PGconn *, const char *instance, int limit) MUSTCHECK;
/*
 * Records in state (pending: pending and sending), oldest first. Columns:
 * 0 id, 1 instance_id, 2 pkg_instance_id, 3 window_begin, 4 value, 5 state,
 * 6 attempts, 7 "t" at risk, 8 reason (fail_reason, else last_error).
 */
PGresult *ustore_admin_records(PGconn *, const char *state, int limit) MUSTCHECK;
/*
 * Push attempts, newest first (usage_push_history). Columns: 0 id,
 * 1 sent_at, 2 finished_at ("" while sending), 3 pushed_by, 4 records,
 * 5 outcome, 6 http_status ("" none), 7 result_code, 8 error, 9 value.
 */
PGresult *ustore_admin_history(PGconn *, int limit) MUSTCHECK;
/* Failed records back to pending: id > 0 one, 0 all. Count, -1 on failure. */
int	 ustore_admin_retry(PGconn *, int64_t id);

#endif

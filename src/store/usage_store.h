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
#include <stdint.h>
#include "store/db.h"

extern const struct db_stmt usage_store_stmts[];

/* One event as the store takes it: all text, value a decimal string, time RFC 3339. */
struct usage_store_event {
	const char	*id;
	const char	*instance_id;
	const char	*pkg_instance_id;	/* NULL: no package */
	const char	*value;
	const char	*time;
};

/* What became of an event not accepted as given, or a package balance. */
enum usage_store_outcome {
	USAGE_STORE_DUPLICATE,	/* its id was seen before */
	USAGE_STORE_REJECTED,	/* refused: reason */
	USAGE_STORE_SHIFTED,		/* its hour was pushed: counted in the next one */
	USAGE_STORE_CAPPED,		/* accepted up to taken, its package's end: reason */
	USAGE_STORE_QUOTA,		/* not an event: id is an instance with packages */
};

struct usage_store_ingested {
	enum usage_store_outcome	 outcome;
	const char		*id;		/* the event, or the instance (USAGE_STORE_QUOTA) */
	const char		*reason;	/* NULL for a duplicate; the mode for USAGE_STORE_QUOTA */
	const char		*taken;		/* USAGE_STORE_CAPPED: what was accepted; USAGE_STORE_QUOTA:
						   what remains */
};

/* The rows of an ingest; the strings live until usage_store_ingest_free. */
struct usage_store_ingest {
	struct usage_store_ingested	*rows;
	size_t			 n;
	PGresult		*res;
};

/*
 * Inserts the n events in one statement (one round trip, one transaction),
 * with horizon_s the oldest event age accepted, in seconds, drawing package
 * quotas (thresholds: the numeric[] literal of [packages] thresholds).
 * Fills out with the events not accepted as given, and one USAGE_STORE_QUOTA row
 * per instance with packages. False when the store failed (nothing was
 * inserted then).
 */
bool	 usage_store_ingest(struct db *, const struct usage_store_event *, size_t n,
	    long horizon_s, const char *thresholds, struct usage_store_ingest *out) MUSTCHECK;
void	 usage_store_ingest_free(struct usage_store_ingest *);

/* Closes the windows whose hour ended (mkp_usage_close_windows); *closed: how many. */
bool	 usage_store_close(struct db *, int64_t *closed) MUSTCHECK;

/* A record claimed for a push; strings live until usage_store_claim_free. */
struct usage_store_claimed {
	const char	*id;		/* the record */
	const char	*instance_id;
	const char	*pkg_instance_id;	/* "" = none */
	const char	*begin_time;	/* the window, yyyyMMddTHHmmssZ */
	const char	*end_time;
	const char	*record_time;
	const char	*value;		/* numeric text */
	const char	*metering_sn;
	bool		 at_risk;	/* an hour past its window: the 2-hour target */
	int64_t		 attempts;	/* this one included */
};

struct usage_store_claim {
	char			 push_id[24];	/* the attempt row of usage_push */
	struct usage_store_claimed	*rows;
	size_t			 n;
	PGresult		*res;
};

/*
 * Claims up to limit records to push (mkp_usage_claim, schema 010): pending
 * ones and sending ones whose lease ran out, made sending for lease_s
 * seconds by `by` (host:pid) under one new attempt row of usage_push,
 * committed at once (autocommit: call it outside a transaction).
 * No rows (n 0): nothing due. False on failure.
 */
bool	 usage_store_claim(struct db *, int limit, long lease_s, const char *by,
	    const char *request_id, struct usage_store_claim *out) MUSTCHECK;
void	 usage_store_claim_free(struct usage_store_claim *);

/*
 * Settles attempt push_id (mkp_usage_settle): outcome "delivered", "retry"
 * (the records are pending again) or "failed" (failed with reason);
 * http_status 0 when nothing answered. *settled: the number of records
 * settled (fewer than claimed when a lease ran out and another pusher took
 * them). False on failure.
 */
bool	 usage_store_settle(struct db *, const char *push_id, const char *outcome,
	    const char *reason, long http_status, const char *result_code,
	    const char *excerpt, int64_t *settled) MUSTCHECK;

/* Whether pending records remain: DB_FOUND yes, DB_NONE no. */
enum db_found usage_store_more(struct db *) MUSTCHECK;

/*
 * *ms: milliseconds until the first lease of a record in "sending" runs
 * out (0 when one already has). DB_NONE: no record is being sent.
 */
enum db_found usage_store_lease_wait(struct db *, int64_t *ms) MUSTCHECK;

/* The state of the push, for status pages and `mkpctl status`. */
struct usage_status {
	int64_t	 us_pending;	/* closed, not delivered yet: pending or sending */
	int64_t	 us_sending;	/* of those, claimed by a push under way */
	int64_t	 us_at_risk;	/* failed, or not delivered an hour after its hour ended */
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
PGresult *usage_store_admin_hourly(PGconn *, const char *instance, int limit) MUSTCHECK;
/*
 * Records in state (pending: pending and sending), oldest first. Columns:
 * 0 id, 1 instance_id, 2 pkg_instance_id, 3 window_begin, 4 value, 5 state,
 * 6 attempts, 7 "t" at risk, 8 reason (fail_reason, else last_error).
 */
PGresult *usage_store_admin_records(PGconn *, const char *state, int limit) MUSTCHECK;
/*
 * Push attempts, newest first (usage_push_history). Columns: 0 id,
 * 1 sent_at, 2 finished_at ("" while sending), 3 pushed_by, 4 records,
 * 5 outcome, 6 http_status ("" none), 7 result_code, 8 error, 9 value.
 */
PGresult *usage_store_admin_history(PGconn *, int limit) MUSTCHECK;
/* Failed records back to pending: id > 0 one, 0 all; *n: how many. */
bool	 usage_store_admin_retry(PGconn *, int64_t id, int64_t *n) MUSTCHECK;

#endif

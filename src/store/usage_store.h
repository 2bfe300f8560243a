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
 * with horizon_s the oldest event age accepted, in seconds. Returns the rows
 * of the events not accepted: columns 0 event id, 1 outcome ("duplicate" or
 * "rejected"), 2 reason (NULL for a duplicate). Caller PQclear()s; NULL when
 * the store failed (nothing was inserted then).
 */
PGresult *ustore_ingest(struct db *, const struct ustore_event *, size_t n,
	    long horizon_s) MUSTCHECK;

/* Closes the windows whose hour ended (mkp_usage_close_windows): how many, -1 on failure. */
int	 ustore_close(struct db *);

/*
 * Locks up to limit pending records (FOR UPDATE SKIP LOCKED), oldest
 * first. Columns: 0 id, 1 instance_id, 2 pkg_instance_id ("" = none),
 * 3 begin, 4 end, 5 record_time (yyyyMMddTHHmmssZ), 6 value (numeric
 * text), 7 metering_sn, 8 "t" when an hour has passed since the window closed
 * (the 2-hour reporting target is at risk).
 * NULL on failure.
 */
PGresult *ustore_claim(struct db *, int limit) MUSTCHECK;

/* Records one batch sent (http_status 0: no answer); its id into push_id. */
bool	 ustore_log_push(struct db *, int records, const char *request_id,
	    long http_status, const char *result_code, const char *excerpt,
	    char push_id[24]) MUSTCHECK;

/* Sets state and reason of the records ids (an array literal "{1,2}"). */
bool	 ustore_mark(struct db *, const char *ids, const char *state, const char *reason,
	    const char *push_id) MUSTCHECK;

/* 1 when pending records remain, 0 when not, -1 on failure. */
int	 ustore_more(struct db *);

#endif

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

#endif

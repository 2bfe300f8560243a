/*
 * nonce.c: claims and purges nonces in the unlogged nonce table.
 *
 * A nonce is claimed by mkp_nonce_claim() (schema 002), sent as the
 * prelude of the call's first statement: it takes over an entry older than
 * the keep period, or one its own call made, and raises MKP01 otherwise.
 *
 * Purging is the "purge" job's (src/jobs/purge.c), not the workers': the
 * jobs child queues it once per [jobs] purge_interval, and the job's dedupe
 * key keeps one purge pending across all hosts, so no request pays for it
 * and no lock is needed to keep hosts from purging side by side.
 */
#include <libpq-fe.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/util.h"
#include "store/nonce.h"

const struct db_stmt nonce_stmts[] = {
	{ "nonce_claim_strict", "SELECT mkp_nonce_claim($1, $2::int, $3)", 3 },
	{ "nonce_purge",
	  "DELETE FROM nonce WHERE seen_at < now() - make_interval(secs => $1::int)", 1 },
	/* The purge job's too (store/audit.c: audit_partitions). */
	{ "audit_partitions", "SELECT mkp_callback_log_partitions(2)", 0 },
	{ NULL, NULL, 0 },
};

void
nonce_prelude(struct db *db, const char *dialect, const char *nonce, int64_t keep_secs,
    const char *call_id)
{
	struct buf	 key = BUF_INIT;
	char		 keep[24];
	const char	*params[3];

	buf_printf(&key, "%s:%s", dialect, nonce);
	snprintf(keep, sizeof(keep), "%lld", (long long)keep_secs);
	params[0] = buf_cstr(&key);
	params[1] = keep;
	params[2] = call_id;
	db_prelude(db, "nonce_claim_strict", 3, params);
	buf_free(&key);
}

bool
nonce_purge(struct db *db, int64_t keep_secs, int64_t *deleted)
{
	char		 keep[24];
	const char	*params[1];
	PGresult	*res;

	snprintf(keep, sizeof(keep), "%lld", (long long)keep_secs);
	params[0] = keep;
	if ((res = db_exec(db, "nonce_purge", 1, params)) == NULL)
		return false;
	if (deleted != NULL && !parse_i64(PQcmdTuples(res), 0, INT64_MAX, deleted))
		*deleted = 0;
	PQclear(res);
	return true;
}

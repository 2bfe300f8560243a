/*
 * nonce.c: claims and purges nonces in the unlogged nonce table.
 *
 * A nonce is claimed by mkp_nonce_claim() (schema 002), sent as the
 * prelude of the call's first statement: it takes over an entry older than
 * the keep period, or one its own call made, and raises MKP01 otherwise.
 */
#include <stdio.h>

#include "common/buf.h"
#include "common/util.h"
#include "store/nonce.h"

const struct db_stmt nonce_stmts[] = {
	{ "nonce_claim_strict", "SELECT mkp_nonce_claim($1, $2::int, $3)", 3 },
	{ "nonce_purge",
	  "WITH l AS (SELECT pg_try_advisory_xact_lock(7305126012) AS got) "
	  "DELETE FROM nonce WHERE (SELECT got FROM l) "
	  "AND seen_at < now() - make_interval(secs => $1::int)", 1 },
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

void
nonce_purge(struct db *db, int64_t keep_secs)
{
	static int64_t	 last;
	char		 keep[24];
	const char	*params[1];
	int64_t		 now = mono_ms();

	if (last != 0 && now - last < 60000)
		return;
	last = now;
	snprintf(keep, sizeof(keep), "%lld", (long long)keep_secs);
	params[0] = keep;
	if (!db_run(db, "nonce_purge", 1, params))
		return;
}

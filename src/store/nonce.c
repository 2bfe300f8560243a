/*
 * nonce.c: claims and purges nonces in the unlogged nonce table.
 *
 * One statement claims a nonce: an INSERT whose ON CONFLICT branch only
 * takes over an entry older than the keep period. A row comes back when
 * the claim succeeded; none when the nonce is a replay.
 */
#include <stdio.h>

#include "common/buf.h"
#include "common/util.h"
#include "store/nonce.h"

const struct db_stmt nonce_stmts[] = {
	{ "nonce_claim",
	  "INSERT INTO nonce (nonce, seen_at) VALUES ($1, now()) "
	  "ON CONFLICT (nonce) DO UPDATE SET seen_at = now() "
	  "WHERE nonce.seen_at < now() - make_interval(secs => $2::int) "
	  "RETURNING 1", 2 },
	{ "nonce_claim_strict", "SELECT mkp_nonce_claim($1, $2::int)", 2 },
	{ "nonce_purge",
	  "WITH l AS (SELECT pg_try_advisory_xact_lock(7305126012) AS got) "
	  "DELETE FROM nonce WHERE (SELECT got FROM l) "
	  "AND seen_at < now() - make_interval(secs => $1::int)", 1 },
	{ NULL, NULL, 0 },
};

enum nonce_result
nonce_claim(struct db *db, const char *dialect, const char *nonce, int64_t keep_secs)
{
	struct buf	 key = BUF_INIT;
	char		 keep[24];
	const char	*params[2];
	PGresult	*res;
	enum nonce_result r;

	buf_printf(&key, "%s:%s", dialect, nonce);
	snprintf(keep, sizeof(keep), "%lld", (long long)keep_secs);
	params[0] = buf_cstr(&key);
	params[1] = keep;
	res = db_exec(db, "nonce_claim", 2, params);
	buf_free(&key);
	if (res == NULL)
		return NONCE_ERROR;
	r = PQntuples(res) == 1 ? NONCE_FRESH : NONCE_REPLAY;
	PQclear(res);
	return r;
}

void
nonce_prelude(struct db *db, const char *dialect, const char *nonce, int64_t keep_secs)
{
	struct buf	 key = BUF_INIT;
	char		 keep[24];
	const char	*params[2];

	buf_printf(&key, "%s:%s", dialect, nonce);
	snprintf(keep, sizeof(keep), "%lld", (long long)keep_secs);
	params[0] = buf_cstr(&key);
	params[1] = keep;
	db_prelude(db, "nonce_claim_strict", 2, params);
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

/*
 * nonce.h: the replay guard shared by every host (spec/README.md reading 2).
 */
#ifndef MKP_NONCE_H
#define MKP_NONCE_H

#include <stdint.h>
#include "store/db.h"

extern const struct db_stmt nonce_stmts[];

/*
 * Makes the claim of "dialect:nonce" the prelude of the call's first
 * statement (db_prelude): it runs in the same round trip and transaction,
 * and a replay (SQLSTATE DB_SQLSTATE_REPLAY) aborts the call whole.
 */
void	 nonce_prelude(struct db *, const char *dialect, const char *nonce,
	    int64_t keep_secs, const char *call_id);

/*
 * Deletes entries older than keep_secs, in whatever transaction db is in
 * (the purge job's). *deleted (may be NULL) gets the count. False on a
 * store failure (db_sqlstate, db_errmsg say why).
 */
bool	 nonce_purge(struct db *, int64_t keep_secs, int64_t *deleted) MUSTCHECK;

#endif

/*
 * nonce.h: the replay guard shared by every host (spec/README.md reading 2).
 */
#ifndef MKP_NONCE_H
#define MKP_NONCE_H

#include <stdint.h>
#include "store/db.h"

enum nonce_result {
	NONCE_FRESH,	/* first sight: the call may proceed */
	NONCE_REPLAY,	/* seen within keep_secs: refuse with 000001 */
	NONCE_ERROR,	/* store unreachable: answer 000005 */
};

extern const struct db_stmt nonce_stmts[];

/*
 * Records "dialect:nonce" and says whether it was seen in the last
 * keep_secs seconds. An entry older than that is taken over (the time
 * window refuses such a replay already).
 */
enum nonce_result nonce_claim(struct db *, const char *dialect, const char *nonce,
	    int64_t keep_secs);

/*
 * Makes the claim of "dialect:nonce" the prelude of the call's first
 * statement (db_prelude): it runs in the same round trip and transaction,
 * and a replay (SQLSTATE DB_SQLSTATE_REPLAY) aborts the call whole.
 */
void	 nonce_prelude(struct db *, const char *dialect, const char *nonce,
	    int64_t keep_secs);

/* Deletes entries older than keep_secs, at most once per interval per host
 * and by one process at a time (advisory lock). Errors are logged only. */
void	 nonce_purge(struct db *, int64_t keep_secs);

#endif

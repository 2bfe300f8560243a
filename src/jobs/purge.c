/*
 * purge.c: the nonce purge as a job (see purge.h).
 *
 * It used to run in the workers after a request, once a minute per
 * worker; as a job it costs no request anything, runs once per interval
 * for the whole deployment rather than per worker, and shows up in the
 * job table when it fails.
 */
#include <stdio.h>

#include "common/conf.h"
#include "common/log.h"
#include "jobs/purge.h"
#include "store/db.h"
#include "store/job_store.h"
#include "store/audit.h"
#include "store/nonce.h"

enum job_outcome
purge_run(const struct job *j, struct job_env *env, char *reason, size_t reasonlen)
{
	int64_t	deleted = 0;

	(void)j;
	if (!nonce_purge(env->db, 2 * env->cfg->time_window, &deleted)) {
		snprintf(reason, reasonlen, "nonce purge: %s (SQLSTATE %s)",
		    db_errmsg(env->db), db_sqlstate(env->db));
		return JOB_RETRY;
	}
	log_debug("%s: %lld nonces purged", __func__, (long long)deleted);
	if (!audit_partitions(env->db)) {
		snprintf(reason, reasonlen, "callback_log partitions: %s (SQLSTATE %s)",
		    db_errmsg(env->db), db_sqlstate(env->db));
		return JOB_RETRY;
	}
	return JOB_DONE;
}

bool
purge_enqueue(struct db *db)
{
	return job_store_enqueue(db, "purge", NULL, "purge", 0, 0, NULL);
}

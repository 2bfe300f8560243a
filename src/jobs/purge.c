/*
 * purge.c: the nonce purge as a job (see purge.h).
 *
 * It used to run in the workers after a request, once a minute per
 * worker; as a job it costs no request anything, runs once per interval
 * for the whole deployment rather than per worker, and shows up in the
 * job table when it fails.
 *
 * The same job keeps the month partitions of usage_event and usage_record
 * made ahead (schema 017, mkp_partitions_ensure): this month's and the next
 * two, so the default partitions stay empty and a month can be dropped
 * whole by mkpctl purge --usage-older-than.
 */
#include <stdio.h>

#include "common/conf.h"
#include "common/log.h"
#include "jobs/purge.h"
#include "store/db.h"
#include "store/job_store.h"
#include "store/audit.h"
#include "store/nonce.h"

/* The partitions of this month and the next two: a no-op but once a month. */
static bool
partitions_ensure(struct job_env *env, char *reason, size_t reasonlen)
{
	if (db_command(env->db, "DO $$BEGIN PERFORM mkp_partitions_ensure(2); END$$"))
		return true;
	snprintf(reason, reasonlen, "partitions: %s (SQLSTATE %s)", db_errmsg(env->db),
	    db_sqlstate(env->db));
	return false;
}

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
	if (!partitions_ensure(env, reason, reasonlen))
		return JOB_RETRY;
	return JOB_DONE;
}

bool
purge_enqueue(struct db *db)
{
	return job_store_enqueue(db, "purge", NULL, "purge", 0, 0, NULL);
}

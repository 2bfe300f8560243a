/*
 * purge.h: the "purge" job: deletes nonces older than twice time_window,
 * makes callback_log's partitions of the months ahead, and keeps the month
 * partitions of the usage tables made ahead (mkp_partitions_ensure,
 * schema 017).
 *
 * The jobs child queues one every [jobs] purge_interval seconds with the
 * dedupe key "purge", so however many hosts run, at most one purge is
 * pending at a time. The payload is ignored ({}).
 */
#ifndef MKP_JOBS_PURGE_H
#define MKP_JOBS_PURGE_H

#include "common/defs.h"
#include "jobs/runner.h"

struct db;

/* The handler (a job_handler): the DELETE, in the job's transaction. */
enum job_outcome purge_run(const struct job *, struct job_env *, char *reason,
	    size_t reasonlen);

/* Queues a purge to run now unless one is pending. False on a store failure. */
bool	 purge_enqueue(struct db *) MUSTCHECK;

#endif

/*
 * usage_push.h: the "usage_push" job: closes the usage windows whose hour
 * ended and pushes pending records to the marketplace (spec/README.md
 * reading 9, spec/outbound.md §1).
 *
 * The jobs child queues one every [usage] push_interval seconds with the
 * dedupe key "usage_push"; a DBA or test may queue one too (INSERT INTO job
 * (kind) VALUES ('usage_push')). One run sends one batch of at most
 * [usage] batch_size records, and queues a follow-up when more are pending.
 * Delivery is exactly once at the marketplace: the records are locked
 * (SKIP LOCKED) for the job's transaction and marked delivered in it; a
 * crash between send and commit re-sends identical records (same
 * metering_sn, begin and end), which the marketplace drops as duplicates.
 */
#ifndef MKP_JOBS_USAGE_PUSH_H
#define MKP_JOBS_USAGE_PUSH_H

#include "common/defs.h"
#include "jobs/runner.h"

struct db;

/* The handler (a job_handler). */
enum job_outcome usage_push_run(const struct job *, struct job_env *, char *reason,
	    size_t reasonlen);

/* Queues a push to run now unless one is pending. False on a store failure. */
bool	 usage_push_enqueue(struct db *) MUSTCHECK;

#endif

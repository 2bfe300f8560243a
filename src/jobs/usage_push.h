/*
 * usage_push.h: the "usage_push" job: closes the usage windows whose hour
 * ended and pushes closed records to the marketplace (spec/README.md
 * reading 9, spec/outbound.md §1).
 *
 * The jobs child queues one every [usage] push_interval seconds and just
 * after each UTC hour ends, with the dedupe key "usage_push", so the
 * records of an hour leave in the first minutes of the next; a DBA may
 * queue one too (INSERT INTO job (kind) VALUES ('usage_push')), and
 * `mkpctl usage push --now` runs usage_push_batch until nothing is left.
 * One run sends one batch of at most [usage] batch_size records, and
 * queues a follow-up when more are pending.
 *
 * A record goes pending -> sending -> delivered | failed | expired. The
 * claim (sending, with a lease longer than the HTTP call may last, and an
 * attempt row in usage_push) commits before the call, so other hosts leave
 * the records alone; the answer settles them in a second commit. A pusher
 * that dies between the two leaves them sending until the lease runs out;
 * then they are sent again unchanged (same metering_sn, begin and end),
 * which the marketplace keeps once. So the job runs outside the runner's
 * transaction (own_tx in kinds.c).
 */
#ifndef MKP_JOBS_USAGE_PUSH_H
#define MKP_JOBS_USAGE_PUSH_H

#include "common/defs.h"
#include "jobs/runner.h"

struct config;
struct db;

/* The handler (a job_handler, own_tx). */
enum job_outcome usage_push_run(const struct job *, struct job_env *, char *reason,
	    size_t reasonlen);

/* Queues a push to run now unless one is pending. False on a store failure. */
bool	 usage_push_enqueue(struct db *) MUSTCHECK;

enum usage_batch_result {
	UB_NONE,		/* nothing was due */
	UB_DELIVERED,		/* MKT.0000: the batch is delivered */
	UB_RETRY,		/* no answer, 5xx, 429, MKT.0999: pending again */
	UB_FAILED,		/* refused: the records are failed with the reason */
	UB_ERROR,		/* the store failed, or the configuration is unusable */
};

struct usage_batch {
	int	 ub_records;		/* records claimed and sent */
	int	 ub_settled;		/* of those, settled by this pusher */
	char	 ub_push_id[24];	/* the attempt's usage_push id; "" none */
	char	 ub_detail[400];	/* for a person: what happened */
	bool	 ub_config;		/* UB_ERROR came from the configuration */
};

/*
 * Claims, sends and settles one batch (autocommit: db must not be in a
 * transaction). by names the pusher in the rows ("host:pid"). Does not
 * close windows (usage_store_close first).
 */
enum usage_batch_result usage_push_batch(struct db *, const struct config *, const char *by,
	    struct usage_batch *out);

/* Seconds a claim holds: longer than the HTTP call can last. */
long	 usage_push_lease(const struct config *);

#endif

/*
 * runner.h: claims due jobs from the job table and runs them, once.
 *
 * A job kind is one entry {kind, handler, max_attempts, lease, stmts} in
 * a table the caller passes (src/jobs/kinds.c). For each job the runner:
 *   1. claims it under a lease (store/job_store.h job_store_claim), autocommit;
 *   2. opens a transaction, locks the job row (other runners skip it,
 *      whatever its lease says) and sets mkpd.job_id;
 *   3. calls the handler with the job's JSON payload and the db handle,
 *      inside that transaction;
 *   4. on JOB_DONE marks the job done in the same transaction and
 *      commits: the handler's store effects and "done" commit together;
 *      on JOB_RETRY rolls back and queues the job again after a back-off
 *      (dead after max_attempts); on JOB_DEAD rolls back and gives up. The
 *      reason is kept in last_error either way.
 *
 * The handler contract ("effects happen once"):
 *   - what a handler writes to the store it writes through env->db,
 *     inside the runner's transaction, and never commits or rolls back
 *     itself: if the process dies before the commit, the effect and the
 *     job's completion are undone together, and the job runs again after
 *     its lease;
 *   - what it does outside the store (an HTTP call to the marketplace, a
 *     provisioning hook) may happen again after a crash between the call
 *     and the commit, so it must be idempotent on the other side (a key
 *     derived from the job: its id, its payload's business key);
 *   - it returns JOB_RETRY for what may pass (store or network trouble),
 *     JOB_DEAD for what will not (a payload it cannot read), with a
 *     reason for a person in reason (no secrets);
 *   - (a kind with own_tx set runs outside the transaction instead, and
 *     owns its commits: see struct job_kind;)
 *   - it leaves signals alone and returns in bounded time (statement_timeout,
 *     HTTP time-outs): a stop waits for it at most shutdown_timeout.
 */
#ifndef MKP_JOBS_RUNNER_H
#define MKP_JOBS_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "common/defs.h"

struct config;
struct db;
struct db_stmt;
struct seal_key;

enum job_outcome {
	JOB_DONE,
	JOB_RETRY,		/* try again later, unless attempts are used up */
	JOB_DEAD,		/* never try again */
};

/* What a handler sees of its job. Valid for the handler's call only. */
struct job {
	int64_t		 id;
	const char	*kind;
	const char	*payload;	/* JSON text, "{}" when none was given */
	int		 attempts;	/* this one included (1 on the first run) */
	int		 max_attempts;
};

struct job_env {
	struct db		*db;	/* in the job's transaction */
	const struct config	*cfg;
	const struct seal_key	*seal;	/* the master key (seal_master()) */
};

typedef enum job_outcome (*job_handler)(const struct job *, struct job_env *,
	    char *reason, size_t reasonlen);

struct job_kind {
	const char		*kind;
	job_handler		 handler;
	int			 max_attempts;	/* 0: [jobs] max_attempts */
	int			 lease;		/* seconds; 0: [jobs] lease */
	const struct db_stmt	*stmts;		/* the handler's statements, or NULL */
	/*
	 * NULL, or what the job's death means for the rest of the store
	 * (e.g. the instance it was provisioning is failed): run in the
	 * transaction that marks the job dead, with the reason.
	 */
	void			(*dead)(const struct job *, struct job_env *, const char *reason);
	/*
	 * True: the handler runs outside any transaction and commits its own
	 * steps (env->db in autocommit; it must leave no transaction open).
	 * For work whose exactly-once comes from its own rows rather than from
	 * the job's transaction: the usage push commits its claim of records
	 * before the HTTP call, so that a crash leaves them visibly claimed.
	 * The job row is not locked while such a handler runs: another runner
	 * may take the job once its lease ran out, so the handler must be safe
	 * to run twice at once. "done" is recorded after it returns.
	 */
	bool			 own_tx;
};

struct runner;

/*
 * A runner over kinds (n entries; the table must outlive the runner) with
 * its own store connection (made lazily). locked_by names this runner in
 * the job rows ("host:pid"); copied. cfg must outlive the runner.
 */
struct runner *runner_new(const struct config *cfg, const struct job_kind *kinds, size_t n,
	    const char *locked_by);
void	 runner_free(struct runner *);

enum runner_step {
	RUNNER_RAN,		/* a job was claimed and handled: look again now */
	RUNNER_IDLE,		/* nothing due */
	RUNNER_TROUBLE,		/* the store failed: wait before looking again */
};

/* Claims one due job of a known kind and runs it to its end. */
enum runner_step runner_step(struct runner *);

/*
 * The descriptor to wait on for NOTIFY mkpd_jobs (LISTEN is sent first
 * on a new connection), or -1 when not connected. After it turns readable
 * call runner_drain_notifies.
 */
int	 runner_listen_fd(struct runner *);
/* Reads what arrived; true if a notification came (or the connection broke). */
bool	 runner_drain_notifies(struct runner *);

/* The runner's store handle (to queue jobs between steps). */
struct db *runner_db(struct runner *);

/*
 * Pure: the wait before the next attempt after `attempts` failed ones
 * (>= 1): base_ms * 2^(attempts-1), at most max_ms, then jittered to
 * [half, all] of that by rnd (any 32-bit value, uniform). Never below 1.
 */
int64_t	 job_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms, uint32_t rnd);

/*
 * Pure: what a failure makes of a job in its attempts-th attempt with
 * limit max_attempts: JOB_RETRY while attempts remain, JOB_DEAD after the
 * last one or when the handler said JOB_DEAD.
 */
enum job_outcome job_after_failure(enum job_outcome handler_said, int attempts,
	    int max_attempts);

#endif

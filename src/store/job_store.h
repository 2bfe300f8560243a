/*
 * job_store.h: the SQL of the job queue (schema/003_jobs.sql).
 *
 * Two audiences: processes with a struct db (the jobs child claims and
 * finishes jobs; any process enqueues), and mkpctl, which works on a bare
 * PGconn (list, retry). Every finishing statement names the job by id and
 * by the attempt that claimed it: a runner whose lease ran out and whose
 * job another runner took since changes nothing.
 */
#ifndef MKP_JOB_STORE_H
#define MKP_JOB_STORE_H

#include <stdint.h>

#include "common/defs.h"
#include "store/db.h"

/* Claim, lock, finish: the jobs child's statements. */
extern const struct db_stmt job_store_stmts[];
/* Enqueue only: what a worker registers to queue jobs from a domain command. */
extern const struct db_stmt job_store_enqueue_stmts[];

/* A claimed job; the strings belong to the struct (job_store_claimed_free). */
struct job_store_claimed {
	int64_t	 id;
	char	*kind;
	char	*payload;	/* JSON text */
	int	 attempts;	/* including the one just claimed */
	int	 max_attempts;	/* 0: the row leaves it to the kind / config */
};

/*
 * Queues a job of kind with payload (JSON text; NULL = {}) to run after
 * delay_ms. dedupe_key (may be NULL) makes the call a no-op while a job of
 * the same kind and key is queued or running. max_attempts 0 leaves the
 * limit to the kind or [jobs] max_attempts. Runs on whatever transaction
 * db is in: call it inside a domain command's transaction and the job
 * exists exactly when the command commits (NOTIFY goes out at commit).
 * *id (may be NULL) gets the new id, or 0 when deduplicated. False on a
 * store failure (db_sqlstate says which).
 */
bool	 job_store_enqueue(struct db *, const char *kind, const char *payload,
	    const char *dedupe_key, int64_t delay_ms, int max_attempts,
	    int64_t *id) MUSTCHECK;

/*
 * Claims the due job that has waited longest among kinds (a PostgreSQL
 * array literal, e.g. "{purge}"): a queued job whose run_at has come, or a
 * running one whose lease ran out. Autocommit: the lease is visible to
 * every host once this returns. DB_FOUND fills *j (free with
 * job_store_claimed_free); DB_NONE: nothing is due.
 */
enum db_found job_store_claim(struct db *, const char *kinds, int lease_secs,
	    const char *locked_by, struct job_store_claimed *j) MUSTCHECK;
void	 job_store_claimed_free(struct job_store_claimed *);

/* Moves the lease of a job we hold to now + lease_secs. */
bool	 job_store_extend(struct db *, const struct job_store_claimed *, int lease_secs) MUSTCHECK;

/*
 * Inside the job's transaction: locks the job row (other runners skip it
 * then, expired lease or not) and sets mkpd.job_id for the transaction, so
 * a trigger can tell which job made a change. DB_FOUND when the job is
 * still ours, DB_NONE when another runner took it since (roll back, do
 * nothing).
 */
enum db_found job_store_lock(struct db *, const struct job_store_claimed *) MUSTCHECK;

/*
 * The socket to poll for the NOTIFY that a job was queued, once LISTEN was
 * sent on the connection; -1 when not connected.
 */
int	 job_store_notify_fd(struct db *);
/*
 * Reads what arrived on the connection and drops the notifications: true
 * when there was one (or the connection broke: the next claim finds out
 * and reconnects).
 */
bool	 job_store_notify_drain(struct db *);

/* Inside the job's transaction, before COMMIT (autocommit for an own_tx kind): done. */
bool	 job_store_mark_done(struct db *, const struct job_store_claimed *) MUSTCHECK;
/* Autocommit: queue again after delay_ms, keeping reason as last_error. */
bool	 job_store_mark_retry(struct db *, const struct job_store_claimed *, int64_t delay_ms,
	    const char *reason) MUSTCHECK;
/* Autocommit: give up for good, keeping reason as last_error. */
bool	 job_store_mark_dead(struct db *, const struct job_store_claimed *, const char *reason) MUSTCHECK;

/*
 * mkpctl: the newest limit jobs, in state (NULL = all), as rows of
 * id, kind, state, attempts, max_attempts ("" = default), run_at (ISO
 * 8601 UTC), last_error ("" = none), locked_by ("" = never claimed).
 * NULL (the message on stderr's caller) on failure; PQclear the result.
 */
PGresult *job_store_admin_list(PGconn *, const char *state, int limit) MUSTCHECK;

enum job_store_requeue {
	JOB_STORE_REQUEUED,		/* it was dead, it is queued with fresh attempts */
	JOB_STORE_NOT_FOUND,
	JOB_STORE_NOT_DEAD,		/* state says which state it is in */
	JOB_STORE_DUPLICATE,		/* an unfinished job of the same kind and key exists */
	JOB_STORE_REQUEUE_FAILED,	/* store failure: err says why */
};

/* mkpctl jobs retry ID: queues dead job id again, to run now. */
enum job_store_requeue job_store_admin_requeue(PGconn *, int64_t id, char *state, size_t statesz,
	    char *err, size_t errlen);

#endif

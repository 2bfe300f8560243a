/*
 * runner.c: one job at a time, claimed, run and finished (see runner.h).
 *
 * Why a transaction around the handler rather than around the finish
 * alone: the job row is locked for as long as the handler runs, so no
 * other runner takes the job while this one is alive, even after its
 * lease ran out (SKIP LOCKED passes over it); and a store effect commits
 * with "done" or not at all. Only a runner whose connection is gone loses
 * the job, and then its transaction is gone with it.
 *
 * Failures are recorded after the rollback, in a statement of their own,
 * guarded by (id, attempts) like every finish: a runner that lost its job
 * to another changes nothing. A failure to record leaves the job running;
 * its lease then brings it back, which is the same outcome, later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/seal.h"
#include "jobs/runner.h"
#include "store/db.h"
#include "store/job_store.h"
#include "store/pg_array.h"

#define RUNNER_CHANNEL	"mkpd_jobs"

struct runner {
	const struct config	*cfg;
	const struct job_kind	*kinds;
	size_t			 nkinds;
	char			*kinds_lit;	/* "{"a","b"}": the claim's filter */
	char			*locked_by;
	const struct db_stmt	**sets;		/* job_store_stmts, each kind's, NULL */
	struct db		*db;
	uint64_t		 listening;	/* db_connects() when LISTEN was sent */
};

int64_t
job_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms, uint32_t rnd)
{
	int64_t	d = base_ms > 0 ? base_ms : 1;
	int	i;

	if (max_ms < 1)
		max_ms = 1;
	/* Doubling stops at the cap, so nothing overflows however many attempts. */
	for (i = 1; i < attempts && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* [d/2, d]: at least half the wait, the rest spread over hosts. */
	d = d - d / 2 + (int64_t)((uint64_t)(d / 2) * rnd / UINT32_MAX);
	return d > 0 ? d : 1;
}

enum job_outcome
job_after_failure(enum job_outcome handler_said, int attempts, int max_attempts)
{
	if (handler_said == JOB_DEAD || attempts >= max_attempts)
		return JOB_DEAD;
	return JOB_RETRY;
}

struct runner *
runner_new(const struct config *cfg, const struct job_kind *kinds, size_t n,
    const char *locked_by)
{
	struct runner	*r = xcalloc(1, sizeof(*r));
	struct buf	 lit = BUF_INIT;
	struct db_params p;
	size_t		 i, ns = 0;

	r->cfg = cfg;
	r->kinds = kinds;
	r->nkinds = n;
	r->locked_by = xstrdup(locked_by);
	pg_array_open(&lit);
	for (i = 0; i < n; i++)
		pg_array_elem(&lit, kinds[i].kind);
	pg_array_close(&lit);
	r->kinds_lit = buf_steal(&lit);
	r->sets = xcalloc(n + 2, sizeof(*r->sets));
	r->sets[ns++] = job_store_stmts;
	for (i = 0; i < n; i++) {
		size_t	j;

		if (kinds[i].stmts == NULL)
			continue;
		for (j = 0; j < ns && r->sets[j] != kinds[i].stmts; j++)
			;
		if (j == ns)
			r->sets[ns++] = kinds[i].stmts;
	}
	db_params_from_config(cfg, &p);
	r->db = db_new(cfg->dsn, &p, "mkpd-jobs", (const struct db_stmt *const *)r->sets);
	srandom((unsigned)(getpid() ^ now_ms()));
	return r;
}

void
runner_free(struct runner *r)
{
	if (r == NULL)
		return;
	db_free(r->db);
	free(r->sets);
	free(r->kinds_lit);
	free(r->locked_by);
	free(r);
}

struct db *
runner_db(struct runner *r)
{
	return r->db;
}

static const struct job_kind *
runner_kind(const struct runner *r, const char *kind)
{
	size_t	i;

	for (i = 0; i < r->nkinds; i++)
		if (strcmp(r->kinds[i].kind, kind) == 0)
			return &r->kinds[i];
	return NULL;
}

/* The job as its kind's handler sees it. */
static void
runner_job(const struct job_store_claimed *c, int max, struct job *j)
{
	j->id = c->id;
	j->kind = c->kind;
	j->payload = c->payload;
	j->attempts = c->attempts;
	j->max_attempts = max;
}

/*
 * Marks the job dead, with its kind's consequence (k->dead) in the same
 * transaction, provided this runner still holds the job.
 */
static bool
runner_mark_dead(struct runner *r, const struct job_kind *k, const struct job_store_claimed *c,
    int max, const char *reason)
{
	struct job_env	 env = { r->db, r->cfg, seal_master() };
	struct job	 j;

	if (k->dead == NULL)
		return job_store_mark_dead(r->db, c, reason);
	if (!db_begin(r->db))
		return false;
	if (job_store_lock(r->db, c) != DB_FOUND) {
		db_rollback(r->db);
		return false;
	}
	runner_job(c, max, &j);
	k->dead(&j, &env, reason);
	if (job_store_mark_dead(r->db, c, reason) && db_commit(r->db))
		return true;
	db_rollback(r->db);
	return false;
}

/*
 * Records a failed attempt: queued again after a back-off, or dead. reason
 * "" is the handler's silence.
 */
static void
runner_failed(struct runner *r, const struct job_kind *k, const struct job_store_claimed *c,
    enum job_outcome said, int max, const char *reason)
{
	const struct config	*cfg = r->cfg;
	int64_t			 delay;

	if (reason[0] == '\0')
		reason = "failed without a reason";
	if (job_after_failure(said, c->attempts, max) == JOB_RETRY) {
		delay = job_backoff_ms(c->attempts, cfg->jobs_backoff_base * 1000,
		    cfg->jobs_backoff_max * 1000, (uint32_t)random() * 2u + (uint32_t)(random() & 1));
		if (!job_store_mark_retry(r->db, c, delay, reason)) {
			log_error("job %lld (%s): cannot record the failure (%s); its "
			    "lease will bring it back", (long long)c->id, c->kind,
			    db_errmsg(r->db));
			return;
		}
		log_warn("job %lld (%s) failed (attempt %d of %d): %s; next attempt "
		    "in %lld ms", (long long)c->id, c->kind, c->attempts, max, reason,
		    (long long)delay);
		return;
	}
	if (!runner_mark_dead(r, k, c, max, reason)) {
		log_error("job %lld (%s): cannot record that it is dead (%s); its "
		    "lease will bring it back", (long long)c->id, c->kind, db_errmsg(r->db));
		return;
	}
	log_error("job %lld (%s) is dead after %d attempt%s: %s", (long long)c->id,
	    c->kind, c->attempts, c->attempts == 1 ? "" : "s", reason);
}

/* A kind that owns its transactions: run it, then finish it in autocommit. */
static void
runner_run_own(struct runner *r, const struct job_kind *k, const struct job_store_claimed *c,
    int max)
{
	struct job_env		 env = { r->db, r->cfg, seal_master() };
	struct job		 j;
	enum job_outcome	 out;
	char			 reason[512];

	runner_job(c, max, &j);
	reason[0] = '\0';
	out = k->handler(&j, &env, reason, sizeof(reason));
	if (out == JOB_DONE) {
		if (job_store_mark_done(r->db, c)) {
			log_info("job %lld (%s) done (attempt %d)", (long long)c->id,
			    c->kind, c->attempts);
			return;
		}
		log_error("job %lld (%s): cannot record that it is done (%s); its lease "
		    "will bring it back", (long long)c->id, c->kind, db_errmsg(r->db));
		return;
	}
	runner_failed(r, k, c, out, max, reason);
}

static void
runner_run(struct runner *r, const struct job_kind *k, const struct job_store_claimed *c)
{
	const struct config	*cfg = r->cfg;
	struct job_env		 env = { r->db, cfg, seal_master() };
	struct job		 j;
	enum job_outcome	 out;
	char			 reason[512];
	int			 max, lease;

	max = c->max_attempts > 0 ? c->max_attempts :
	    k->max_attempts > 0 ? k->max_attempts : (int)cfg->jobs_max_attempts;
	lease = k->lease > 0 ? k->lease : (int)cfg->jobs_lease;
	if (lease != cfg->jobs_lease && !job_store_extend(r->db, c, lease))
		log_warn("job %lld (%s): cannot set its lease to %ds", (long long)c->id,
		    c->kind, lease);
	if (c->attempts > max) {
		/* Claimed again after its last attempt's lease ran out. */
		snprintf(reason, sizeof(reason), "its runner stopped (died or lost "
		    "the store) during each of %d attempts", max);
		runner_failed(r, k, c, JOB_DEAD, max, reason);
		return;
	}
	if (k->own_tx) {
		runner_run_own(r, k, c, max);
		return;
	}
	if (!db_begin(r->db)) {
		log_error("job %lld (%s): cannot begin (%s); its lease will bring it back",
		    (long long)c->id, c->kind, db_errmsg(r->db));
		return;
	}
	switch (job_store_lock(r->db, c)) {
	case DB_FOUND:
		break;
	case DB_FAILED:
		db_rollback(r->db);
		log_error("job %lld (%s): cannot lock it (%s); its lease will bring "
		    "it back", (long long)c->id, c->kind, db_errmsg(r->db));
		return;
	case DB_NONE:
		db_rollback(r->db);
		log_notice("job %lld (%s): another runner took it after our lease "
		    "ran out; leaving it", (long long)c->id, c->kind);
		return;
	}
	runner_job(c, max, &j);
	reason[0] = '\0';
	log_debug("%s: job %lld (%s) attempt %d of %d", __func__, (long long)c->id,
	    c->kind, c->attempts, max);
	out = k->handler(&j, &env, reason, sizeof(reason));
	if (out == JOB_DONE) {
		if (job_store_mark_done(r->db, c) && db_commit(r->db)) {
			log_info("job %lld (%s) done (attempt %d)", (long long)c->id,
			    c->kind, c->attempts);
			return;
		}
		snprintf(reason, sizeof(reason), "could not commit: %s", db_errmsg(r->db));
		out = JOB_RETRY;
	}
	db_rollback(r->db);
	runner_failed(r, k, c, out, max, reason);
}

enum runner_step
runner_step(struct runner *r)
{
	struct job_store_claimed	 c;
	const struct job_kind	*k;

	switch (job_store_claim(r->db, r->kinds_lit, (int)r->cfg->jobs_lease, r->locked_by, &c)) {
	case DB_FOUND:
		break;
	case DB_NONE:
		return RUNNER_IDLE;
	case DB_FAILED:
		return RUNNER_TROUBLE;
	}
	if ((k = runner_kind(r, c.kind)) == NULL)
		fatalx("job %lld: claimed kind %s that is not ours", (long long)c.id, c.kind);
	runner_run(r, k, &c);
	job_store_claimed_free(&c);
	return RUNNER_RAN;
}

int
runner_listen_fd(struct runner *r)
{
	if (!db_ensure(r->db))
		return -1;
	if (r->listening != db_connects(r->db)) {
		/* A new connection: the server forgot our LISTEN with the old one. */
		if (!db_command(r->db, "LISTEN " RUNNER_CHANNEL))
			return -1;
		r->listening = db_connects(r->db);
	}
	return job_store_notify_fd(r->db);
}

bool
runner_drain_notifies(struct runner *r)
{
	return job_store_notify_drain(r->db);
}

/*
 * jobs_child.c: the jobs child's process shell around src/jobs/runner.c (see
 * jobs_child.h): name, privileges, signals, the periodic jobs and the wait.
 *
 * Signals are blocked while a job runs and taken only inside ppoll (the
 * wait) and at the top of each turn (child_tick), as in a worker: a stop
 * takes effect between jobs, never inside one, and the runner's libpq
 * calls see no EINTR. The wait is on the store connection's socket, where
 * NOTIFY mkpd_jobs arrives, so a job queued on any host wakes every idle
 * jobs child at its commit; poll_interval bounds the wait for jobs that
 * come due by time (retries, delayed jobs).
 */
#include <config.h>		/* autoconf: _GNU_SOURCE first */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "jobs/kinds.h"
#include "jobs/purge.h"
#include "jobs/usage_push.h"
#include "jobs/runner.h"
#include "pool/child.h"
#include "pool/jobs_child.h"
#include "pool/listener.h"
#include "pool/priv.h"
#include "store/status_store.h"

#define J_TROUBLE_MS	1000	/* wait after the store failed */
#define J_HOUR_MS	3600000
#define J_HOUR_DELAY_MS	5000	/* the push after an hour ends: this much past it */

/*
 * Monotonic time (base: mono now) of the next push: push_interval from
 * now, or a few seconds past the next UTC hour when that comes first, so
 * the hour that ended is pushed in the first minutes of the next whatever
 * the interval (spec/README.md reading 9).
 */
static int64_t
jobs_next_push(int64_t mono, int64_t interval_s)
{
	int64_t	 wall = now_ms(), at;

	at = wall - wall % J_HOUR_MS + J_HOUR_DELAY_MS;
	if (at <= wall)
		at += J_HOUR_MS;
	if (at - wall < interval_s * 1000)
		return mono + (at - wall);
	return mono + interval_s * 1000;
}

/*
 * Waits up to ms for a notification, a signal or the end of the time;
 * without a connection just sleeps (the next claim reconnects).
 */
static void
jobs_wait(struct runner *r, int64_t ms)
{
	struct pollfd	 pfd;
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };
	int		 n;

	pfd.fd = runner_listen_fd(r);
	pfd.events = POLLIN;
	pfd.revents = 0;
	/* Notifications that came with earlier results are already read. */
	if (pfd.fd >= 0 && runner_drain_notifies(r))
		return;
	n = ppoll(pfd.fd >= 0 ? &pfd : NULL, pfd.fd >= 0 ? 1 : 0, &ts, &child_wait_mask);
	if (n < 0 && errno != EINTR)
		fatal("ppoll");
	if (n > 0)
		(void)runner_drain_notifies(r);
}

static const char *
jobs_loop(const struct jobs_args *a, struct runner *r)
{
	const struct config	*cfg = a->cfg;
	int64_t			 next_purge = 0, next_push = 0, now, wait;
	enum runner_step	 st = RUNNER_IDLE;
	const char		*why;

	for (;;) {
		if ((why = child_tick(a->master)) != NULL)
			return why;
		now = mono_ms();
		if (cfg->jobs_purge_interval > 0 && now >= next_purge) {
			if (purge_enqueue(runner_db(r)))
				next_purge = now + cfg->jobs_purge_interval * 1000;
			else
				next_purge = now + J_TROUBLE_MS;
		}
		if (cfg->usage_push_interval > 0 && now >= next_push) {
			if (usage_push_enqueue(runner_db(r)))
				next_push = jobs_next_push(now, cfg->usage_push_interval);
			else
				next_push = now + J_TROUBLE_MS;
		}
		/*
		 * child_tick above took the signals that came while the last job
		 * ran (with jobs due one after another the loop never waits, and a
		 * stop used to wait for the whole backlog) or while the child
		 * started (a reload's stop that came while it connected used to
		 * be seen after its first job, run with the old config).
		 */
		st = runner_step(r);
		if (st == RUNNER_RAN)
			continue;
		wait = st == RUNNER_TROUBLE ? J_TROUBLE_MS : cfg->jobs_poll_interval;
		if (cfg->jobs_purge_interval > 0 && next_purge - now < wait)
			wait = next_purge - now > 0 ? next_purge - now : 0;
		if (cfg->usage_push_interval > 0 && next_push - now < wait)
			wait = next_push - now > 0 ? next_push - now : 0;
		jobs_wait(r, wait);
	}
}

/*
 * Says at start what an acknowledged call survives (one store query on a
 * connection of its own, closed at once); the status child says it again
 * when it changes.
 */
static void
jobs_log_durability(const struct config *cfg)
{
	static const struct db_stmt *const sets[] = { status_store_stmts, NULL };
	struct store_figures	 f;
	struct db_params	 p;
	struct db		*db;

	db_params_from_config(cfg, &p);
	db = db_new(cfg->dsn, &p, "mkpd-jobs", sets);
	if (status_store_figures(db, &f))
		status_store_log_durability(&f);
	db_free(db);
}

void
jobs_main(const struct jobs_args *a)
{
	struct runner	*r;
	char		 err[256], host[128], id[200];
	const char	*why;

	log_set_tag("jobs");
	/* What ps, top and /proc/PID/comm show; at most 15 characters. */
	if (prctl(PR_SET_NAME, "mkpd-jobs", 0, 0, 0) < 0)
		log_warn("prctl(PR_SET_NAME): %s", strerror(errno));
	child_signals();
	close(a->lsn->fd);	/* before stdio: the socket may be fd 0 */
	child_stdio();
	if (!priv_drop(a->priv, err, sizeof(err)))
		fatalx("cannot drop privileges: %s", err);
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(id, sizeof(id), "%s:%d", host, (int)getpid());

	r = runner_new(a->cfg, job_kinds, job_kinds_count, id);
	jobs_log_durability(a->cfg);
	log_info("ready (%s)", id);
	why = jobs_loop(a, r);
	log_info("exiting: %s", why);
	runner_free(r);
	exit(0);
}

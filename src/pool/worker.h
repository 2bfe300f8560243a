/*
 * worker.h: one worker process, from fork to exit.
 *
 * A worker drops privileges, initialises the app, then serves requests one
 * at a time from the shared listening socket until one of:
 *   - SIGQUIT or SIGTERM (graceful: the current request finishes first);
 *   - max_requests served (recycling; 0 = never);
 *   - idle_timeout seconds without a request, under pm = ondemand;
 *   - the master is gone (getppid changed).
 * Exit status 0 for all of these; 1 when the app's init fails or a fatal
 * error occurs, which the master counts as a crash.
 */
#ifndef MKP_POOL_WORKER_H
#define MKP_POOL_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include "common/defs.h"

struct config;
struct listener;
struct priv;
struct scoreboard;

struct worker_args {
	const struct config	*cfg;		/* this worker's generation's config */
	const struct listener	*lsn;
	const struct priv	*priv;
	struct scoreboard	*sb;
	int			 slot;		/* our scoreboard slot, also our number */
	uint32_t		 generation;
	pid_t			 master;	/* the master's pid */
};

/*
 * Runs the worker; never returns. Call in the child right after fork,
 * with every signal blocked and the master's handlers reset
 * (signals_child_reset). The args and what they point to are the child's
 * copy of the master's memory.
 */
void	 worker_main(const struct worker_args *) NORETURN;

#endif

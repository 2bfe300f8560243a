/*
 * jobs_child.h: the jobs child, from fork to exit.
 *
 * The master forks one beside the workers when [jobs] enabled is true. It
 * holds no scoreboard slot and is no worker: the pm neither counts nor
 * sizes it. It names itself "mkpd-jobs" (prctl PR_SET_NAME, what ps and
 * /proc/PID/comm show), drops privileges as workers do, opens its own
 * store connection and loops: queue the periodic jobs that are due (the
 * nonce purge), claim and run due jobs until none is left, then wait for
 * NOTIFY mkpd_jobs or poll_interval, whichever comes first.
 *
 * It exits 0 on SIGQUIT or SIGTERM after the job in hand (the master
 * kills it after shutdown_timeout), and when the master is gone. SIGUSR1
 * reopens the log. Any other exit is a crash the master answers with a
 * respawn after a back-off.
 */
#ifndef MKP_POOL_JOBS_CHILD_H
#define MKP_POOL_JOBS_CHILD_H

#include <sys/types.h>

#include "common/defs.h"

struct config;
struct listener;
struct priv;

struct jobs_args {
	const struct config	*cfg;
	const struct listener	*lsn;		/* closed at once: jobs serve no request */
	const struct priv	*priv;
	pid_t			 master;
};

/*
 * Runs the jobs child; never returns. Call in the child right after fork,
 * with every signal blocked and the master's handlers reset
 * (signals_child_reset).
 */
void	 jobs_main(const struct jobs_args *) NORETURN;

#endif

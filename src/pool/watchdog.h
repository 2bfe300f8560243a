/*
 * watchdog.h: request control, the master's once a tick, from the
 * scoreboard (php-fpm's request_slowlog_timeout and
 * request_terminate_timeout).
 *
 * A worker BUSY past request_slowlog_timeout is logged once per request
 * (activity and ids, which the app publishes in its slot) and counted;
 * past request_terminate_timeout it gets SIGUSR2, whose handler answers
 * the caller 000005 and exits (worker.c); WATCHDOG_GRACE_MS later the
 * master kills it if it has not ended. Workers of every generation are
 * watched: an old one's request is as stuck.
 */
#ifndef MKP_POOL_WATCHDOG_H
#define MKP_POOL_WATCHDOG_H

#include <stdint.h>
#include <sys/types.h>

#include "common/defs.h"

#define WATCHDOG_GRACE_MS	2000	/* after SIGUSR2, before SIGKILL */

struct config;
struct scoreboard;

/* What the watchdog keeps per worker (zeroed with the slot). */
struct watchdog {
	int64_t	 slow_logged;	/* req_start_mono of the request logged slow */
	int64_t	 term_sent;	/* mono ms of SIGUSR2, 0 = not */
};

/*
 * Looks at the live worker pid in slot: logs a slow request, sends
 * SIGUSR2 to a stuck one. True when the worker must be killed now (it
 * did not end WATCHDOG_GRACE_MS after SIGUSR2 and killed is false).
 */
bool	 watchdog_check(const struct config *, struct scoreboard *, int slot, pid_t pid,
	    bool killed, struct watchdog *, int64_t now);

#endif

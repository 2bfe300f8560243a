/*
 * pm.h: the pool's size, as php-fpm's process manager reckons it.
 *
 *   static    max_children workers, always;
 *   dynamic   start_servers at start; at least min_spare_servers idle or
 *             starting, one more when connections wait and none is idle,
 *             the longest idle one retired while more than
 *             max_spare_servers are idle;
 *   ondemand  none at start; one more when connections wait and none is
 *             idle or starting (workers leave after idle_timeout,
 *             on their own).
 * Never more than max_children of the current generation.
 *
 * Pure arithmetic over the counts the master takes from the scoreboard:
 * no process, no clock; unit-tested in test/unit/check_pm.c.
 */
#ifndef MKP_POOL_PM_H
#define MKP_POOL_PM_H

#include "common/defs.h"

struct config;

/* Current-generation workers not asked to quit, by state. */
struct pm_counts {
	int	total, starting, idle, busy;
};

struct pm_decision {
	int	start;		/* workers to start now */
	bool	retire;		/* retire the worker idle the longest */
};

/* Workers to start with (at start, and a new generation at reload). */
int	 pm_initial(const struct config *);
/* What to do now; waiting: connections wait in the listen queue. */
struct pm_decision pm_decide(const struct config *, const struct pm_counts *,
	    bool waiting);
/*
 * Whether the master should watch the listening socket: no worker could
 * take a connection now and the pm would start one for it.
 */
bool	 pm_watch(const struct config *, const struct pm_counts *);

#endif

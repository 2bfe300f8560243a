/*
 * change.h: the "change" job, queued by a renewal, upgrade, freeze,
 * unfreeze or release (domain/instance.c queue_change) when something must
 * follow it: an upgrade's or renewal's order is read from the marketplace
 * and applied (product, SKU, expiry), and the seller's hook hears of the
 * change (event renew, upgrade, freeze, unfreeze or release).
 */
#ifndef MKP_CHANGE_H
#define MKP_CHANGE_H

#include "jobs/runner.h"

enum job_outcome change_run(const struct job *, struct job_env *, char *reason,
	    size_t reasonlen);

#endif

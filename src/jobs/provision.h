/*
 * provision.h: the "provision" job, queued by newInstance when an instance
 * provisions in the background (instance_provisions_later): read the
 * order from the marketplace (never for debug instances), run the
 * seller's hook (or the built-in generator), and make the instance active
 * with the access data; after the retry budget, or on an order the
 * marketplace refuses, the instance is failed with the reason.
 */
#ifndef MKP_PROVISION_H
#define MKP_PROVISION_H

#include "jobs/runner.h"

enum job_outcome provision_run(const struct job *, struct job_env *, char *reason,
	    size_t reasonlen);

/* The job died: the instance is failed with the reason, in the same transaction. */
void	 provision_dead(const struct job *, struct job_env *, const char *reason);

#endif

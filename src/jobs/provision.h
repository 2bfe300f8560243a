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

#include "common/buf.h"
#include "jobs/runner.h"
#include "net/marketplace.h"

enum job_outcome provision_run(const struct job *, struct job_env *, char *reason,
	    size_t reasonlen);

/*
 * Reads order_id/order_line_id with the [marketplace] credentials; MKT_OK
 * fills o, otherwise reason says why (MKT_RETRYABLE: try again later).
 */
enum mkt_status provision_read_order(const struct config *, const char *order_id,
	    const char *order_line_id, struct order_info *o, char *reason, size_t len);

/* Appends the printable tail of a hook's stderr to reason. */
void	 provision_add_stderr(char *reason, size_t len, const struct buf *err);

/* The job died: the instance is failed with the reason, in the same transaction. */
void	 provision_dead(const struct job *, struct job_env *, const char *reason);

#endif

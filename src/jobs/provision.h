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

struct dom_call;
struct dom_ctx;
struct hook_result;
struct instance_row;

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

/*
 * What the instance jobs (provision, change, package_hook) share:
 *
 * provision_dom: the domain's view of a job, ctx from env and, when call
 * is not NULL, a call named "job:ID" (written to call_id).
 *
 * provision_load: the job's instance into row (instance_load). False with
 * reason and *out: JOB_DEAD when there is no such instance, JOB_RETRY when
 * the store failed.
 *
 * provision_hook: runs [jobs] hook for event with doc on its stdin (res
 * initialised by the caller). False with reason "hook PATH EVENT: why",
 * and the tail of its stderr.
 */
void	 provision_dom(const struct job *, const struct job_env *, struct dom_ctx *,
	    struct dom_call *, char call_id[32]);
bool	 provision_load(const struct dom_ctx *, const char *instance_id, struct instance_row *,
	    enum job_outcome *out, char *reason, size_t len) MUSTCHECK;
bool	 provision_hook(const struct config *, const char *event, const struct buf *doc,
	    struct hook_result *, char *reason, size_t len) MUSTCHECK;

/* The job died: the instance is failed with the reason, in the same transaction. */
void	 provision_dead(const struct job *, struct job_env *, const char *reason);

#endif

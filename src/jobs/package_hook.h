/*
 * package_hook.h: the "package_hook" job: tells the seller's application
 * what its buyer's packages did (issue 15).
 *
 * Queued by the store in the transaction that changed the balance
 * (mkp_package_account_check, schema 014): payload {"instanceId": the
 * on-demand instance, "event": "quota_low" | "exhausted" | "resumed",
 * "threshold": percent (quota_low)}. The hook ([app] hook) runs with that
 * event and the usual document (hook_doc.h, "order" and "buyer" null)
 * plus "package":{"quota","drawn","remaining","unit","mode","packages",
 * "threshold"}: amounts as decimal strings, over the instance's live
 * packages when the hook runs. Without a hook the job is done at once.
 */
#ifndef MKP_JOBS_PACKAGE_HOOK_H
#define MKP_JOBS_PACKAGE_HOOK_H

#include "jobs/runner.h"

enum job_outcome package_hook_run(const struct job *, struct job_env *, char *reason,
	    size_t reasonlen);

#endif

/*
 * kinds.c: the table of job kinds (see kinds.h). A host claims only the
 * kinds in its own table, so hosts of different versions can share one
 * queue during an upgrade: a kind an old host does not know waits for a
 * new one instead of dying.
 */
#include "common/util.h"
#include "jobs/kinds.h"
#include "jobs/change.h"
#include "jobs/package_hook.h"
#include "jobs/provision.h"
#include "jobs/purge.h"
#include "jobs/usage_push.h"
#include "store/instance_store.h"
#include "store/nonce.h"
#include "store/package_store.h"
#include "store/usage_store.h"

const struct job_kind job_kinds[] = {
	/* kind        handler        max_attempts lease stmts                 dead   own_tx */
	{ "purge",     purge_run,     0,           0,    nonce_stmts,          NULL,  false },
	{ "provision", provision_run, 0,           0,    instance_store_stmts, provision_dead,
	  false },
	{ "change",    change_run,    0,           0,    instance_store_stmts, NULL,  false },
	/* own_tx: the push commits its claim before the HTTP call (usage_push.h). */
	{ "usage_push", usage_push_run, 0,         0,    usage_store_stmts,    NULL, true },
	{ "package_hook", package_hook_run, 0,     0,    package_store_stmts,  NULL, false },
};

const size_t job_kinds_count = sizeof(job_kinds) / sizeof(job_kinds[0]);

/*
 * worker.c: see worker.h.
 */
#include <string.h>

#include "domain/worker.h"
#include "store/job_store.h"
#include "store/instance_store.h"
#include "store/kit_store.h"
#include "store/nonce.h"
#include "store/package_store.h"
#include "store/usage_store.h"

/* job_store_enqueue_stmts: domain commands queue jobs in their own transaction. */
static const struct db_stmt *const worker_stmts[] = {
	nonce_stmts, audit_stmts, instance_store_stmts, job_store_enqueue_stmts, kit_store_stmts,
	usage_store_stmts, package_store_stmts, NULL,
};

void
dom_open(struct dom_ctx *ctx, const struct config *cfg, const struct seal_key *seal,
    const char *spool_path)
{
	struct db_params	 p;

	memset(ctx, 0, sizeof(*ctx));
	db_params_from_config(cfg, &p);
	ctx->db = db_new(cfg->dsn, &p, "mkpd", worker_stmts);
	if (spool_path != NULL)
		db_set_spool(ctx->db, spool_path, cfg->spool_max);
	ctx->cfg = cfg;
	ctx->seal = seal;
	/* Connect now to fail early in the log. */
	(void)!db_ensure(ctx->db);
}

void
dom_record(struct dom_ctx *ctx, const struct audit *a)
{
	audit_record(ctx->db, a);
}

void
dom_flush(struct dom_ctx *ctx)
{
	if (ctx->db != NULL)
		db_flush(ctx->db);
}

bool
dom_pending(const struct dom_ctx *ctx)
{
	return ctx->db != NULL && (db_deferred(ctx->db) > 0 || db_spool_bytes(ctx->db) > 0);
}

bool
dom_flush_due(const struct dom_ctx *ctx)
{
	return ctx->db != NULL && db_journal_due(ctx->db);
}

void
dom_close(struct dom_ctx *ctx)
{
	db_free(ctx->db);
	ctx->db = NULL;
}

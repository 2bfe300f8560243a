/*
 * claim.c: see claim.h. The transport is the store's prelude (db.h): set
 * here before the command's first statement, read here when a statement
 * fails, forgotten when the call ends.
 */
#include <stdio.h>
#include <string.h>

#include "domain/claim.h"
#include "store/nonce.h"

void
dom_claim(const struct dom_ctx *ctx, struct dom_call *call)
{
	if (call->replay_key == NULL || call->claimed)
		return;
	nonce_prelude(ctx->db, call->replay_space, call->replay_key,
	    2 * ctx->cfg->time_window, call->call_id);
	call->claimed = true;
}

void
dom_claim_undone(struct dom_call *call)
{
	call->claimed = false;
}

bool
dom_claim_failed(const struct dom_ctx *ctx, struct dom_call *call, enum dom_status *st)
{
	const char	*state;

	if (call->replay_key == NULL || db_prelude_state(ctx->db) != DB_PRELUDE_FAILED)
		return false;
	state = db_prelude_sqlstate(ctx->db);
	if (strcmp(state, DB_SQLSTATE_REPLAY) == 0) {
		snprintf(call->reason, sizeof(call->reason), "already used (replay)");
		*st = DOM_REPLAY;
	} else if (db_state_is_content(state)) {
		snprintf(call->reason, sizeof(call->reason),
		    "refused by the store (sqlstate %s)", state);
		call->claim_refused = true;
		*st = DOM_INVALID;
	} else {
		snprintf(call->reason, sizeof(call->reason), "store unavailable (sqlstate %s)",
		    state);
		*st = DOM_STORE;
	}
	return true;
}

void
dom_claim_settle(const struct dom_ctx *ctx, struct dom_call *call)
{
	if (call->replay_key == NULL || !call->claimed || !db_commit(ctx->db))
		db_rollback(ctx->db);
}

void
dom_call_end(const struct dom_ctx *ctx, struct dom_call *call)
{
	(void)call;
	db_prelude_reset(ctx->db);
}

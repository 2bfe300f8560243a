/*
 * kit.c: the Kit sync commands. One transaction per call: the nonce claim
 * rides with BEGIN (domain/claim.h), every object of the call is applied by its
 * store function (which keeps the ordering rules of reading 7), and the
 * commit makes the answer 000000. A store failure rolls everything back:
 * the marketplace retries the whole call, which is idempotent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "crypto/seal.h"
#include "domain/claim.h"
#include "domain/kit.h"
#include "store/kit_store.h"

struct tally {
	size_t	n[3];	/* by enum kit_outcome */
};

static enum dom_status
failed(const struct dom_ctx *ctx, struct dom_call *call)
{
	enum dom_status	st;

	db_rollback(ctx->db);
	if (dom_claim_failed(ctx, call, &st))
		return st;
	if (db_state_is_content(db_sqlstate(ctx->db))) {
		snprintf(call->reason, sizeof(call->reason),
		    "the store refused a value of the call (sqlstate %s)", db_sqlstate(ctx->db));
		log_notice("kit call %s: %s", call->call_id, call->reason);
		return DOM_INVALID;
	}
	snprintf(call->reason, sizeof(call->reason), "store unavailable");
	return DOM_STORE;
}

static enum dom_status
commit(const struct dom_ctx *ctx, struct dom_call *call, const struct tally *t,
    const char *extra)
{
	if (!db_commit(ctx->db))
		return failed(ctx, call);
	snprintf(call->reason, sizeof(call->reason), "applied %zu, unchanged %zu, stale %zu%s%s",
	    t->n[KIT_APPLIED], t->n[KIT_SAME], t->n[KIT_STALE],
	    extra != NULL ? "; " : "", extra != NULL ? extra : "");
	return DOM_OK;
}

enum dom_status
kit_tenant_sync(const struct dom_ctx *ctx, struct dom_call *call, const struct kit_scope *s,
    const struct kit_tenant *t)
{
	struct tally		tl = { { 0 } };
	enum kit_outcome	o;

	dom_claim(ctx, call);
	if (!db_begin(ctx->db))
		return failed(ctx, call);
	if (!kit_store_tenant(ctx->db, s->tenant_id, t->tenant_code, t->name, t->domain_name,
	    s->instance_id, t->order_id, call->is_test, s->flag, s->stamp, call->call_id, &o))
		return failed(ctx, call);
	tl.n[o]++;
	return commit(ctx, call, &tl, NULL);
}

enum dom_status
kit_app_sync(const struct dom_ctx *ctx, struct dom_call *call, const struct kit_scope *s,
    const struct kit_app *a)
{
	struct tally		tl = { { 0 } };
	struct buf		sealed = BUF_INIT;
	enum kit_outcome	o;
	bool			ok;

	if (a->secret != NULL) {
		if (ctx->seal == NULL) {
			snprintf(call->reason, sizeof(call->reason), "no master key to seal with");
			return DOM_STORE;
		}
		seal(ctx->seal, a->secret, a->secret_len, &sealed);
	}
	dom_claim(ctx, call);
	if (!db_begin(ctx->db)) {
		buf_free(&sealed);
		return failed(ctx, call);
	}
	ok = kit_store_app(ctx->db, s->tenant_id, a->app_id, a->client_id,
	    a->secret != NULL ? buf_cstr(&sealed) : NULL, a->secret_as_received,
	    s->instance_id, call->is_test, s->flag, s->stamp, call->call_id, &o);
	buf_free(&sealed);
	if (!ok)
		return failed(ctx, call);
	tl.n[o]++;
	return commit(ctx, call, &tl, a->secret_as_received ?
	    "debug secret stored as received" : NULL);
}

enum dom_status
kit_auth_sync(const struct dom_ctx *ctx, struct dom_call *call, const struct kit_scope *s,
    const char *app_id, const char *sync_time, const struct kit_user *u, size_t n)
{
	struct tally		  tl = { { 0 } };
	const char		*(*v)[KIT_USER_NVALS];
	size_t			  i;
	bool			  ok;

	/* One statement for the whole list: a round trip, not n. */
	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i][0] = u[i].user_name;
		v[i][1] = app_id;
		v[i][2] = u[i].name;
		v[i][3] = u[i].org_code;
		v[i][4] = u[i].role;
		v[i][5] = u[i].enable;
		v[i][6] = u[i].position;
		v[i][7] = u[i].employee_code;
		v[i][8] = u[i].employee_type;
		v[i][9] = u[i].mobile;
		v[i][10] = u[i].email;
		v[i][11] = u[i].work_place;
		v[i][12] = u[i].entry_date;
		v[i][13] = u[i].extension;
	}
	dom_claim(ctx, call);
	if (!db_begin(ctx->db)) {
		free(v);
		return failed(ctx, call);
	}
	ok = kit_store_users(ctx->db, s->tenant_id, (const char *const (*)[KIT_USER_NVALS])v,
	    n, s->instance_id, call->is_test, s->flag, s->stamp, sync_time, call->call_id,
	    tl.n);
	free(v);
	if (!ok)
		return failed(ctx, call);
	return commit(ctx, call, &tl, NULL);
}

enum dom_status
kit_org_sync(const struct dom_ctx *ctx, struct dom_call *call, const struct kit_scope *s,
    const struct kit_org *g, size_t n, bool full)
{
	struct tally		tl = { { 0 } };
	enum kit_outcome	o;
	enum dom_status		st;
	char			*orphans = NULL, extra[128];
	int64_t			pruned = 0;
	size_t			i;

	dom_claim(ctx, call);
	if (!db_begin(ctx->db))
		return failed(ctx, call);
	if (full || s->flag != KIT_FLAG_DELETE) {
		/* One statement for the list: a full sync of 20 000 stays fast. */
		const char	**v = xcalloc(3 * (n > 0 ? n : 1), sizeof(*v));
		bool		  ok;

		for (i = 0; i < n; i++) {
			v[i] = g[i].org_code;
			v[n + i] = g[i].name;
			v[2 * n + i] = g[i].parent_code;
		}
		ok = kit_store_orgs_set(ctx->db, s->tenant_id, v, v + n, v + 2 * n, n,
		    s->instance_id, call->is_test, s->stamp, call->call_id, tl.n);
		free(v);
		if (!ok)
			return failed(ctx, call);
	} else {
		for (i = 0; i < n; i++) {
			if (!kit_store_org(ctx->db, s->tenant_id, g[i].org_code, g[i].name,
			    g[i].parent_code, s->instance_id, call->is_test, s->flag,
			    s->stamp, call->call_id, &o))
				return failed(ctx, call);
			tl.n[o]++;
		}
	}
	if (full && ctx->cfg->kit_prune_full_sync &&
	    !kit_store_org_prune(ctx->db, s->tenant_id, s->stamp, call->is_test,
	    call->call_id, &pruned))
		return failed(ctx, call);
	if (!kit_store_org_paths(ctx->db, s->tenant_id, &orphans))
		return failed(ctx, call);
	extra[0] = '\0';
	if (pruned > 0)
		snprintf(extra, sizeof(extra), "pruned %lld", (long long)pruned);
	if (orphans != NULL) {
		/* Reading 7: kept, not rejected; the seller hears of it. */
		log_warn("kit: tenant %s: departments whose parent is unknown: %s",
		    s->tenant_id, orphans);
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
		    "%sparent unknown: %.80s", extra[0] ? "; " : "", orphans);
	}
	free(orphans);
	st = commit(ctx, call, &tl, extra[0] ? extra : NULL);
	return st;
}

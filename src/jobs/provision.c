/*
 * provision.c: the provisioning job.
 *
 * It runs in the job runner's transaction (runner.h): the instance row is
 * locked while the order is read and the hook runs, and the instance
 * turns active in the same commit that marks the job done. If the process
 * dies between the hook and the commit the job runs again: the hook must
 * be idempotent per instanceId (the example hooks are).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "domain/instance.h"
#include "domain/package.h"
#include "jobs/hook.h"
#include "jobs/hook_doc.h"
#include "jobs/provision.h"
#include "net/marketplace.h"

#define REASON_STDERR_MAX	400	/* of a failed hook's stderr, kept on the job */

static bool
payload_instance(const char *payload, char id[65])
{
	char		 err[128];
	struct json	*v = json_parse(payload, strlen(payload), 4, err, sizeof(err));
	const char	*s = v != NULL ? json_get_str(v, "instanceId") : NULL;
	bool		 ok = s != NULL && *s != '\0' && str_copy(id, 65, s);

	json_free(v);
	return ok;
}

void
provision_dom(const struct job *job, const struct job_env *env, struct dom_ctx *ctx,
    struct dom_call *call, char call_id[32])
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->db = env->db;
	ctx->cfg = env->cfg;
	ctx->seal = env->seal;
	if (call == NULL)
		return;
	snprintf(call_id, 32, "job:%lld", (long long)job->id);
	memset(call, 0, sizeof(*call));
	call->call_id = call_id;
}

bool
provision_load(const struct dom_ctx *ctx, const char *id, struct instance_row *row,
    enum job_outcome *out, char *reason, size_t len)
{
	switch (instance_load(ctx, id, row)) {
	case DOM_OK:
		return true;
	case DOM_NOT_FOUND:
		snprintf(reason, len, "instance %s does not exist", id);
		*out = JOB_DEAD;
		return false;
	default:
		snprintf(reason, len, "store failed reading instance %s: %s", id,
		    db_errmsg(ctx->db));
		*out = JOB_RETRY;
		return false;
	}
}

/* Appends the tail of a hook's stderr to reason, one line, printable. */
void
provision_add_stderr(char *reason, size_t len, const struct buf *err)
{
	size_t	n = strlen(reason), from = err->len > REASON_STDERR_MAX ?
		    err->len - REASON_STDERR_MAX : 0;

	if (err->len == 0 || n + 12 >= len)
		return;
	n += (size_t)snprintf(reason + n, len - n, "; stderr: ");
	for (size_t i = from; i < err->len && n + 1 < len; i++) {
		unsigned char c = (unsigned char)err->data[i];

		reason[n++] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
	}
	reason[n] = '\0';
}

bool
provision_hook(const struct config *cfg, const char *event, const struct buf *doc,
    struct hook_result *res, char *reason, size_t len)
{
	char	why[256];

	if (hook_run(cfg->hook, event, doc->data, doc->len, cfg->hook_timeout, res, why,
	    sizeof(why)))
		return true;
	snprintf(reason, len, "hook %s %s: %s", cfg->hook, event, why);
	provision_add_stderr(reason, len, &res->err);
	return false;
}

/* A V1 purchase's line: the one selling its product (else the only one). */
static const struct order_line *
line_of_product(const struct order_info *o, const char *product_id)
{
	size_t	i, j;

	for (i = 0; i < o->nlines; i++)
		for (j = 0; j < o->lines[i].nproducts; j++)
			if (o->lines[i].products[j].product_id != NULL &&
			    strcmp(o->lines[i].products[j].product_id, product_id) == 0)
				return &o->lines[i];
	return o->nlines == 1 ? &o->lines[0] : NULL;
}

enum mkt_status
provision_read_order(const struct config *cfg, const char *order_id,
    const char *order_line_id, struct order_info *o, char *reason, size_t len)
{
	struct mkt_client	 c;
	struct mkt_result	 res;
	enum mkt_status		 st;

	mkt_client_config(cfg, &c);
	st = mkt_query_order(&c, order_id, order_line_id, o, &res);
	if (st != MKT_OK)
		snprintf(reason, len, "order query %s/%s: %s (HTTP %ld, %s %s)", order_id,
		    order_line_id, mkt_status_name(st), res.http_status,
		    res.code[0] ? res.code : "-", res.message);
	return st;
}

enum job_outcome
provision_run(const struct job *job, struct job_env *env, char *reason, size_t len)
{
	const struct config	*cfg = env->cfg;
	struct dom_ctx		 ctx;
	struct dom_call		 call;
	struct instance_row	 row;
	struct order_info	 order;
	struct app_info		 app;
	struct hook_result	 hook;
	struct buf		 doc = BUF_INIT, order_json = BUF_INIT;
	const struct order_line	*line = NULL;
	const char		*product = NULL, *sku = NULL, *mode = NULL;
	char			 id[65], call_id[32], why[256];
	bool			 have_order = false, have_app = false;
	int64_t			 expire_ms = -1;
	enum job_outcome	 out = JOB_RETRY;
	enum dom_status		 st;

	if (!payload_instance(job->payload, id)) {
		snprintf(reason, len, "payload names no instanceId");
		return JOB_DEAD;
	}
	provision_dom(job, env, &ctx, &call, call_id);
	order_info_init(&order);
	memset(&app, 0, sizeof(app));
	hook_result_init(&hook);
	if (!provision_load(&ctx, id, &row, &out, reason, len))
		goto done;
	if (strcmp(row.state, "provisioning") != 0 && strcmp(row.state, "failed") != 0) {
		log_info("instance %s is %s already: nothing to provision", id, row.state);
		out = JOB_DONE;
		goto done;
	}

	/* Debug instances never reach the marketplace's order API (reading 6). */
	if (!row.is_test && cfg->mkt_ak != NULL && cfg->mkt_ak[0] != '\0') {
		bool		v1 = instance_line_is_v1(row.order_line_id);
		enum mkt_status ms = provision_read_order(cfg, row.order_id,
		    v1 ? NULL : row.order_line_id, &order, reason, len);

		/*
		 * Any refusal is retried too, within max_attempts: an unknown
		 * order may not be visible yet, a refused signature may be a
		 * rotated key or a clock being fixed.
		 */
		if (ms != MKT_OK)
			goto done;
		have_order = true;
		line = v1 ? line_of_product(&order,
		    row.order_line_id + strlen(INSTANCE_V1_LINE)) :
		    order_info_line(&order, row.order_line_id);
		if (line == NULL) {
			snprintf(reason, len, "order %s has no line %s", row.order_id,
			    row.order_line_id);
			out = JOB_DEAD;
			goto done;
		}
		mode = line->charging_mode_text;
		expire_ms = line->expire_time != NULL ? line->expire_ms : -1;
		if (line->nproducts > 0) {
			product = line->products[0].product_id;
			sku = line->products[0].sku_code;
		}
		hook_doc_order(&order_json, &order);
		if (line->charging_mode == CHARGING_ON_DEMAND && product != NULL) {
			st = instance_join_on_demand(&ctx, &call, id, row.order_id, product,
			    row.is_test);
			if (st == DOM_OK) {
				out = JOB_DONE;
				goto done;
			}
			if (st != DOM_NOT_FOUND) {
				/* The owner still provisions (or the store failed): later. */
				snprintf(reason, len, "%s", call.reason);
				goto done;
			}
		}
	}

	if (cfg->hook != NULL && cfg->hook[0] != '\0') {
		struct hook_instance hi = {
			.instance_id = id, .order_id = row.order_id,
			.order_line_id = row.order_line_id, .state = row.state,
			.is_test = row.is_test, .product_id = product != NULL ? product : row.product_id,
			.sku_code = sku != NULL ? sku : row.sku_code,
			.charging_mode = mode != NULL ? mode : row.charging_mode,
			.expire_ms = expire_ms >= 0 ? expire_ms : row.expire_ms,
		};

		hook_doc_build(&doc, "create", &hi, have_order ? &order : NULL, NULL);
		if (!provision_hook(cfg, "create", &doc, &hook, reason, len))
			goto done;
		if (!app_info_parse(buf_cstr(&hook.out), hook.out.len, &app, why, sizeof(why))) {
			snprintf(reason, len, "hook %s: %s", cfg->hook, why);
			provision_add_stderr(reason, len, &hook.err);
			goto done;
		}
		have_app = true;
	}
	st = instance_mark_provisioned(&ctx, &call, id, have_app ? &app : NULL, product, sku,
	    mode, expire_ms, order_json.len > 0 ? buf_cstr(&order_json) : NULL);
	/* The buyer, and a package's quota, in the same transaction. */
	if (st == DOM_OK && have_order && line != NULL)
		st = package_on_order(&ctx, &call, id, &order, line, line->order_line_id);
	if (st == DOM_OK)
		out = JOB_DONE;
	else
		snprintf(reason, len, "%s", call.reason);
done:
	if (row.instance_id != NULL)
		instance_row_free(&row);
	app_info_free(&app);
	hook_result_free(&hook);
	order_info_free(&order);
	buf_free(&doc);
	buf_free(&order_json);
	return out;
}

void
provision_dead(const struct job *job, struct job_env *env, const char *reason)
{
	struct dom_ctx	 ctx;
	struct dom_call	 call;
	char		 id[65], call_id[32];

	if (!payload_instance(job->payload, id))
		return;
	provision_dom(job, env, &ctx, &call, call_id);
	if (instance_mark_failed(&ctx, &call, id, reason) != DOM_OK)
		log_error("instance %s: recording the failed provisioning: %s", id, call.reason);
}

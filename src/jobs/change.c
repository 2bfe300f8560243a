/*
 * change.c: the change job (see change.h).
 *
 * Like provisioning it runs in the runner's transaction: the order's
 * effect on the instance commits with the job's completion. An order
 * never moves the expiry back (an unsubscription does, through its own
 * call, whose order is not read). A hook that
 * fails is retried; once the job dies the change itself stays applied
 * (the marketplace was answered long ago) and the dead job, with the
 * hook's stderr, tells the administrator what the seller's side missed
 * (`mkpctl jobs`, `mkpctl jobs retry ID`).
 */
#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "domain/instance.h"
#include "domain/package.h"
#include "jobs/change.h"
#include "jobs/hook.h"
#include "jobs/hook_doc.h"
#include "jobs/provision.h"

struct change {
	char	instance_id[65];
	char	event[16];
	char	scene[40];
	char	order_id[65];
	char	order_line_id[65];
};

static bool
member(const struct json *v, const char *key, char *out, size_t outsz, bool required)
{
	const char	*s = json_get_str(v, key);

	out[0] = '\0';
	if (s == NULL || *s == '\0')
		return !required;
	return str_copy(out, outsz, s);
}

static bool
payload_change(const char *payload, struct change *c)
{
	char		 err[128];
	struct json	*v = json_parse(payload, strlen(payload), 4, err, sizeof(err));
	bool		 ok = v != NULL &&
			    member(v, "instanceId", c->instance_id, sizeof(c->instance_id), true) &&
			    member(v, "event", c->event, sizeof(c->event), true) &&
			    member(v, "scene", c->scene, sizeof(c->scene), false) &&
			    member(v, "orderId", c->order_id, sizeof(c->order_id), false) &&
			    member(v, "orderLineId", c->order_line_id, sizeof(c->order_line_id), false);

	json_free(v);
	return ok;
}

static const char *
or_null(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

enum job_outcome
change_run(const struct job *job, struct job_env *env, char *reason, size_t len)
{
	const struct config	*cfg = env->cfg;
	struct change		 c;
	struct dom_ctx		 ctx;
	struct dom_call		 call;
	struct instance_row	 row;
	struct order_info	 order;
	struct hook_result	 hook;
	struct buf		 doc = BUF_INIT, order_json = BUF_INIT;
	char			 call_id[32];
	const struct order_line	*applied_line = NULL;
	bool			 have_order = false;
	enum job_outcome	 out = JOB_RETRY;
	enum dom_status		 st;

	if (!payload_change(job->payload, &c)) {
		snprintf(reason, len, "payload is not a change");
		return JOB_DEAD;
	}
	provision_dom(job, env, &ctx, &call, call_id);
	order_info_init(&order);
	hook_result_init(&hook);

	if (!provision_load(&ctx, c.instance_id, &row, &out, reason, len))
		goto done;
	if (instance_change_reads_order(cfg, row.is_test, c.event, or_null(c.scene),
	    or_null(c.order_id))) {
		const struct order_line	*line;
		enum mkt_status		 ms;

		/* A V1 order has no line to name (instance.h): read it whole. */
		bool v1 = instance_line_is_v1(c.order_line_id);

		ms = provision_read_order(cfg, c.order_id, v1 ? NULL : or_null(c.order_line_id),
		    &order, reason, len);
		if (ms != MKT_OK) {
			/* Refusals too, within max_attempts (see provision.c). */
			out = JOB_RETRY;
			goto done;
		}
		have_order = true;
		line = c.order_line_id[0] != '\0' && !v1 ?
		    order_info_line(&order, c.order_line_id) :
		    order.nlines > 0 ? &order.lines[0] : NULL;
		if (line == NULL) {
			snprintf(reason, len, "order %s has no line %s", c.order_id,
			    c.order_line_id);
			out = JOB_DEAD;
			goto done;
		}
		hook_doc_order(&order_json, &order);
		applied_line = line;
	}
	if (cfg->hook != NULL && cfg->hook[0] != '\0') {
		struct hook_instance hi = {
			.instance_id = c.instance_id, .order_id = row.order_id,
			.order_line_id = row.order_line_id, .state = row.state,
			.is_test = row.is_test, .product_id = row.product_id,
			.sku_code = row.sku_code, .charging_mode = row.charging_mode,
			.expire_ms = row.expire_ms,
		};
		struct hook_change ch = {
			.scene = or_null(c.scene), .order_id = or_null(c.order_id),
			.order_line_id = or_null(c.order_line_id),
		};

		hook_doc_build(&doc, c.event, &hi, have_order ? &order : NULL, &ch);
		if (!provision_hook(cfg, c.event, &doc, &hook, reason, len))
			goto done;
	}
	/*
	 * The order's effect last: its row lock is then held only until the
	 * commit, not while the hook runs.
	 */
	if (applied_line != NULL) {
		const struct order_line *line = applied_line;

		st = instance_apply_order(&ctx, &call, c.instance_id, c.order_id,
		    or_null(c.order_line_id),
		    line->nproducts > 0 ? line->products[0].product_id : NULL,
		    line->nproducts > 0 ? line->products[0].sku_code : NULL,
		    line->charging_mode_text, line->expire_time != NULL ? line->expire_ms : -1,
		    true, buf_cstr(&order_json), order.create_time != NULL ? order.create_ms : -1,
		    job->id);
		if (st == DOM_OK)	/* a renewed package: its quota grows */
			st = package_on_order(&ctx, &call, c.instance_id, &order, line,
			    line->order_line_id);
		if (st != DOM_OK) {
			snprintf(reason, len, "%s", call.reason);
			goto done;
		}
	}
	out = JOB_DONE;
done:
	if (row.instance_id != NULL)
		instance_row_free(&row);
	hook_result_free(&hook);
	order_info_free(&order);
	buf_free(&doc);
	buf_free(&order_json);
	return out;
}

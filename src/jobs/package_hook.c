/*
 * package_hook.c: the package_hook job (see package_hook.h).
 *
 * It reads the balance when it runs, not when it was queued: a hook that
 * hears quota_low late still learns what remains now. A failing hook is
 * retried like the change job's; a dead job is the administrator's to
 * retry (mkpctl jobs retry ID).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "domain/instance.h"
#include "jobs/hook.h"
#include "jobs/hook_doc.h"
#include "jobs/package_hook.h"
#include "jobs/provision.h"
#include "store/package_store.h"

static bool
known_event(const char *e)
{
	return strcmp(e, "quota_low") == 0 || strcmp(e, "exhausted") == 0 ||
	    strcmp(e, "resumed") == 0;
}

enum job_outcome
package_hook_run(const struct job *job, struct job_env *env, char *reason, size_t len)
{
	const struct config	*cfg = env->cfg;
	struct dom_ctx		 ctx;
	struct instance_row	 row;
	struct hook_result	 hook;
	struct buf		 doc = BUF_INIT;
	struct jw		 w;
	struct json		*v;
	const char		*s, *thr = NULL;
	char			 id[65], event[16], err[128];
	struct package_store_balance	 bal;
	enum job_outcome	 out = JOB_RETRY;

	memset(&bal, 0, sizeof(bal));
	v = json_parse(job->payload, strlen(job->payload), 4, err, sizeof(err));
	s = v != NULL ? json_get_str(v, "instanceId") : NULL;
	if (s == NULL || !str_copy(id, sizeof(id), s) || (s = json_get_str(v, "event")) == NULL ||
	    !str_copy(event, sizeof(event), s) || !known_event(event)) {
		json_free(v);
		snprintf(reason, len, "payload is not a package event");
		return JOB_DEAD;
	}
	{
		const struct json *t = json_get(v, "threshold");

		if (t != NULL && t->type == JSON_NUMBER)
			thr = t->u.num;
	}
	if (cfg->hook == NULL || cfg->hook[0] == '\0') {
		json_free(v);
		return JOB_DONE;
	}
	provision_dom(job, env, &ctx, NULL, NULL);
	hook_result_init(&hook);
	if (!provision_load(&ctx, id, &row, &out, reason, len))
		goto done;
	if (!package_store_balance(env->db, id, &bal)) {
		snprintf(reason, len, "store failed reading the packages of %s", id);
		goto done;
	}
	{
		struct hook_instance hi = {
			.instance_id = id, .order_id = row.order_id,
			.order_line_id = row.order_line_id, .state = row.state,
			.is_test = row.is_test, .product_id = row.product_id,
			.sku_code = row.sku_code, .charging_mode = row.charging_mode,
			.expire_ms = row.expire_ms,
		};

		hook_doc_build(&doc, event, &hi, NULL, NULL);
	}
	/* The document is one object: reopen it for the "package" member. */
	doc.len--;
	buf_putc(&doc, ',');
	jw_init(&w, &doc);
	jw_key(&w, "package");
	jw_obj_begin(&w);
	jw_kv_str(&w, "quota", bal.quota);
	jw_kv_str(&w, "drawn", bal.drawn);
	jw_kv_str(&w, "remaining", bal.remaining);
	jw_kv_str(&w, "unit", bal.unit);
	jw_kv_str(&w, "mode", bal.mode);
	jw_key(&w, "packages");
	jw_int(&w, bal.packages);
	if (thr != NULL) {
		jw_key(&w, "threshold");
		jw_raw(&w, thr);	/* a JSON number's text: as the payload has it */
	}
	jw_obj_end(&w);
	buf_putc(&doc, '}');
	if (!provision_hook(cfg, event, &doc, &hook, reason, len))
		goto done;
	log_info("package: hook heard %s for instance %s", event, id);
	out = JOB_DONE;
done:
	package_store_balance_free(&bal);
	if (row.instance_id != NULL)
		instance_row_free(&row);
	hook_result_free(&hook);
	buf_free(&doc);
	json_free(v);
	return out;
}

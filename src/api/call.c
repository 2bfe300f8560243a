/*
 * call.c: the pipeline every signed call runs through (call.h), and the
 * steps the dialects share: the time window, the previous-key branch of a
 * rotation, the V2-style signature check, the answer of a domain outcome
 * and the queryInstance answer. The adapter holds no SQL; the domain sees
 * no JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app_info.h"
#include "api/call.h"
#include "api/redact.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "domain/usage.h"
#include "domain/claim.h"

#define AUDIT_BODY_MAX	16384
#define V2_MAX_DEPTH	32
#define NONCE_MAX	128

static const char *
remote(const struct call *c)
{
	return c->r->remote_addr != NULL ? c->r->remote_addr : "?";
}

void
call_reply(struct call *c, const char *code, const char *msg)
{
	reply_code(c->r, c->key, code, msg);
}

void
call_answer(struct call *c, enum dom_status st)
{
	static const char *const codes[] = {
		[DOM_OK] = RC_SUCCESS,
		[DOM_PENDING] = RC_PENDING,
		[DOM_NOT_FOUND] = RC_NO_INSTANCE,
		[DOM_REFUSED] = RC_INTERNAL,
		[DOM_STORE] = RC_INTERNAL,
		[DOM_INVALID] = RC_PARAM,
		[DOM_REPLAY] = RC_AUTH,
	};
	char	msg[200];

	if (st == DOM_REPLAY || (st == DOM_INVALID && c->dc.claim_refused)) {
		/* The replay key, not the command: nothing was applied. */
		snprintf(msg, sizeof(msg), "%s: %s", c->d->replay_param, c->dc.reason);
		c->r->audit_reason[0] = '\0';
		call_reply(c, codes[st], msg);
		log_notice("%s call %s from %s: %s", c->d->log, c->r->call_id, remote(c), msg);
		return;
	}
	if (c->dc.reason[0] != '\0')
		(void)!str_copy(c->r->audit_reason, sizeof(c->r->audit_reason), c->dc.reason);
	call_reply(c, codes[st],
	    st == DOM_OK ? "success" : c->dc.reason[0] ? c->dc.reason : "failed");
}

bool
call_window(struct call *c, const char *param, int64_t ms)
{
	int64_t	 window = c->app->cfg->time_window * 1000, now = c->r->wall_ms;
	char	 msg[192];

	if (ms >= now - window && ms <= now + window)
		return true;
	snprintf(msg, sizeof(msg), "%s: %lld ms away from the server clock (allowed: %lld)",
	    param, (long long)(ms - now), (long long)window);
	call_reply(c, RC_PARAM, msg);
	return false;
}

bool
call_verify(struct call *c, const char *what, bool (*verify)(struct call *, const char *))
{
	struct key_slot_view	 slot;
	const char		*prev;
	char			 msg[96];

	if (verify(c, c->key))
		return true;
	if ((prev = config_previous_key(c->app->cfg, c->d->slot, c->r->wall_ms)) != NULL &&
	    verify(c, prev)) {
		/* The marketplace has not switched to the new key yet. */
		config_key_slot(c->app->cfg, c->d->slot, &slot);
		log_info("%s call %s from %s: verified with the previous %s key "
		    "(accepted until %s)", c->d->log, c->r->call_id, remote(c), slot.name,
		    slot.until);
		c->key = prev;
		return true;
	}
	snprintf(msg, sizeof(msg), "%s: does not match", what);
	call_reply(c, RC_AUTH, msg);
	log_notice("%s call %s from %s: %s does not match", c->d->log, c->r->call_id,
	    remote(c), what);
	return false;
}

void
call_replay(struct call *c, const char *value)
{
	buf_reset(&c->replay);
	buf_puts(&c->replay, value);
	c->dc.replay_space = c->d->replay;
	c->dc.replay_key = buf_cstr(&c->replay);
}

/*
 * One V2 parameter (query string or header) into out; false (answered)
 * when it is malformed or holds a NUL or control character.
 */
static bool
v2_param(struct call *c, int i, struct buf *out, bool *present)
{
	const struct v2_params	*p = c->d->v2;
	const char		*v;
	char			 msg[80];
	bool			 bad = false;

	if (p->headers) {
		v = request_param(c->r, p->fcgi[i]);
		if ((*present = v != NULL))
			buf_puts(out, v);
	} else {
		*present = query_get(c->r->query, p->names[i], out, &bad);
	}
	if (bad) {
		snprintf(msg, sizeof(msg), "%s: malformed percent-encoding", p->names[i]);
		call_reply(c, RC_PARAM, msg);
		return false;
	}
	if (*present && !fields_param_text(out->data != NULL ? out->data : "", out->len)) {
		snprintf(msg, sizeof(msg), "%s: holds a NUL or control character", p->names[i]);
		call_reply(c, RC_PARAM, msg);
		log_notice("%s call %s from %s: %s", c->d->log, c->r->call_id, remote(c), msg);
		return false;
	}
	return true;
}

/* The canonical payload or the raw bytes (reading 1), the body parsed once. */
static bool
v2_verify(struct call *c, const char *key)
{
	const char	*body = c->r->body.data != NULL ? c->r->body.data : "";

	if (!c->parsed) {
		c->parsed = true;
		return verify_v2(c->d->v2->kind, key, body, c->r->body.len, V2_MAX_DEPTH,
		    c->nonce, c->ts, c->sig, &c->body, c->perr, sizeof(c->perr));
	}
	return verify_v2_tree(c->d->v2->kind, key, c->body, body, c->r->body.len, c->nonce,
	    c->ts, c->sig);
}

bool
call_authenticate_v2(struct call *c)
{
	const char *const *names = c->d->v2->names;
	struct buf	 v[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	bool		 has[3], ok = false;
	char		 msg[192];
	int64_t		 ts_ms;
	int		 i;

	for (i = 0; i < 3; i++)
		if (!v2_param(c, i, &v[i], &has[i]))
			goto out;
	if (!has[1] || v[1].len == 0) {
		snprintf(msg, sizeof(msg), "%s: missing", names[1]);
		call_reply(c, RC_PARAM, msg);
		goto out;
	}
	if (!parse_i64(buf_cstr(&v[1]), 0, INT64_MAX / 2, &ts_ms)) {
		snprintf(msg, sizeof(msg), "%s: not Unix milliseconds", names[1]);
		call_reply(c, RC_PARAM, msg);
		goto out;
	}
	if (!call_window(c, names[1], ts_ms))
		goto out;
	if (!has[2] || v[2].len == 0) {
		snprintf(msg, sizeof(msg), "%s: missing", names[2]);
		call_reply(c, RC_PARAM, msg);
		goto out;
	}
	if (v[2].len > NONCE_MAX || strlen(buf_cstr(&v[2])) != v[2].len) {
		snprintf(msg, sizeof(msg), "%s: too long or not text", names[2]);
		call_reply(c, RC_PARAM, msg);
		goto out;
	}
	if (!has[0] || v[0].len == 0) {
		snprintf(msg, sizeof(msg), "%s: missing", names[0]);
		call_reply(c, RC_AUTH, msg);
		goto out;
	}
	c->sig = buf_cstr(&v[0]);
	c->ts = buf_cstr(&v[1]);
	c->nonce = buf_cstr(&v[2]);
	if (!call_verify(c, names[0], v2_verify))
		goto out;
	if (c->body == NULL) {
		snprintf(msg, sizeof(msg), "body: not valid JSON (%s)", c->perr);
		call_reply(c, RC_PARAM, msg);
		goto out;
	}
	call_replay(c, c->nonce);
	ok = true;
out:
	c->sig = c->ts = c->nonce = NULL;
	for (i = 0; i < 3; i++)
		buf_free(&v[i]);
	return ok;
}

static const struct activity *
find_activity(const struct dialect *d, const char *name)
{
	size_t	i;

	for (i = 0; i < d->nacts; i++)
		if (strcmp(name, d->acts[i].name) == 0)
			return &d->acts[i];
	return NULL;
}

void
call_serve(struct app *app, struct request *r, const struct dialect *d, const char *name)
{
	struct key_slot_view	 slot;
	struct call		 c;
	char			 msg[160];

	memset(&c, 0, sizeof(c));
	c.app = app;
	c.d = d;
	c.r = r;
	r->audit.dialect = d->name;
	if (name != NULL) {
		if ((c.act = find_activity(d, name)) == NULL) {
			respond(r, 404, "text/plain", "not found\n", 10, NULL);
			return;
		}
		r->audit.activity = c.act->name;
	}
	config_key_slot(app->cfg, d->slot, &slot);
	if (slot.key[0] == '\0') {
		snprintf(msg, sizeof(msg), "[keys] %s_key is not configured", slot.name);
		reply_code(r, NULL, RC_AUTH, msg);
		return;
	}
	c.key = slot.key;
	if (d->post_only && strcmp(r->method, "POST") != 0) {
		call_reply(&c, RC_PARAM, "method: these calls are POST");
		return;
	}

	/* size */
	if (r->body_too_large) {
		snprintf(msg, sizeof(msg), "body: larger than %lld bytes", (long long)r->max_body);
		log_warn("%s call %s from %s refused: %s", d->log, r->call_id, remote(&c), msg);
		call_reply(&c, RC_PARAM, msg);
		return;
	}
	/* authenticate, parse */
	if (!d->authenticate(&c) || (c.body == NULL && !d->parse(&c)))
		goto out;
	if (c.body->type != JSON_OBJECT) {
		call_reply(&c, RC_PARAM, "body: not a JSON object");
		goto out;
	}
	/* redact */
	redact_json(c.body, &r->audit_body, AUDIT_BODY_MAX);
	r->audit.body = buf_cstr(&r->audit_body);
	/* activity */
	if (c.act == NULL) {
		name = d->activity_name != NULL ? d->activity_name(&c) :
		    json_get_str(c.body, "activity");
		if (name == NULL || *name == '\0') {
			call_reply(&c, RC_PARAM, "activity: missing");
			goto out;
		}
		if ((c.act = find_activity(d, name)) == NULL) {
			call_reply(&c, RC_PARAM, "activity: unknown");
			goto out;
		}
		r->audit.activity = c.act->name;
	}
	/* testFlag */
	c.dc.call_id = r->call_id;
	if (!fields_test_flag(c.body, &c.dc.is_test)) {
		call_reply(&c, RC_PARAM, d->test_flag_msg);
		goto out;
	}
	r->audit.is_test = c.dc.is_test;
	/* fields */
	if (!fields_check(c.body, c.act->rules, c.act->nrules, &c.f, c.err, sizeof(c.err))) {
		call_reply(&c, RC_PARAM, c.err);
		goto out;
	}
	if (d->prepare != NULL && !d->prepare(&c))
		goto out;
	/* run, answer: the command claims the replay key with its first statement */
	c.act->run(&c);
out:
	dom_call_end(&app->dom, &c.dc);
	json_free(c.body);
	v1_params_free(&c.ps);
	buf_free(&c.replay);
}

/* Where visit_instance writes: a queryInstance list item, or V1 newInstance's appInfo. */
struct instances_out {
	struct call		*c;
	struct app_info_out	 app;
	bool			 in_list;	/* {instanceId, appInfo, usageInfo} items */
	struct buf		 dashboard;	/* scratch for dashboardUrl */
};

/* On-demand: the cumulative usage; package: the amount drawn and who draws. */
static void
put_usage(struct instances_out *q, const struct instance_info *i)
{
	struct jw	*w = q->app.w;
	char		 num[32];

	if (i->usage_value == NULL || !fmt_decimal(i->usage_value, num, sizeof(num)))
		return;
	jw_key(w, "usageInfo");
	jw_arr_begin(w);
	jw_obj_begin(w);
	if (i->usage_related != NULL)
		jw_kv_str(w, "relatedInstanceId", i->usage_related);
	jw_key(w, "usageValue");
	jw_raw(w, num);
	jw_kv_str(w, "statisticalTime", i->usage_time);
	buf_reset(&q->dashboard);
	if (usage_dashboard_url(q->c->app->cfg->usage_dashboard_url, i->instance_id,
	    &q->dashboard))
		jw_kv_str(w, "dashboardUrl", buf_cstr(&q->dashboard));
	jw_obj_end(w);
	jw_arr_end(w);
}

static void
visit_instance(const struct instance_info *i, void *arg)
{
	struct instances_out	*q = arg;

	if (q->in_list) {
		jw_obj_begin(q->app.w);
		jw_kv_str(q->app.w, "instanceId", i->instance_id);
	}
	app_info_put(&q->app, i);
	if (q->in_list) {
		if (q->c->d->usage_info)
			put_usage(q, i);
		jw_obj_end(q->app.w);
	}
}

/*
 * The answer naming ids: an "info" list (in_list) or, for the one just
 * created, instanceId and its appInfo. Nothing ready, or a failure: the
 * half-built answer is thrown away and the reason answered instead.
 */
static void
answer_instances(struct call *c, const char *const *ids, size_t n, bool in_list)
{
	struct instances_out	 q;
	struct reply		 rp;
	char			 enc_type[4];
	size_t			 found, ready;
	enum dom_status		 st;

	memset(&q, 0, sizeof(q));
	q.c = c;
	q.in_list = in_list;
	q.app.ok = true;
	q.app.w = &rp.w;
	if (c->d->always_encrypt || c->app->cfg->encrypt_app_info) {
		q.app.encrypt_key = c->key;
		q.app.encrypt_type = (int)c->app->cfg->encrypt_type;
	}
	reply_begin(&rp, c->r, RC_SUCCESS, "success");
	if (q.app.encrypt_key != NULL) {
		snprintf(enc_type, sizeof(enc_type), "%d", (int)c->app->cfg->encrypt_type);
		jw_kv_str(&rp.w, "encryptType", enc_type);
	}
	if (in_list) {
		jw_key(&rp.w, "info");
		jw_arr_begin(&rp.w);
	} else {
		jw_kv_str(&rp.w, "instanceId", ids[0]);
	}
	st = instance_query(&c->app->dom, &c->dc, ids, n, visit_instance, &q, &found, &ready);
	buf_free(&q.dashboard);
	if (in_list)
		jw_arr_end(&rp.w);
	if (st == DOM_OK && q.app.ok && ready > 0) {
		reply_send(&rp, c->r, c->key);
		return;
	}
	buf_free(&rp.body);
	c->r->audit_reason[0] = '\0';
	if (st != DOM_OK)
		call_answer(c, st);
	else if (!in_list)
		/* Created and committed; the access data is for queryInstance then. */
		call_reply(c, RC_INTERNAL, "reading appInfo failed");
	else if (!q.app.ok)
		call_reply(c, RC_INTERNAL, "encrypting appInfo failed");
	else if (found == 0)
		call_reply(c, RC_NO_INSTANCE, "no such instance");
	else
		call_reply(c, RC_PENDING, "instance is still provisioning");
}

void
call_answer_query(struct call *c, const char *id_list)
{
	const char	*ids[IDLIST_MAX];
	char		*store = NULL;
	size_t		 n;

	if (!fields_split_ids(id_list, 64, &store, ids, &n, c->err, sizeof(c->err))) {
		free(store);
		call_reply(c, RC_PARAM, c->err);
		return;
	}
	if (n == 1)
		request_audit_ids(c->r, id_list, NULL, NULL);
	answer_instances(c, ids, n, true);
	free(store);
}

void
call_answer_created(struct call *c, const char *id)
{
	answer_instances(c, &id, 1, false);
}

/*
 * v2_basic.c: the V2 basic interfaces (spec/v2-basic.md, readings 1-6 of
 * spec/README.md): one POST URL, the activity in the JSON body, the
 * signature, timestamp and nonce in the query string.
 *
 * Order of checks, each with its result code:
 *	body over the limit, timestamp missing/bad/outside the window,
 *	nonce missing ................................................ 000002
 *	signature missing or matching neither the canonical payload
 *	nor the raw bytes ............................................. 000001
 *	body not JSON (but correctly signed) ......................... 000002
 *	unknown activity, a field against its table .................. 000002
 *	nonce seen before (any host) ................................. 000001
 * then the domain command. The nonce is claimed with the command's first
 * statement, in its transaction: a replay undoes the call whole. The adapter holds no SQL; the domain sees no
 * JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/app_info.h"
#include "api/response.h"
#include "api/verify.h"
#include "common/fields.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/fieldcrypt.h"
#include "crypto/sign.h"
#include "domain/usage.h"
#include "store/nonce.h"

#define V2_MAX_DEPTH	32
#define NONCE_MAX	128
#define AUDIT_BODY_MAX	16384

struct v2_call {
	struct app		*app;
	const char		*key;	/* the key that verified the call */
	struct request		*r;
	const struct json	*body;
	struct dom_call		 dc;
	struct field_values	 f;
	char			 err[160];
};

typedef void (*v2_handler)(struct v2_call *);

struct v2_activity {
	const char		*name;
	const struct field_rule	*rules;
	size_t			 nrules;
	v2_handler		 run;
};

static const char *const scenes_all[] = {
	"TRIAL_TO_FORMAL", "RENEWAL", "UNSUBSCRIBE_RENEWAL_PERIOD", "RENEWAL_CHANGE", NULL,
};
static const char *const scenes_license[] = {
	"RENEWAL", "UNSUBSCRIBE_RENEWAL_PERIOD", NULL,
};
static const char *const statuses[] = { "FREEZE", "UNFREEZE", NULL };

/* Field tables of spec/v2-basic.md §3; the index of each rule names its value. */
static const struct field_rule new_rules[] = {
	{ "orderId", true, FK_STRING, 64, NULL },
	{ "orderLineId", true, FK_STRING, 64, NULL },
	{ "businessId", true, FK_STRING, 64, NULL },
};
static const struct field_rule query_rules[] = {
	{ "instanceId", true, FK_IDLIST, 64, NULL },
};
static const struct field_rule refresh_rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "scene", true, FK_ENUM, 64, scenes_all },
	{ "orderId", true, FK_STRING, 64, NULL },
	{ "orderLineId", true, FK_STRING, 64, NULL },
	{ "productId", false, FK_STRING, 64, NULL },
	{ "expireTime", true, FK_TIME, 20, NULL },
};
static const struct field_rule status_rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "status", true, FK_ENUM, 32, statuses },
};
static const struct field_rule release_rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "orderId", false, FK_STRING, 64, NULL },
	{ "orderLineId", false, FK_STRING, 64, NULL },
};
static const struct field_rule upgrade_rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "orderId", true, FK_STRING, 64, NULL },
	{ "orderLineId", true, FK_STRING, 64, NULL },
};
static const struct field_rule check_rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "productInfo", true, FK_OBJECT, 0, NULL },
};
static const struct field_rule license_rules[] = {
	{ "license", true, FK_STRING, 64, NULL },
	{ "scene", true, FK_ENUM, 64, scenes_license },
	{ "orderId", true, FK_STRING, 64, NULL },
	{ "orderLineId", true, FK_STRING, 64, NULL },
	{ "productId", false, FK_STRING, 64, NULL },
	{ "expireTime", true, FK_TIME, 20, NULL },
};

static const char *
sign_key(const struct v2_call *c)
{
	return c->key;
}

/* Maps a domain outcome to its result code and answers with the reason. */
static void
answer_status(struct v2_call *c, enum dom_status st)
{
	static const char *const codes[] = {
		[DOM_OK] = RC_SUCCESS,
		[DOM_PENDING] = RC_PENDING,
		[DOM_NOT_FOUND] = RC_NO_INSTANCE,
		[DOM_REFUSED] = RC_INTERNAL,
		[DOM_STORE] = RC_INTERNAL,
		[DOM_INVALID] = RC_PARAM,
	};

	if (c->dc.reason[0] != '\0')
		(void)!str_copy(c->r->audit_reason, sizeof(c->r->audit_reason), c->dc.reason);
	reply_code(c->r, sign_key(c), codes[st],
	    st == DOM_OK ? "success" : c->dc.reason[0] ? c->dc.reason : "failed");
}

static void
run_new(struct v2_call *c)
{
	char		 id[ID_SIZE];
	enum dom_status	 st;
	struct reply	 rp;

	request_audit_ids(c->r, NULL, c->f.str[0], c->f.str[1]);
	st = instance_create(&c->app->dom, &c->dc, c->f.str[0], c->f.str[1], c->f.str[2], id);
	if (st != DOM_OK && st != DOM_PENDING) {
		answer_status(c, st);
		return;
	}
	(void)!str_copy(c->r->audit_reason, sizeof(c->r->audit_reason), c->dc.reason);
	reply_begin(&rp, c->r, st == DOM_OK ? RC_SUCCESS : RC_PENDING,
	    st == DOM_OK ? "success" : "provisioning");
	jw_kv_str(&rp.w, "instanceId", id);
	reply_send(&rp, c->r, sign_key(c));
	request_audit_ids(c->r, id, NULL, NULL);
}

struct query_out {
	struct v2_call		*c;
	struct jw		*w;
	struct app_info_out	 app;
	struct buf		 dashboard;	/* scratch for dashboardUrl */
};

static void
visit_instance(const struct instance_info *i, void *arg)
{
	struct query_out	*q = arg;
	char			 num[32];

	jw_obj_begin(q->w);
	jw_kv_str(q->w, "instanceId", i->instance_id);
	app_info_put(&q->app, i);
	if (i->usage_value != NULL && fmt_decimal(i->usage_value, num, sizeof(num))) {
		/*
		 * On-demand: the cumulative usage; package: the amount drawn and
		 * the on-demand instance drawing (v2-basic.md UsageInfo).
		 */
		jw_key(q->w, "usageInfo");
		jw_arr_begin(q->w);
		jw_obj_begin(q->w);
		if (i->usage_related != NULL)
			jw_kv_str(q->w, "relatedInstanceId", i->usage_related);
		jw_key(q->w, "usageValue");
		jw_raw(q->w, num);
		jw_kv_str(q->w, "statisticalTime", i->usage_time);
		buf_reset(&q->dashboard);
		if (usage_dashboard_url(q->c->app->cfg->usage_dashboard_url, i->instance_id,
		    &q->dashboard))
			jw_kv_str(q->w, "dashboardUrl", buf_cstr(&q->dashboard));
		jw_obj_end(q->w);
		jw_arr_end(q->w);
	}
	jw_obj_end(q->w);
}

static void
run_query(struct v2_call *c)
{
	const char	*ids[IDLIST_MAX];
	char		*store = NULL, enc_type[4];
	size_t		 n, found, ready;
	struct reply	 rp;
	struct query_out q;
	enum dom_status	 st;

	if (!fields_split_ids(c->f.str[0], 64, &store, ids, &n, c->err, sizeof(c->err))) {
		free(store);
		reply_code(c->r, sign_key(c), RC_PARAM, c->err);
		return;
	}
	if (n == 1)
		request_audit_ids(c->r, c->f.str[0], NULL, NULL);
	memset(&q, 0, sizeof(q));
	q.c = c;
	q.app.ok = true;
	if (c->app->cfg->encrypt_app_info) {
		q.app.encrypt_key = c->key;
		q.app.encrypt_type = (int)c->app->cfg->encrypt_type;
	}
	reply_begin(&rp, c->r, RC_SUCCESS, "success");
	if (q.app.encrypt_key != NULL) {
		snprintf(enc_type, sizeof(enc_type), "%d", (int)c->app->cfg->encrypt_type);
		jw_kv_str(&rp.w, "encryptType", enc_type);
	}
	jw_key(&rp.w, "info");
	jw_arr_begin(&rp.w);
	q.w = q.app.w = &rp.w;
	st = instance_query(&c->app->dom, &c->dc, ids, n, visit_instance, &q, &found, &ready);
	free(store);
	buf_free(&q.dashboard);
	jw_arr_end(&rp.w);
	if (st != DOM_OK || !q.app.ok || ready == 0) {
		/* Throw the half-built answer away and say why instead. */
		buf_free(&rp.body);
		c->r->audit_reason[0] = '\0';
		if (st != DOM_OK)
			answer_status(c, st);
		else if (!q.app.ok)
			reply_code(c->r, sign_key(c), RC_INTERNAL, "encrypting appInfo failed");
		else if (found == 0)
			reply_code(c->r, sign_key(c), RC_NO_INSTANCE, "no such instance");
		else
			reply_code(c->r, sign_key(c), RC_PENDING, "instance is still provisioning");
		return;
	}
	reply_send(&rp, c->r, sign_key(c));
}

static void
run_refresh(struct v2_call *c)
{
	enum renew_scene scene;

	request_audit_ids(c->r, c->f.str[0], c->f.str[2], c->f.str[3]);
	if (!renew_scene_parse(c->f.str[1], false, &scene)) {
		reply_code(c->r, sign_key(c), RC_PARAM, "scene: not one of the allowed values");
		return;
	}
	answer_status(c, instance_renew(&c->app->dom, &c->dc, c->f.str[0], scene,
	    c->f.str[2], c->f.str[3], c->f.str[4], c->f.time_ms[5]));
}

static void
run_status(struct v2_call *c)
{
	request_audit_ids(c->r, c->f.str[0], NULL, NULL);
	answer_status(c, instance_set_frozen(&c->app->dom, &c->dc, c->f.str[0],
	    strcmp(c->f.str[1], "FREEZE") == 0));
}

static void
run_release(struct v2_call *c)
{
	request_audit_ids(c->r, c->f.str[0], c->f.str[1], c->f.str[2]);
	if ((c->f.str[1] == NULL) != (c->f.str[2] == NULL)) {
		reply_code(c->r, sign_key(c), RC_PARAM,
		    "orderId and orderLineId: give both or neither");
		return;
	}
	answer_status(c, instance_release(&c->app->dom, &c->dc, c->f.str[0], c->f.str[1],
	    c->f.str[2]));
}

static void
run_upgrade(struct v2_call *c)
{
	request_audit_ids(c->r, c->f.str[0], c->f.str[1], c->f.str[2]);
	answer_status(c, instance_upgrade(&c->app->dom, &c->dc, c->f.str[0], c->f.str[1],
	    c->f.str[2]));
}

static void
run_check(struct v2_call *c)
{
	struct buf	info = BUF_INIT;

	request_audit_ids(c->r, c->f.str[0], NULL, NULL);
	json_emit(c->f.val[1], &info);
	answer_status(c, instance_check_change(&c->app->dom, &c->dc, c->f.str[0],
	    buf_cstr(&info)));
	buf_free(&info);
}

static void
run_license(struct v2_call *c)
{
	enum renew_scene scene;

	request_audit_ids(c->r, NULL, c->f.str[2], c->f.str[3]);
	if (!renew_scene_parse(c->f.str[1], true, &scene)) {
		reply_code(c->r, sign_key(c), RC_PARAM, "scene: not one of the allowed values");
		return;
	}
	answer_status(c, license_renew(&c->app->dom, &c->dc, c->f.str[0], scene,
	    c->f.str[2], c->f.str[3], c->f.str[4], c->f.time_ms[5]));
}

#define ACT(name, rules, fn) { name, rules, NELEM(rules), fn }

static const struct v2_activity activities[] = {
	ACT("newInstance", new_rules, run_new),
	ACT("queryInstance", query_rules, run_query),
	ACT("refreshInstance", refresh_rules, run_refresh),
	ACT("updateInstanceStatus", status_rules, run_status),
	ACT("releaseInstance", release_rules, run_release),
	ACT("upgradeInstance", upgrade_rules, run_upgrade),
	ACT("changeInstanceCheck", check_rules, run_check),
	ACT("refreshLicenseCode", license_rules, run_license),
};

/*
 * Reads one query parameter; false (answer sent) when it is malformed or
 * holds a NUL or control character.
 */
static bool
get_param(struct request *r, const char *key, const char *name, struct buf *out,
    bool *present)
{
	char	msg[80];
	bool	bad;

	*present = query_get(r->query, name, out, &bad);
	if (bad) {
		snprintf(msg, sizeof(msg), "%s: malformed percent-encoding", name);
		reply_code(r, key, RC_PARAM, msg);
		return false;
	}
	if (*present && !fields_param_text(out->data != NULL ? out->data : "", out->len)) {
		snprintf(msg, sizeof(msg), "%s: holds a NUL or control character", name);
		reply_code(r, key, RC_PARAM, msg);
		log_notice("v2 call %s from %s: %s", r->call_id,
		    r->remote_addr ? r->remote_addr : "?", msg);
		return false;
	}
	return true;
}

/*
 * The time window, nonce and signature checks. True when the call is
 * authentic and fresh; otherwise the answer has been sent. *tree gets the
 * parsed body (NULL when it is not JSON, which is answered here too),
 * *used the key that verified it: the current one, or the previous one
 * while a rotation's overlap lasts.
 */
static bool
authenticate(struct app *app, struct request *r, struct json **tree, const char **used)
{
	const char	*key = app->cfg->basic_key, *prev;
	struct buf	 sig = BUF_INIT, ts = BUF_INIT, nonce = BUF_INIT;
	char		 perr[128], msg[192];
	bool		 has_sig, has_ts, has_nonce, ok = false, match = false;
	int64_t		 ts_ms, window = app->cfg->time_window * 1000;

	*tree = NULL;
	if (!get_param(r, key, "signature", &sig, &has_sig) ||
	    !get_param(r, key, "timestamp", &ts, &has_ts) ||
	    !get_param(r, key, "nonce", &nonce, &has_nonce))
		goto out;
	if (!has_ts || ts.len == 0) {
		reply_code(r, key, RC_PARAM, "timestamp: missing");
		goto out;
	}
	if (!parse_i64(buf_cstr(&ts), 0, INT64_MAX / 2, &ts_ms)) {
		reply_code(r, key, RC_PARAM, "timestamp: not Unix milliseconds");
		goto out;
	}
	if (ts_ms < r->wall_ms - window || ts_ms > r->wall_ms + window) {
		snprintf(msg, sizeof(msg), "timestamp: %lld ms away from the server clock "
		    "(allowed: %lld)", (long long)(ts_ms - r->wall_ms), (long long)window);
		reply_code(r, key, RC_PARAM, msg);
		goto out;
	}
	if (!has_nonce || nonce.len == 0) {
		reply_code(r, key, RC_PARAM, "nonce: missing");
		goto out;
	}
	if (nonce.len > NONCE_MAX || strlen(buf_cstr(&nonce)) != nonce.len) {
		reply_code(r, key, RC_PARAM, "nonce: too long or not text");
		goto out;
	}
	if (!has_sig || sig.len == 0) {
		reply_code(r, key, RC_AUTH, "signature: missing");
		goto out;
	}

	match = verify_v2(VERIFY_V2_BASIC, key, r->body.data != NULL ? r->body.data : "",
	    r->body.len, V2_MAX_DEPTH, buf_cstr(&nonce), buf_cstr(&ts), buf_cstr(&sig), tree,
	    perr, sizeof(perr));
	if (!match && (prev = config_previous_key(app->cfg, key, r->wall_ms)) != NULL &&
	    verify_v2_tree(VERIFY_V2_BASIC, prev, *tree, r->body.data != NULL ?
	    r->body.data : "", r->body.len, buf_cstr(&nonce), buf_cstr(&ts), buf_cstr(&sig))) {
		/* The marketplace has not switched to the new key yet. */
		log_info("v2 call %s from %s: verified with the previous basic key "
		    "(accepted until %s)", r->call_id, r->remote_addr ? r->remote_addr : "?",
		    app->cfg->previous_basic_until);
		*used = key = prev;
		match = true;
	}
	if (!match) {
		reply_code(r, key, RC_AUTH, "signature: does not match");
		log_notice("v2 call %s from %s: signature does not match", r->call_id,
		    r->remote_addr ? r->remote_addr : "?");
		goto out;
	}
	if (*tree == NULL) {
		snprintf(msg, sizeof(msg), "body: not valid JSON (%s)", perr);
		reply_code(r, key, RC_PARAM, msg);
		goto out;
	}
	/*
	 * The nonce is claimed in the same round trip and transaction as the
	 * call's first statement; v2_basic_handle looks at the outcome.
	 */
	nonce_prelude(app->db, "v2", buf_cstr(&nonce), 2 * app->cfg->time_window, r->call_id);
	ok = true;
out:
	buf_free(&sig);
	buf_free(&ts);
	buf_free(&nonce);
	return ok;
}

void
v2_basic_handle(struct app *app, struct request *r)
{
	const char		*key = app->cfg->basic_key;
	const struct v2_activity *act = NULL;
	struct json		*tree = NULL;
	struct v2_call		 c;
	const char		*name;
	char			 msg[160];
	size_t			 i;

	r->audit.dialect = "v2";
	if (r->body_too_large) {
		snprintf(msg, sizeof(msg), "body: larger than %lld bytes", (long long)r->max_body);
		log_warn("v2 call %s from %s refused: %s", r->call_id,
		    r->remote_addr ? r->remote_addr : "?", msg);
		reply_code(r, key, RC_PARAM, msg);
		return;
	}
	if (!authenticate(app, r, &tree, &key))
		goto out;
	if (tree->type != JSON_OBJECT) {
		reply_code(r, key, RC_PARAM, "body: not a JSON object");
		goto out;
	}
	redact_json(tree, &r->audit_body, AUDIT_BODY_MAX);
	r->audit.body = buf_cstr(&r->audit_body);
	name = json_get_str(tree, "activity");
	if (name == NULL || *name == '\0') {
		reply_code(r, key, RC_PARAM, "activity: missing");
		goto out;
	}
	for (i = 0; i < NELEM(activities); i++)
		if (strcmp(name, activities[i].name) == 0)
			act = &activities[i];
	if (act == NULL) {
		reply_code(r, key, RC_PARAM, "activity: unknown");
		goto out;
	}
	r->audit.activity = act->name;

	memset(&c, 0, sizeof(c));
	c.app = app;
	c.key = key;
	c.r = r;
	c.body = tree;
	c.dc.call_id = r->call_id;
	if (!fields_test_flag(tree, &c.dc.is_test)) {
		reply_code(r, key, RC_PARAM, "testFlag: must be \"0\" or \"1\"");
		goto out;
	}
	r->audit.is_test = c.dc.is_test;
	if (!fields_check(tree, act->rules, act->nrules, &c.f, c.err, sizeof(c.err))) {
		reply_code(r, key, RC_PARAM, c.err);
		goto out;
	}
	act->run(&c);
	reply_if_replayed(app->db, r, key, "v2", "nonce");
out:
	db_prelude_reset(app->db);
	json_free(tree);
}

/*
 * v1_basic.c: the legacy V1 basic interfaces (spec/kit-and-v1.md §1, §3;
 * spec/README.md reading 10): GET on the production URL, every parameter
 * in the query string, authToken and timeStamp among them. Products listed
 * before V2 still receive these calls, and one deployment serves both
 * generations from one database, so every activity maps onto the same
 * domain commands as V2 (src/domain/instance.h); the adapter holds no SQL.
 *
 * Authentication: authToken = base64(HMAC-SHA256(key = v1_key + timeStamp,
 * data = every other parameter, sorted by name, decoded, "k=v&...")),
 * compared in constant time. timeStamp is yyyyMMddHHmmssSSS UTC and must
 * be within [mkpd] time_window of the server clock.
 *
 * Replays: V1 has no nonce. The authToken itself is the replay key, claimed
 * as "v1:<authToken>" in the shared nonce store (nonce_prelude), with the
 * command's first statement and in its transaction, like the V2 nonce. It
 * is an HMAC over every parameter including timeStamp, so two different
 * calls never share it, and a replay of the same URL, to any host, is
 * refused (000001) and undoes the call whole. A marketplace retry is
 * signed afresh with a new timeStamp, so it is a new call and the
 * idempotent domain command answers it.
 *
 * Order of checks, each with its result code:
 *	query malformed, timeStamp missing/bad/outside the window .... 000002
 *	authToken missing or not matching ............................ 000001
 *	unknown activity, a field against its table, mobilePhone or
 *	email that does not decrypt .................................. 000002
 *	authToken seen before (any host) ............................. 000001
 * then the domain command.
 *
 * V1 specifics mapped onto the domain:
 *	newInstance: V1 has no orderLineId; the order line key is
 *	    "v1:" + productId (INSTANCE_V1_LINE: on-demand orders send one
 *	    call per productId, each its own instance, spec §3.2; the jobs
 *	    read such an order whole and pick the product's line); the
 *	    answer carries appInfo.
 *	refreshInstance: trialToFormal=1 is TRIAL_TO_FORMAL, else RENEWAL;
 *	    the renewal order's line key is "v1:" + its orderId.
 *	expireInstance: a freeze. instanceStatus: FREEZE freezes, NORMAL
 *	    unfreezes. upgrade: the upgrade order, applied once per orderId.
 *	queryInstance: comma-separated ids, as V2 (reading 5).
 * appInfo userName and password are always encrypted in V1 answers
 * (field_encrypt with v1_key, [app] encrypt_type; encryptType says which).
 * mobilePhone and email arrive encrypted the same way: they are decrypted
 * on arrival (a value that does not decrypt is 000002) and kept only
 * sealed (seal.h), in the call's audit body, as mobilePhoneSealed and
 * emailSealed; saasExtendParams (base64 of a JSON array) is kept decoded
 * there too, or as received when it does not decode. Every answer carries
 * Body-Sign with v1_key over its exact bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/app_info.h"
#include "api/response.h"
#include "api/verify.h"
#include "api/v1_query.h"
#include "common/fields.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/fieldcrypt.h"
#include "crypto/seal.h"
#include "crypto/sign.h"
#include "store/nonce.h"

#define AUDIT_BODY_MAX	16384
#define V1_TS_LEN	17	/* yyyyMMddHHmmssSSS */

struct v1_call {
	struct app		*app;
	const char		*key;	/* the key that verified the call */
	struct request		*r;
	struct dom_call		 dc;
	struct field_values	 f;
	char			 err[160];
	char			 line[80];	/* the order line key, v1_line() */
};

typedef void (*v1_handler)(struct v1_call *);

struct v1_activity {
	const char		*name;
	const struct field_rule	*rules;
	size_t			 nrules;
	v1_handler		 run;
};

static const char *const flags01[] = { "0", "1", NULL };
static const char *const statuses[] = { "FREEZE", "NORMAL", NULL };

/* Field tables of spec/kit-and-v1.md §3; the index of each rule names its value. */
static const struct field_rule new_rules[] = {
	{ "orderId", true, FK_STRING, 64, NULL },
	{ "productId", true, FK_STRING, 64, NULL },
	{ "businessId", true, FK_STRING, 64, NULL },
	{ "customerId", true, FK_STRING, 100, NULL },
	{ "customerName", false, FK_STRING, 64, NULL },
	{ "userId", false, FK_STRING, 64, NULL },
	{ "userName", false, FK_STRING, 64, NULL },
	{ "mobilePhone", false, FK_STRING, 256, NULL },
	{ "email", false, FK_STRING, 512, NULL },
	{ "skuCode", false, FK_STRING, 64, NULL },
	{ "trialFlag", false, FK_ENUM, 2, flags01 },
	{ "expireTime", false, FK_TIME, 20, NULL },
	{ "chargingMode", false, FK_STRING, 3, NULL },
	{ "periodType", false, FK_STRING, 10, NULL },
	{ "periodNumber", false, FK_STRING, 8, NULL },
};
static const struct field_rule refresh_rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "orderId", true, FK_STRING, 64, NULL },
	{ "expireTime", true, FK_TIME, 20, NULL },
	{ "productId", false, FK_STRING, 64, NULL },
	{ "trialToFormal", false, FK_ENUM, 2, flags01 },
	{ "periodType", false, FK_STRING, 10, NULL },
	{ "periodNumber", false, FK_STRING, 8, NULL },
	{ "orderAmount", false, FK_STRING, 20, NULL },
};
static const struct field_rule expire_rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "orderId", true, FK_STRING, 64, NULL },
};
static const struct field_rule release_rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "orderId", true, FK_STRING, 64, NULL },
	{ "orderAmount", false, FK_STRING, 20, NULL },
};
static const struct field_rule upgrade_rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "orderId", true, FK_STRING, 64, NULL },
	{ "skuCode", true, FK_STRING, 64, NULL },
	{ "productId", true, FK_STRING, 64, NULL },
	{ "amount", false, FK_STRING, 7, NULL },
	{ "diskSize", false, FK_STRING, 7, NULL },
	{ "bandWidth", false, FK_STRING, 7, NULL },
};
static const struct field_rule status_rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "instanceStatus", true, FK_ENUM, 32, statuses },
};
static const struct field_rule query_rules[] = {
	{ "instanceId", true, FK_IDLIST, 64, NULL },
};

/* The order line key of a V1 call (instance.h, INSTANCE_V1_LINE). */
static const char *
v1_line(struct v1_call *c, const char *id)
{
	snprintf(c->line, sizeof(c->line), "%s%s", INSTANCE_V1_LINE, id);
	return c->line;
}

static const char *
v1_key(const struct v1_call *c)
{
	return c->key;
}

/* Maps a domain outcome to its result code and answers with the reason. */
static void
answer_status(struct v1_call *c, enum dom_status st)
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
	reply_code(c->r, v1_key(c), codes[st],
	    st == DOM_OK ? "success" : c->dc.reason[0] ? c->dc.reason : "failed");
}

/* appInfo of ready instances, userName and password encrypted. */
/* Where visit_instance writes: a queryInstance list item, or newInstance's appInfo. */
struct app_out {
	struct app_info_out	 app;	/* always encrypted with the V1 key */
	bool			 in_list; /* queryInstance: {instanceId, appInfo} items */
};

static void
app_out_init(struct app_out *q, struct v1_call *c, struct jw *w, bool in_list)
{
	memset(q, 0, sizeof(*q));
	q->app.w = w;
	q->app.encrypt_key = c->key;
	q->app.encrypt_type = (int)c->app->cfg->encrypt_type;
	q->app.ok = true;
	q->in_list = in_list;
}

static void
visit_instance(const struct instance_info *i, void *arg)
{
	struct app_out	*q = arg;

	if (q->in_list) {
		jw_obj_begin(q->app.w);
		jw_kv_str(q->app.w, "instanceId", i->instance_id);
	}
	app_info_put(&q->app, i);
	if (q->in_list)
		jw_obj_end(q->app.w);
}

static void
put_encrypt_type(struct v1_call *c, struct reply *rp)
{
	char	enc_type[4];

	snprintf(enc_type, sizeof(enc_type), "%d", (int)c->app->cfg->encrypt_type);
	jw_kv_str(&rp->w, "encryptType", enc_type);
}

static void
run_new(struct v1_call *c)
{
	const char	*ids[1];
	char		 id[ID_SIZE];
	enum dom_status	 st;
	struct reply	 rp;
	struct app_out	 q;
	size_t		 found, ready;

	/* V1 has no order line: the order and the product name it (§3.2). */
	request_audit_ids(c->r, NULL, c->f.str[0], v1_line(c, c->f.str[1]));
	st = instance_create(&c->app->dom, &c->dc, c->f.str[0], c->line, c->f.str[2], id);
	if (st != DOM_OK && st != DOM_PENDING) {
		answer_status(c, st);
		return;
	}
	request_audit_ids(c->r, id, NULL, NULL);
	(void)!str_copy(c->r->audit_reason, sizeof(c->r->audit_reason), c->dc.reason);
	if (st == DOM_PENDING) {
		reply_begin(&rp, c->r, RC_PENDING, "provisioning");
		jw_kv_str(&rp.w, "instanceId", id);
		reply_send(&rp, c->r, v1_key(c));
		return;
	}
	app_out_init(&q, c, &rp.w, false);
	reply_begin(&rp, c->r, RC_SUCCESS, "success");
	put_encrypt_type(c, &rp);
	jw_kv_str(&rp.w, "instanceId", id);
	ids[0] = id;
	st = instance_query(&c->app->dom, &c->dc, ids, 1, visit_instance, &q, &found, &ready);
	if (st != DOM_OK || !q.app.ok || ready != 1) {
		/* Created and committed; the access data is for queryInstance then. */
		buf_free(&rp.body);
		c->r->audit_reason[0] = '\0';
		if (st != DOM_OK)
			answer_status(c, st);
		else
			reply_code(c->r, v1_key(c), RC_INTERNAL, "reading appInfo failed");
		return;
	}
	reply_send(&rp, c->r, v1_key(c));
}

static void
run_query(struct v1_call *c)
{
	const char	*ids[IDLIST_MAX];
	char		*store = NULL;
	size_t		 n, found, ready;
	struct reply	 rp;
	struct app_out	 q;
	enum dom_status	 st;

	if (!fields_split_ids(c->f.str[0], 64, &store, ids, &n, c->err, sizeof(c->err))) {
		free(store);
		reply_code(c->r, v1_key(c), RC_PARAM, c->err);
		return;
	}
	if (n == 1)
		request_audit_ids(c->r, c->f.str[0], NULL, NULL);
	memset(&q, 0, sizeof(q));
	app_out_init(&q, c, NULL, true);
	reply_begin(&rp, c->r, RC_SUCCESS, "success");
	put_encrypt_type(c, &rp);
	jw_key(&rp.w, "info");
	jw_arr_begin(&rp.w);
	q.app.w = &rp.w;
	st = instance_query(&c->app->dom, &c->dc, ids, n, visit_instance, &q, &found, &ready);
	free(store);
	jw_arr_end(&rp.w);
	if (st != DOM_OK || !q.app.ok || ready == 0) {
		buf_free(&rp.body);
		c->r->audit_reason[0] = '\0';
		if (st != DOM_OK)
			answer_status(c, st);
		else if (!q.app.ok)
			reply_code(c->r, v1_key(c), RC_INTERNAL, "encrypting appInfo failed");
		else if (found == 0)
			reply_code(c->r, v1_key(c), RC_NO_INSTANCE, "no such instance");
		else
			reply_code(c->r, v1_key(c), RC_PENDING, "instance is still provisioning");
		return;
	}
	reply_send(&rp, c->r, v1_key(c));
}

static void
run_refresh(struct v1_call *c)
{
	bool	trial = c->f.str[4] != NULL && strcmp(c->f.str[4], "1") == 0;

	request_audit_ids(c->r, c->f.str[0], c->f.str[1], v1_line(c, c->f.str[1]));
	answer_status(c, instance_renew(&c->app->dom, &c->dc, c->f.str[0],
	    trial ? SCENE_TRIAL_TO_FORMAL : SCENE_RENEWAL, c->f.str[1], c->line,
	    c->f.str[3], c->f.time_ms[2]));
}

static void
run_expire(struct v1_call *c)
{
	request_audit_ids(c->r, c->f.str[0], c->f.str[1], NULL);
	answer_status(c, instance_set_frozen(&c->app->dom, &c->dc, c->f.str[0], true));
}

static void
run_release(struct v1_call *c)
{
	/* orderId is the purchase order here, not an unsubscription's: audit only. */
	request_audit_ids(c->r, c->f.str[0], c->f.str[1], NULL);
	answer_status(c, instance_release(&c->app->dom, &c->dc, c->f.str[0], NULL, NULL));
}

static void
run_upgrade(struct v1_call *c)
{
	request_audit_ids(c->r, c->f.str[0], c->f.str[1], v1_line(c, c->f.str[1]));
	answer_status(c, instance_upgrade(&c->app->dom, &c->dc, c->f.str[0], c->f.str[1],
	    c->line));
}

static void
run_status(struct v1_call *c)
{
	request_audit_ids(c->r, c->f.str[0], NULL, NULL);
	answer_status(c, instance_set_frozen(&c->app->dom, &c->dc, c->f.str[0],
	    strcmp(c->f.str[1], "FREEZE") == 0));
}

#define ACT(name, rules, fn) { name, rules, NELEM(rules), fn }

static const struct v1_activity activities[] = {
	ACT("newInstance", new_rules, run_new),
	ACT("refreshInstance", refresh_rules, run_refresh),
	ACT("expireInstance", expire_rules, run_expire),
	ACT("releaseInstance", release_rules, run_release),
	ACT("upgrade", upgrade_rules, run_upgrade),
	ACT("instanceStatus", status_rules, run_status),
	ACT("queryInstance", query_rules, run_query),
};

/* True when ts is 17 digits of a valid UTC time within the window. */
static bool
check_time(struct app *app, struct request *r, const char *ts)
{
	const char	*key = app->cfg->v1_key;
	int64_t		 ms, window = app->cfg->time_window * 1000;
	char		 msg[160];

	if (ts == NULL || *ts == '\0') {
		reply_code(r, key, RC_PARAM, "timeStamp: missing");
		return false;
	}
	if (strlen(ts) != V1_TS_LEN || !parse_mkp_time(ts, &ms)) {
		reply_code(r, key, RC_PARAM, "timeStamp: not yyyyMMddHHmmssSSS");
		return false;
	}
	if (ms < r->wall_ms - window || ms > r->wall_ms + window) {
		snprintf(msg, sizeof(msg), "timeStamp: %lld ms away from the server clock "
		    "(allowed: %lld)", (long long)(ms - r->wall_ms), (long long)window);
		reply_code(r, key, RC_PARAM, msg);
		return false;
	}
	return true;
}

/*
 * The authToken, under the current v1_key or, while a rotation's overlap
 * lasts, the previous one; *used gets the key that verified it.
 */
static bool
check_token(struct app *app, struct request *r, const struct v1_params *ps,
    const char **used)
{
	const char	*key = app->cfg->v1_key, *prev;
	const char	*token = v1_params_get(ps, "authToken");
	bool		 match;

	if (token == NULL || *token == '\0') {
		reply_code(r, key, RC_AUTH, "authToken: missing");
		return false;
	}
	match = verify_v1_query(key, ps);
	if (!match && (prev = config_previous_key(app->cfg, key, r->wall_ms)) != NULL &&
	    verify_v1_query(prev, ps)) {
		log_info("v1 call %s from %s: verified with the previous v1 key "
		    "(accepted until %s)", r->call_id, r->remote_addr ? r->remote_addr : "?",
		    app->cfg->previous_v1_until);
		*used = prev;
		match = true;
	}
	if (!match) {
		reply_code(r, key, RC_AUTH, "authToken: does not match");
		log_notice("v1 call %s from %s: authToken does not match", r->call_id,
		    r->remote_addr ? r->remote_addr : "?");
	}
	return match;
}

/*
 * Decrypts an encrypted contact field and appends "<name>Sealed":"s1:..."
 * to w. False (answer sent) when it does not decrypt.
 */
static bool
seal_contact(struct app *app, struct request *r, const char *k, struct jw *w,
    const char *name, const char *value)
{
	struct buf	plain = BUF_INIT, sealed = BUF_INIT;
	char		msg[96], key[32];

	if (!field_decrypt(k, (enum encrypt_type)app->cfg->encrypt_type,
	    value, &plain)) {
		snprintf(msg, sizeof(msg), "%s: does not decrypt (encryptType %d)", name,
		    (int)app->cfg->encrypt_type);
		reply_code(r, k, RC_PARAM, msg);
		return false;
	}
	seal(app->dom.seal, plain.data != NULL ? plain.data : "", plain.len, &sealed);
	wipe_buf(&plain);
	buf_free(&plain);
	snprintf(key, sizeof(key), "%sSealed", name);
	jw_kv_str(w, key, buf_cstr(&sealed));
	buf_free(&sealed);
	return true;
}

/*
 * The call's parameters as a JSON object of strings (what fields_check and
 * the audit log take), authToken left out, saasExtendParams decoded,
 * mobilePhone/email joined by their sealed plaintexts. NULL (answer sent)
 * when a contact field does not decrypt.
 */
static struct json *
params_tree(struct app *app, struct request *r, const char *k, const struct v1_params *ps)
{
	struct buf	 text = BUF_INIT;
	struct json	*tree = NULL;
	struct jw	 w;
	char		 perr[128];
	size_t		 i;

	jw_init(&w, &text);
	jw_obj_begin(&w);
	for (i = 0; i < ps->n; i++) {
		const char *name = ps->p[i].name, *value = ps->p[i].value;

		if (strcmp(name, "authToken") == 0)
			continue;
		if (strcmp(name, "saasExtendParams") == 0 && *value != '\0') {
			v1_put_extend_params(&w, value);
			continue;
		}
		jw_kv_str(&w, name, value);
		if ((strcmp(name, "mobilePhone") == 0 || strcmp(name, "email") == 0) &&
		    *value != '\0' && !seal_contact(app, r, k, &w, name, value))
			goto out;
	}
	jw_obj_end(&w);
	tree = json_parse(buf_cstr(&text), text.len, 16, perr, sizeof(perr));
	if (tree == NULL) {
		log_error("v1 call %s: parameters do not make JSON (%s)", r->call_id, perr);
		reply_code(r, k, RC_PARAM, "query: not text");
	}
out:
	buf_free(&text);
	return tree;
}

void
v1_basic_handle(struct app *app, struct request *r)
{
	const char		*key = app->cfg->v1_key;
	const struct v1_activity *act = NULL;
	struct v1_params	 ps;
	struct json		*tree = NULL;
	struct v1_call		 c;
	const char		*name;
	char			 err[160];
	size_t			 i;

	r->audit.dialect = "v1";
	if (key == NULL || *key == '\0') {
		reply_code(r, "", RC_PARAM, "the V1 dialect is not configured ([keys] v1_key)");
		return;
	}
	if (!v1_params_parse(r->query, &ps, err, sizeof(err))) {
		reply_code(r, key, RC_PARAM, err);
		return;
	}
	name = v1_params_get(&ps, "activity");
	for (i = 0; name != NULL && i < NELEM(activities); i++)
		if (strcmp(name, activities[i].name) == 0)
			act = &activities[i];
	if (act != NULL)
		r->audit.activity = act->name;
	if (!check_time(app, r, v1_params_get(&ps, "timeStamp")) ||
	    !check_token(app, r, &ps, &key))
		goto out;
	if ((tree = params_tree(app, r, key, &ps)) == NULL)
		goto out;
	redact_json(tree, &r->audit_body, AUDIT_BODY_MAX);
	r->audit.body = buf_cstr(&r->audit_body);
	if (name == NULL || *name == '\0') {
		reply_code(r, key, RC_PARAM, "activity: missing");
		goto out;
	}
	if (act == NULL) {
		reply_code(r, key, RC_PARAM, "activity: unknown");
		goto out;
	}

	memset(&c, 0, sizeof(c));
	c.app = app;
	c.key = key;
	c.r = r;
	c.dc.call_id = r->call_id;
	if (!fields_test_flag(tree, &c.dc.is_test)) {
		reply_code(r, key, RC_PARAM, "testFlag: must be 0 or 1");
		goto out;
	}
	r->audit.is_test = c.dc.is_test;
	if (!fields_check(tree, act->rules, act->nrules, &c.f, c.err, sizeof(c.err))) {
		reply_code(r, key, RC_PARAM, c.err);
		goto out;
	}
	nonce_prelude(app->db, "v1", v1_params_get(&ps, "authToken"),
	    2 * app->cfg->time_window, r->call_id);
	act->run(&c);
	reply_if_replayed(app->db, r, key, "v1", "authToken");
out:
	db_prelude_reset(app->db);
	json_free(tree);
	v1_params_free(&ps);
}

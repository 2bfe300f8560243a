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
 * as "v1:<authToken>" in the shared nonce store, with the command's first
 * statement and in its transaction, like the V2 nonce. It
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
#include <string.h>

#include "api/call.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/fieldcrypt.h"
#include "crypto/seal.h"

#define V1_TS_LEN	17	/* yyyyMMddHHmmssSSS */

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
v1_line(struct call *c, const char *id)
{
	snprintf(c->line, sizeof(c->line), "%s%s", INSTANCE_V1_LINE, id);
	return c->line;
}

static void
run_new(struct call *c)
{
	char		 id[ID_SIZE];
	enum dom_status	 st;
	struct reply	 rp;

	/* V1 has no order line: the order and the product name it (§3.2). */
	request_audit_ids(c->r, NULL, c->f.str[0], v1_line(c, c->f.str[1]));
	st = instance_create(&c->app->dom, &c->dc, c->f.str[0], c->line, c->f.str[2], id);
	if (st != DOM_OK && st != DOM_PENDING) {
		call_answer(c, st);
		return;
	}
	request_audit_ids(c->r, id, NULL, NULL);
	(void)!str_copy(c->r->audit_reason, sizeof(c->r->audit_reason), c->dc.reason);
	if (st == DOM_PENDING) {
		reply_begin(&rp, c->r, RC_PENDING, "provisioning");
		jw_kv_str(&rp.w, "instanceId", id);
		reply_send(&rp, c->r, c->key);
		return;
	}
	call_answer_created(c, id);
}

static void
run_query(struct call *c)
{
	call_answer_query(c, c->f.str[0]);
}

static void
run_refresh(struct call *c)
{
	bool	trial = c->f.str[4] != NULL && strcmp(c->f.str[4], "1") == 0;

	request_audit_ids(c->r, c->f.str[0], c->f.str[1], v1_line(c, c->f.str[1]));
	call_answer(c, instance_renew(&c->app->dom, &c->dc, c->f.str[0],
	    trial ? SCENE_TRIAL_TO_FORMAL : SCENE_RENEWAL, c->f.str[1], c->line,
	    c->f.str[3], c->f.time_ms[2]));
}

static void
run_expire(struct call *c)
{
	request_audit_ids(c->r, c->f.str[0], c->f.str[1], NULL);
	call_answer(c, instance_set_frozen(&c->app->dom, &c->dc, c->f.str[0], true));
}

static void
run_release(struct call *c)
{
	/* orderId is the purchase order here, not an unsubscription's: audit only. */
	request_audit_ids(c->r, c->f.str[0], c->f.str[1], NULL);
	call_answer(c, instance_release(&c->app->dom, &c->dc, c->f.str[0], NULL, NULL));
}

static void
run_upgrade(struct call *c)
{
	request_audit_ids(c->r, c->f.str[0], c->f.str[1], v1_line(c, c->f.str[1]));
	call_answer(c, instance_upgrade(&c->app->dom, &c->dc, c->f.str[0], c->f.str[1],
	    c->line));
}

static void
run_status(struct call *c)
{
	request_audit_ids(c->r, c->f.str[0], NULL, NULL);
	call_answer(c, instance_set_frozen(&c->app->dom, &c->dc, c->f.str[0],
	    strcmp(c->f.str[1], "FREEZE") == 0));
}

#define ACT(name, rules, fn) { name, rules, NELEM(rules), -1, fn }

static const struct activity activities[] = {
	ACT("newInstance", new_rules, run_new),
	ACT("refreshInstance", refresh_rules, run_refresh),
	ACT("expireInstance", expire_rules, run_expire),
	ACT("releaseInstance", release_rules, run_release),
	ACT("upgrade", upgrade_rules, run_upgrade),
	ACT("instanceStatus", status_rules, run_status),
	ACT("queryInstance", query_rules, run_query),
};

/*
 * Decrypts an encrypted contact field and appends "<name>Sealed":"s1:..."
 * to w. False (answer sent) when it does not decrypt.
 */
static bool
seal_contact(struct call *c, struct jw *w, const char *name, const char *value)
{
	struct app	*app = c->app;
	struct buf	plain = BUF_INIT, sealed = BUF_INIT;
	char		msg[96], key[32];

	if (!field_decrypt(c->key, (enum encrypt_type)app->cfg->encrypt_type,
	    value, &plain)) {
		snprintf(msg, sizeof(msg), "%s: does not decrypt (encryptType %d)", name,
		    (int)app->cfg->encrypt_type);
		call_reply(c, RC_PARAM, msg);
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
 * mobilePhone/email joined by their sealed plaintexts, into c->body. False
 * (answer sent) when a contact field does not decrypt.
 */
static bool
v1_parse(struct call *c)
{
	const struct v1_params *ps = &c->ps;
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
		    *value != '\0' && !seal_contact(c, &w, name, value))
			goto out;
	}
	jw_obj_end(&w);
	tree = json_parse(buf_cstr(&text), text.len, 16, perr, sizeof(perr));
	if (tree == NULL) {
		log_error("v1 call %s: parameters do not make JSON (%s)", c->r->call_id, perr);
		call_reply(c, RC_PARAM, "query: not text");
	}
out:
	buf_free(&text);
	c->body = tree;
	return tree != NULL;
}

static bool
v1_verify(struct call *c, const char *key)
{
	return verify_v1_query(key, &c->ps);
}

/*
 * The query, timeStamp (17 digits of a valid UTC time within the window)
 * and the authToken, the replay key.
 */
static bool
v1_authenticate(struct call *c)
{
	const char	*ts, *token;
	int64_t		 ms;

	if (!v1_params_parse(c->r->query, &c->ps, c->err, sizeof(c->err))) {
		call_reply(c, RC_PARAM, c->err);
		return false;
	}
	ts = v1_params_get(&c->ps, "timeStamp");
	if (ts == NULL || *ts == '\0') {
		call_reply(c, RC_PARAM, "timeStamp: missing");
		return false;
	}
	if (strlen(ts) != V1_TS_LEN || !parse_mkp_time(ts, &ms)) {
		call_reply(c, RC_PARAM, "timeStamp: not yyyyMMddHHmmssSSS");
		return false;
	}
	if (!call_window(c, "timeStamp", ms))
		return false;
	token = v1_params_get(&c->ps, "authToken");
	if (token == NULL || *token == '\0') {
		call_reply(c, RC_AUTH, "authToken: missing");
		return false;
	}
	if (!call_verify(c, "authToken", v1_verify))
		return false;
	call_replay(c, token);
	return true;
}

static const char *
v1_activity(struct call *c)
{
	return v1_params_get(&c->ps, "activity");
}

const struct dialect dialect_v1_basic = {
	.name = "v1",
	.log = "v1",
	.slot = KEY_V1,
	.authenticate = v1_authenticate,
	.parse = v1_parse,
	.activity_name = v1_activity,
	.replay = "v1",
	.replay_param = "authToken",
	.test_flag_msg = "testFlag: must be 0 or 1",
	.always_encrypt = true,
	.acts = activities,
	.nacts = NELEM(activities),
};

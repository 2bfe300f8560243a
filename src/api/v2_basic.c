/*
 * v2_basic.c: the V2 basic interfaces (spec/v2-basic.md, readings 1-6 of
 * spec/README.md): one POST URL, the activity in the JSON body, the
 * signature, timestamp and nonce in the query string.
 *
 * The pipeline (api/call.h) checks the call: timestamp and nonce 000002,
 * signature over the canonical payload or the raw bytes 000001, body,
 * activity and fields 000002; the domain command claims the nonce ("v2")
 * with its first statement, so a replay (000001) undoes the call whole.
 * This file is the dialect's data and its run functions.
 */
#include <string.h>

#include "api/call.h"
#include "common/json.h"
#include "common/util.h"

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

static void
run_new(struct call *c)
{
	char		 id[ID_SIZE];
	enum dom_status	 st;
	struct reply	 rp;

	request_audit_ids(c->r, NULL, c->f.str[0], c->f.str[1]);
	st = instance_create(&c->app->dom, &c->dc, c->f.str[0], c->f.str[1], c->f.str[2], id);
	if (st != DOM_OK && st != DOM_PENDING) {
		call_answer(c, st);
		return;
	}
	(void)!str_copy(c->r->audit_reason, sizeof(c->r->audit_reason), c->dc.reason);
	reply_begin(&rp, c->r, st == DOM_OK ? RC_SUCCESS : RC_PENDING,
	    st == DOM_OK ? "success" : "provisioning");
	jw_kv_str(&rp.w, "instanceId", id);
	reply_send(&rp, c->r, c->key);
	request_audit_ids(c->r, id, NULL, NULL);
}

static void
run_query(struct call *c)
{
	call_answer_query(c, c->f.str[0]);
}

static void
run_refresh(struct call *c)
{
	enum renew_scene scene;

	request_audit_ids(c->r, c->f.str[0], c->f.str[2], c->f.str[3]);
	if (!renew_scene_parse(c->f.str[1], false, &scene)) {
		call_reply(c, RC_PARAM, "scene: not one of the allowed values");
		return;
	}
	call_answer(c, instance_renew(&c->app->dom, &c->dc, c->f.str[0], scene,
	    c->f.str[2], c->f.str[3], c->f.str[4], c->f.time_ms[5]));
}

static void
run_status(struct call *c)
{
	request_audit_ids(c->r, c->f.str[0], NULL, NULL);
	call_answer(c, instance_set_frozen(&c->app->dom, &c->dc, c->f.str[0],
	    strcmp(c->f.str[1], "FREEZE") == 0));
}

static void
run_release(struct call *c)
{
	request_audit_ids(c->r, c->f.str[0], c->f.str[1], c->f.str[2]);
	if ((c->f.str[1] == NULL) != (c->f.str[2] == NULL)) {
		call_reply(c, RC_PARAM,
		    "orderId and orderLineId: give both or neither");
		return;
	}
	call_answer(c, instance_release(&c->app->dom, &c->dc, c->f.str[0], c->f.str[1],
	    c->f.str[2]));
}

static void
run_upgrade(struct call *c)
{
	request_audit_ids(c->r, c->f.str[0], c->f.str[1], c->f.str[2]);
	call_answer(c, instance_upgrade(&c->app->dom, &c->dc, c->f.str[0], c->f.str[1],
	    c->f.str[2]));
}

static void
run_check(struct call *c)
{
	struct buf	info = BUF_INIT;

	request_audit_ids(c->r, c->f.str[0], NULL, NULL);
	json_emit(c->f.val[1], &info);
	call_answer(c, instance_check_change(&c->app->dom, &c->dc, c->f.str[0],
	    buf_cstr(&info)));
	buf_free(&info);
}

static void
run_license(struct call *c)
{
	enum renew_scene scene;

	request_audit_ids(c->r, NULL, c->f.str[2], c->f.str[3]);
	if (!renew_scene_parse(c->f.str[1], true, &scene)) {
		call_reply(c, RC_PARAM, "scene: not one of the allowed values");
		return;
	}
	call_answer(c, license_renew(&c->app->dom, &c->dc, c->f.str[0], scene,
	    c->f.str[2], c->f.str[3], c->f.str[4], c->f.time_ms[5]));
}

#define ACT(name, rules, fn) { name, rules, NELEM(rules), -1, fn }

static const struct activity activities[] = {
	ACT("newInstance", new_rules, run_new),
	ACT("queryInstance", query_rules, run_query),
	ACT("refreshInstance", refresh_rules, run_refresh),
	ACT("updateInstanceStatus", status_rules, run_status),
	ACT("releaseInstance", release_rules, run_release),
	ACT("upgradeInstance", upgrade_rules, run_upgrade),
	ACT("changeInstanceCheck", check_rules, run_check),
	ACT("refreshLicenseCode", license_rules, run_license),
};

static const struct v2_params params = {
	.headers = false,
	.names = { "signature", "timestamp", "nonce" },
	.kind = VERIFY_V2_BASIC,
};

const struct dialect dialect_v2_basic = {
	.name = "v2",
	.log = "v2",
	.slot = KEY_BASIC,
	.authenticate = call_authenticate_v2,
	.v2 = &params,
	.replay = "v2",
	.replay_param = "nonce",
	.test_flag_msg = "testFlag: must be \"0\" or \"1\"",
	.usage_info = true,
	.acts = activities,
	.nacts = NELEM(activities),
};

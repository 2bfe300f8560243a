/*
 * kit.c: the Kit (joint-operation) dialects (spec/kit-and-v1.md §1.2,
 * §1.5 and §2, readings 1-3, 7, 8 and 10 of spec/README.md):
 *   V2: POST to {base_path}produceAPI/v2/{tenantSync,applicationSync,
 *       authSync,singleOrgSync,allOrgSync} with x-sign, x-timestamp and
 *       x-nonce headers, signed with [keys] kit_key;
 *   V1: POST to {base_path}produceAPI/{same names} with an authToken
 *       header (base64 HMAC-SHA256 keyed with [keys] v1_key + the body's
 *       timeStamp over its sorted top-level members, kit_v1_payload),
 *       answered with Body-Sign keyed with v1_key. V1 has no nonce and no
 *       time window (the spec gives none); its calls are idempotent.
 * Both share the field tables, the list parsing and the domain commands.
 *
 * The pipeline (api/call.h) checks both in its order; V2's x-nonce is the
 * replay key ("kit2"), claimed with BEGIN of the domain command
 * (src/domain/kit.c), the whole call one transaction. After the field
 * table, kit_prepare checks timeStamp and flag; the run functions check
 * each list item (one bad item: 000002, nothing applied) and decrypt a
 * clientSecret. Lists (userList, orgInfoList) may be arrays or strings
 * holding JSON, bare keys allowed. Answers carry Body-Sign (the key that
 * verified the call).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/call.h"
#include "api/kit.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/rsa.h"
#include "crypto/sign.h"
#include "domain/kit.h"

#define KIT_MAX_DEPTH	32
#define KIT_USERS_MAX	500
#define KIT_ORGS_MAX	20000
#define KIT_SECRET_MAX	4096

/* Field tables of spec/kit-and-v1.md §2; instanceId/orderId are empty in seller debug. */
static const struct field_rule tenant_rules[] = {
	{ "tenantId", true, FK_STRING, 64, NULL },
	{ "instanceId", false, FK_STRING, 64, NULL },
	{ "orderId", false, FK_STRING, 64, NULL },
	{ "tenantCode", false, FK_STRING, 64, NULL },
	{ "name", false, FK_STRING, 255, NULL },
	{ "domainName", false, FK_STRING, 255, NULL },
};
static const struct field_rule app_rules[] = {
	{ "tenantId", true, FK_STRING, 64, NULL },
	{ "instanceId", false, FK_STRING, 64, NULL },
	{ "appId", true, FK_STRING, 64, NULL },
	{ "clientId", false, FK_STRING, 64, NULL },
	{ "clientSecret", false, FK_STRING, KIT_SECRET_MAX, NULL },
};
static const struct field_rule auth_rules[] = {
	{ "tenantId", true, FK_STRING, 64, NULL },
	{ "instanceId", false, FK_STRING, 64, NULL },
	{ "appId", true, FK_STRING, 64, NULL },
	{ "currentSyncTime", true, FK_STRING, 17, NULL },
};
static const struct field_rule single_org_rules[] = {
	{ "tenantId", true, FK_STRING, 64, NULL },
	{ "instanceId", false, FK_STRING, 64, NULL },
	{ "orgCode", true, FK_STRING, 64, NULL },
	{ "orgName", false, FK_STRING, 128, NULL },
	{ "parentCode", false, FK_STRING, 64, NULL },
};
static const struct field_rule all_org_rules[] = {
	{ "tenantId", true, FK_STRING, 64, NULL },
	{ "instanceId", false, FK_STRING, 64, NULL },
};

/* User items (authSync); employeeType and enable are read apart (number or string). */
static const char *const roles[] = { "admin", "user", NULL };
static const struct field_rule user_rules[] = {
	{ "userName", true, FK_STRING, 64, NULL },
	{ "name", false, FK_STRING, 64, NULL },
	{ "orgCode", false, FK_STRING, 64, NULL },
	{ "role", false, FK_ENUM, 32, roles },
	{ "position", false, FK_STRING, 64, NULL },
	{ "employeeCode", false, FK_STRING, 64, NULL },
	{ "mobile", false, FK_STRING, 32, NULL },
	{ "email", false, FK_STRING, 128, NULL },
	{ "workPlace", false, FK_STRING, 128, NULL },
	{ "entryDate", false, FK_STRING, 32, NULL },
};
static const struct field_rule org_rules[] = {
	{ "orgCode", true, FK_STRING, 64, NULL },
	{ "orgName", false, FK_STRING, 128, NULL },
	{ "name", false, FK_STRING, 128, NULL },	/* the V1 spelling */
	{ "parentCode", false, FK_STRING, 64, NULL },
};

static void
answer_param(struct call *c, const char *msg)
{
	call_reply(c, RC_PARAM, msg);
}

const char *
kit_stamp(const struct json *v, int64_t now, int64_t window_s, char out[18])
{
	const char	*s;
	int64_t		 ms;
	size_t		 n;

	if (v == NULL)
		return "missing or not yyyyMMddHHmmssSSS";
	if (v->type == JSON_STRING)
		s = v->u.str.s;
	else if (v->type == JSON_NUMBER)
		s = v->u.num;
	else
		return "missing or not yyyyMMddHHmmssSSS";
	n = strlen(s);
	if (n != 14 && n != 17)
		return "missing or not yyyyMMddHHmmssSSS";
	/* A real instant: month, day, hour, minute, second, millisecond. */
	if (!parse_mkp_time(s, &ms))
		return "not a real time (yyyyMMddHHmmssSSS)";
	/*
	 * UTC+8. A stamp far ahead would make every later change of the
	 * object look older, and ignored, until that day.
	 */
	if (ms - KIT_UTC8_MS > now + (window_s + KIT_STAMP_AHEAD_S) * 1000)
		return "more than a day ahead of the server clock";
	memcpy(out, s, n);
	memcpy(out + n, "000", 17 - n);
	out[17] = '\0';
	return NULL;
}

/* An integer member given as a number or as a string of digits. */
static bool
get_small_int(const struct json *v, int64_t lo, int64_t hi, int64_t *out)
{
	if (v == NULL)
		return false;
	if (v->type == JSON_NUMBER)
		return parse_i64(v->u.num, lo, hi, out);
	if (v->type == JSON_STRING)
		return parse_i64(v->u.str.s, lo, hi, out);
	return false;
}

const struct json *
kit_list(const struct json *v, const char *name, size_t max, struct json **owned,
    char *err, size_t errlen)
{
	struct buf	 fixed = BUF_INIT;
	char		 perr[128];

	*owned = NULL;
	if (v == NULL || v->type == JSON_NULL) {
		snprintf(err, errlen, "%s: missing", name);
		return NULL;
	}
	if (v->type == JSON_STRING) {
		json_quote_bare_keys(v->u.str.s, v->u.str.len, &fixed);
		*owned = json_parse(buf_cstr(&fixed), fixed.len, KIT_MAX_DEPTH, perr, sizeof(perr));
		buf_free(&fixed);
		if (*owned == NULL) {
			snprintf(err, errlen, "%s: not a JSON list (%s)", name, perr);
			return NULL;
		}
		v = *owned;
	}
	if (v->type != JSON_ARRAY) {
		snprintf(err, errlen, "%s: must be a list", name);
		return NULL;
	}
	if (v->u.arr.n > max) {
		snprintf(err, errlen, "%s: more than %zu items", name, max);
		return NULL;
	}
	return v;
}

/* The list member name (or alt when name is absent or null). */
static const struct json *
get_list(struct call *c, const char *name, const char *alt, size_t max,
    struct json **owned)
{
	const struct json	*v = json_get(c->body, name);

	if ((v == NULL || v->type == JSON_NULL) && alt != NULL) {
		name = alt;
		v = json_get(c->body, alt);
	}
	return kit_list(v, name, max, owned, c->err, sizeof(c->err));
}

static void
run_tenant(struct call *c)
{
	struct kit_tenant	t;

	request_audit_ids(c->r, c->f.str[1], c->f.str[2], NULL);
	if (c->scope.flag != KIT_FLAG_DELETE) {
		const char *missing = c->f.str[4] == NULL ? "name" :
		    c->f.str[5] == NULL ? "domainName" :
		    c->f.str[3] == NULL && c->scope.flag == KIT_FLAG_ADD ? "tenantCode" : NULL;

		if (missing != NULL) {
			snprintf(c->err, sizeof(c->err), "%s: missing", missing);
			answer_param(c, c->err);
			return;
		}
	}
	t.tenant_code = c->f.str[3];
	t.name = c->f.str[4];
	t.domain_name = c->f.str[5];
	t.order_id = c->f.str[2];
	call_answer(c, kit_tenant_sync(&c->app->dom, &c->dc, &c->scope, &t));
}

static void
run_app(struct call *c)
{
	struct kit_app	 a;
	struct buf	 plain = BUF_INIT;
	const char	*cipher = c->f.str[4];
	const char	*keyfile = c->app->cfg->kit_private_key_file;
	enum dom_status	 st;

	request_audit_ids(c->r, c->f.str[1], NULL, NULL);
	memset(&a, 0, sizeof(a));
	a.app_id = c->f.str[2];
	a.client_id = c->f.str[3];
	if (c->scope.flag != KIT_FLAG_DELETE) {
		if (a.client_id == NULL || cipher == NULL) {
			answer_param(c, a.client_id == NULL ? "clientId: missing" :
			    "clientSecret: missing");
			return;
		}
		if (keyfile != NULL && keyfile[0] != '\0' && c->app->rsa != NULL &&
		    rsa_oaep_decrypt_b64(c->app->rsa, cipher, &plain)) {
			a.secret = buf_cstr(&plain);
			a.secret_len = plain.len;
		} else if (c->dc.is_test) {
			/* A debug call's values are typed by hand in the console. */
			log_warn("kit call %s: debug clientSecret for tenant %s app %s does not "
			    "decrypt; stored sealed as received", c->r->call_id,
			    c->scope.tenant_id, a.app_id);
			a.secret = cipher;
			a.secret_len = strlen(cipher);
			a.secret_as_received = true;
		} else {
			answer_param(c, c->app->rsa == NULL ?
			    "clientSecret: cannot decrypt (no [kit] private_key_file)" :
			    "clientSecret: does not decrypt with the private key");
			return;
		}
	}
	st = kit_app_sync(&c->app->dom, &c->dc, &c->scope, &a);
	wipe_buf(&plain);
	buf_free(&plain);
	call_answer(c, st);
}

/* Reads one user item into u; extension text goes to ext. */
static bool
read_user(struct call *c, size_t idx, const struct json *item, struct kit_user *u,
    struct buf *ext, char emp_type[24])
{
	struct field_values	 f;
	const struct json	*x, *v;
	char			 err[160];
	int64_t			 et;
	bool			 full = c->scope.flag == KIT_FLAG_ADD ||
				    c->scope.flag == KIT_FLAG_MODIFY;

	memset(u, 0, sizeof(*u));
	if (!fields_check(item, user_rules, NELEM(user_rules), &f, err, sizeof(err))) {
		snprintf(c->err, sizeof(c->err), "userList[%zu].%s", idx, err);
		return false;
	}
	u->user_name = f.str[0];
	u->name = f.str[1];
	u->org_code = f.str[2];
	u->role = f.str[3];
	u->position = f.str[4];
	u->employee_code = f.str[5];
	u->mobile = f.str[6];
	u->email = f.str[7];
	u->work_place = f.str[8];
	u->entry_date = f.str[9];

	x = json_get(item, "extension");
	if (x != NULL && x->type != JSON_NULL) {
		if (x->type != JSON_OBJECT) {
			snprintf(c->err, sizeof(c->err), "userList[%zu].extension: must be an object",
			    idx);
			return false;
		}
		json_emit(x, ext);
		/* The doc example sends these inside extension. */
		if (u->work_place == NULL)
			u->work_place = json_get_str(x, "workPlace");
		if (u->entry_date == NULL)
			u->entry_date = json_get_str(x, "entryDate");
		u->extension = buf_cstr(ext);
	}
	v = json_get(item, "employeeType");
	if ((v == NULL || v->type == JSON_NULL) && x != NULL)
		v = json_get(x, "employeeType");
	if (v != NULL && v->type != JSON_NULL &&
	    !(v->type == JSON_STRING && v->u.str.len == 0)) {
		if (!get_small_int(v, 0, 99999999999LL, &et)) {
			snprintf(c->err, sizeof(c->err), "userList[%zu].employeeType: not an integer",
			    idx);
			return false;
		}
		snprintf(emp_type, 24, "%lld", (long long)et);
		u->employee_type = emp_type;
	}
	v = json_get(item, "enable");
	if (v != NULL && v->type == JSON_BOOL)
		u->enable = v->u.b ? "true" : "false";
	else if (v != NULL && v->type == JSON_STRING &&
	    (strcmp(v->u.str.s, "true") == 0 || strcmp(v->u.str.s, "false") == 0))
		u->enable = v->u.str.s;
	else if (v != NULL && v->type != JSON_NULL) {
		snprintf(c->err, sizeof(c->err), "userList[%zu].enable: must be \"true\" or \"false\"",
		    idx);
		return false;
	}
	if (full) {
		const char *missing = u->name == NULL ? "name" : u->org_code == NULL ? "orgCode" :
		    u->role == NULL ? "role" : u->enable == NULL ? "enable" : NULL;

		if (missing != NULL) {
			snprintf(c->err, sizeof(c->err), "userList[%zu].%s: missing", idx, missing);
			return false;
		}
	}
	return true;
}

struct keyed {
	const char	*key;
	size_t		 idx;
};

static int
keyed_order(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int	 d = strcmp(x->key, y->key);

	return d != 0 ? d : (x->idx > y->idx) - (x->idx < y->idx);
}

/*
 * The index of the first item (in list order) whose key, the string pointer
 * at offset off of each item of size bytes, an earlier item has; n when the
 * keys are distinct. Sorted, not compared pair by pair: a list of 20 000
 * departments would take 200 million comparisons.
 */
static size_t
first_repeated(const void *items, size_t n, size_t size, size_t off)
{
	struct keyed	*s;
	size_t		 i, first = n;

	if (n < 2)
		return n;
	s = xcalloc(n, sizeof(*s));
	for (i = 0; i < n; i++) {
		memcpy(&s[i].key, (const char *)items + i * size + off, sizeof(s[i].key));
		s[i].idx = i;
	}
	qsort(s, n, sizeof(*s), keyed_order);
	for (i = 1; i < n; i++)
		if (strcmp(s[i - 1].key, s[i].key) == 0 && s[i].idx < first)
			first = s[i].idx;
	free(s);
	return first;
}

static void
run_auth(struct call *c)
{
	const struct json	*list;
	struct json		*owned = NULL;
	struct kit_user		*users = NULL;
	struct buf		*ext = NULL;
	char			(*emp)[24] = NULL, sync[18];
	const char		*why;
	size_t			 i, n = 0, k;
	bool			 ok = true;

	request_audit_ids(c->r, c->f.str[1], NULL, NULL);
	if ((why = kit_stamp(c->f.val[3], now_ms(), c->app->cfg->time_window, sync)) != NULL) {
		snprintf(c->err, sizeof(c->err), "currentSyncTime: %s", why);
		answer_param(c, c->err);
		return;
	}
	list = get_list(c, "userList", NULL, KIT_USERS_MAX, &owned);
	if (list == NULL) {
		answer_param(c, c->err);
		goto out;
	}
	n = list->u.arr.n;
	users = xcalloc(n + 1, sizeof(*users));
	ext = xcalloc(n + 1, sizeof(*ext));
	emp = xcalloc(n + 1, sizeof(*emp));
	for (i = 0; i < n && ok; i++)
		ok = read_user(c, i, list->u.arr.items[i], &users[i], &ext[i], emp[i]);
	if (ok && (k = first_repeated(users, n, sizeof(*users),
	    offsetof(struct kit_user, user_name))) < n) {
		snprintf(c->err, sizeof(c->err), "userList[%zu].userName: repeated", k);
		ok = false;
	}
	if (!ok) {
		answer_param(c, c->err);
		goto out;
	}
	call_answer(c, kit_auth_sync(&c->app->dom, &c->dc, &c->scope, c->f.str[2], sync,
	    users, n));
out:
	for (i = 0; ext != NULL && i < n; i++)
		buf_free(&ext[i]);
	free(ext);
	free(emp);
	free(users);
	json_free(owned);
}

static void
run_single_org(struct call *c)
{
	struct kit_org	g;

	request_audit_ids(c->r, c->f.str[1], NULL, NULL);
	g.org_code = c->f.str[2];
	g.name = c->f.str[3];
	g.parent_code = c->f.str[4];
	if (c->scope.flag != KIT_FLAG_DELETE && g.name == NULL) {
		answer_param(c, "orgName: missing");
		return;
	}
	call_answer(c, kit_org_sync(&c->app->dom, &c->dc, &c->scope, &g, 1, false));
}

static void
run_all_org(struct call *c)
{
	const struct json	*list;
	struct json		*owned = NULL;
	struct kit_org		*orgs = NULL;
	struct field_values	 f;
	char			 err[160];
	size_t			 i, k, n;

	request_audit_ids(c->r, c->f.str[1], NULL, NULL);
	c->scope.flag = KIT_FLAG_ADD;
	list = get_list(c, "orgInfoList", "orgInfo", KIT_ORGS_MAX, &owned);
	if (list == NULL) {
		answer_param(c, c->err);
		return;
	}
	n = list->u.arr.n;
	orgs = xcalloc(n + 1, sizeof(*orgs));
	for (i = 0; i < n; i++) {
		if (!fields_check(list->u.arr.items[i], org_rules, NELEM(org_rules), &f, err,
		    sizeof(err))) {
			snprintf(c->err, sizeof(c->err), "orgInfoList[%zu].%s", i, err);
			goto bad;
		}
		orgs[i].org_code = f.str[0];
		orgs[i].name = f.str[1] != NULL ? f.str[1] : f.str[2];
		orgs[i].parent_code = f.str[3];
		if (orgs[i].name == NULL) {
			snprintf(c->err, sizeof(c->err), "orgInfoList[%zu].orgName: missing", i);
			goto bad;
		}
	}
	if ((k = first_repeated(orgs, n, sizeof(*orgs),
	    offsetof(struct kit_org, org_code))) < n) {
		snprintf(c->err, sizeof(c->err), "orgInfoList[%zu].orgCode: repeated", k);
		goto bad;
	}
	call_answer(c, kit_org_sync(&c->app->dom, &c->dc, &c->scope, orgs, n, true));
	free(orgs);
	json_free(owned);
	return;
bad:
	answer_param(c, c->err);
	free(orgs);
	json_free(owned);
}

#define ACT(name, rules, maxf, fn) { name, rules, NELEM(rules), maxf, fn }

static const struct activity activities[] = {
	ACT("tenantSync", tenant_rules, 2, run_tenant),
	ACT("applicationSync", app_rules, 2, run_app),
	ACT("authSync", auth_rules, 3, run_auth),
	ACT("singleOrgSync", single_org_rules, 2, run_single_org),
	ACT("allOrgSync", all_org_rules, -1, run_all_org),
};

static bool
kit_v1_verify(struct call *c, const char *key)
{
	return verify_kit_v1(key, c->body, json_get_str(c->body, "timeStamp"), c->sig);
}

/*
 * The V1 authToken check (spec/kit-and-v1.md §1.2): the blank-skipping
 * form first (Huawei's sample), then the one keeping blanks. No nonce, no
 * window (the spec gives none).
 */
static bool
kit_v1_authenticate(struct call *c)
{
	const char	*token = request_param(c->r, "HTTP_AUTHTOKEN");
	const char	*ts;
	char		 msg[192];
	bool		 ok;

	if (token != NULL && !fields_param_text(token, strlen(token))) {
		call_reply(c, RC_PARAM, "authToken: holds a NUL or control character");
		return false;
	}
	if (token == NULL || *token == '\0') {
		call_reply(c, RC_AUTH, "authToken: missing");
		return false;
	}
	c->body = json_parse(c->r->body.data != NULL ? c->r->body.data : "", c->r->body.len,
	    KIT_MAX_DEPTH, c->perr, sizeof(c->perr));
	if (c->body == NULL || c->body->type != JSON_OBJECT) {
		snprintf(msg, sizeof(msg), "body: not a JSON object%s%s%s",
		    c->body != NULL ? "" : " (", c->body != NULL ? "" : c->perr,
		    c->body != NULL ? "" : ")");
		call_reply(c, RC_PARAM, msg);
		return false;
	}
	ts = json_get_str(c->body, "timeStamp");
	if (ts == NULL || *ts == '\0') {
		call_reply(c, RC_PARAM, "timeStamp: missing");
		return false;
	}
	c->sig = token;
	ok = call_verify(c, "authToken", kit_v1_verify);
	c->sig = NULL;
	return ok;
}

/* After the field table: the call's timeStamp and flag, its scope. */
static bool
kit_prepare(struct call *c)
{
	const char	*why;
	char		 msg[160];
	int64_t		 flag;

	if ((why = kit_stamp(json_get(c->body, "timeStamp"), now_ms(),
	    c->app->cfg->time_window, c->stamp)) != NULL) {
		snprintf(msg, sizeof(msg), "timeStamp: %s", why);
		call_reply(c, RC_PARAM, msg);
		return false;
	}
	if (c->act->max_flag >= 0) {
		if (!get_small_int(json_get(c->body, "flag"), 0, c->act->max_flag, &flag)) {
			snprintf(msg, sizeof(msg), "flag: missing or not an integer 0..%d",
			    c->act->max_flag);
			call_reply(c, RC_PARAM, msg);
			return false;
		}
		c->scope.flag = (int)flag;
	}
	c->scope.tenant_id = c->f.str[0];
	c->scope.instance_id = c->f.str[1];
	c->scope.stamp = c->stamp;
	return true;
}

static const struct v2_params params = {
	.headers = true,
	.names = { "x-sign", "x-timestamp", "x-nonce" },
	.fcgi = { "HTTP_X_SIGN", "HTTP_X_TIMESTAMP", "HTTP_X_NONCE" },
	.kind = VERIFY_V2_KIT,
};

const struct dialect dialect_kit_v2 = {
	.name = "kit-v2",
	.log = "kit",
	.slot = KEY_KIT,
	.post_only = true,
	.authenticate = call_authenticate_v2,
	.v2 = &params,
	.replay = "kit2",
	.replay_param = "x-nonce",
	.test_flag_msg = "testFlag: must be 0 or 1",
	.prepare = kit_prepare,
	.acts = activities,
	.nacts = NELEM(activities),
};

const struct dialect dialect_kit_v1 = {
	.name = "kit-v1",
	.log = "kit v1",
	.slot = KEY_V1,
	.post_only = true,
	.authenticate = kit_v1_authenticate,
	.test_flag_msg = "testFlag: must be 0 or 1",
	.prepare = kit_prepare,
	.acts = activities,
	.nacts = NELEM(activities),
};

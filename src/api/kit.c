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
 * V2
 * Order of checks, each with its result code:
 *	kit_key not configured ........................................ 000001
 *	body over the limit, x-timestamp missing/bad/outside the window,
 *	x-nonce missing ............................................... 000002
 *	x-sign missing or matching neither the canonical payload nor the
 *	raw bytes ..................................................... 000001
 *	body not a JSON object, a field or any list item against its
 *	table, a clientSecret nothing decrypts ........................ 000002
 *	x-nonce seen before (any host; dialect "kit2") ................ 000001
 * then the domain command (src/domain/kit.c), the whole call in one
 * transaction. Lists (userList, orgInfoList) may be arrays or strings
 * holding JSON, bare keys allowed. Answers carry Body-Sign (kit_key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/kit.h"
#include "api/response.h"
#include "api/verify.h"
#include "common/fields.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/rsa.h"
#include "crypto/sign.h"
#include "domain/kit.h"
#include "store/nonce.h"

#define KIT_MAX_DEPTH	32
#define KIT_NONCE_MAX	128
#define KIT_AUDIT_MAX	16384
#define KIT_USERS_MAX	500
#define KIT_ORGS_MAX	20000
#define KIT_SECRET_MAX	4096

struct kit_call {
	struct app		*app;
	const char		*key;	/* signs the answer: kit_key or v1_key */
	struct request		*r;
	const struct json	*body;
	struct dom_call		 dc;
	struct kit_scope	 scope;
	char			 stamp[18];
	struct field_values	 f;
	char			 err[200];
};

typedef void (*kit_handler)(struct kit_call *);

struct kit_activity {
	const char		*name;
	const struct field_rule	*rules;
	size_t			 nrules;
	int			 max_flag;	/* -1: the call has no flag */
	kit_handler		 run;
};

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

static const char *
kit_key(const struct kit_call *c)
{
	return c->key;
}

static void
answer_param(struct kit_call *c, const char *msg)
{
	reply_code(c->r, kit_key(c), RC_PARAM, msg);
}

static void
answer_status(struct kit_call *c, enum dom_status st)
{
	if (c->dc.reason[0] != '\0')
		(void)!str_copy(c->r->audit_reason, sizeof(c->r->audit_reason), c->dc.reason);
	reply_code(c->r, kit_key(c), st == DOM_OK ? RC_SUCCESS :
	    st == DOM_INVALID ? RC_PARAM : RC_INTERNAL,
	    st == DOM_OK ? "success" : c->dc.reason[0] ? c->dc.reason : "failed");
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
get_list(struct kit_call *c, const char *name, const char *alt, size_t max,
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
run_tenant(struct kit_call *c)
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
	answer_status(c, kit_tenant_sync(&c->app->dom, &c->dc, &c->scope, &t));
}

static void
run_app(struct kit_call *c)
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
	answer_status(c, st);
}

/* Reads one user item into u; extension text goes to ext. */
static bool
read_user(struct kit_call *c, size_t idx, const struct json *item, struct kit_user *u,
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

static void
run_auth(struct kit_call *c)
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
	for (i = 0; i < n && ok; i++) {
		ok = read_user(c, i, list->u.arr.items[i], &users[i], &ext[i], emp[i]);
		for (k = 0; ok && k < i; k++)
			if (strcmp(users[k].user_name, users[i].user_name) == 0) {
				snprintf(c->err, sizeof(c->err), "userList[%zu].userName: repeated",
				    i);
				ok = false;
			}
	}
	if (!ok) {
		answer_param(c, c->err);
		goto out;
	}
	answer_status(c, kit_auth_sync(&c->app->dom, &c->dc, &c->scope, c->f.str[2], sync,
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
run_single_org(struct kit_call *c)
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
	answer_status(c, kit_org_sync(&c->app->dom, &c->dc, &c->scope, &g, 1, false));
}

static int
org_order(const void *a, const void *b)
{
	const struct kit_org *const *x = a, *const *y = b;
	int	 d = strcmp((*x)->org_code, (*y)->org_code);

	return d != 0 ? d : (*x < *y ? -1 : *x > *y);
}

/*
 * The index of the first department (in list order) whose code an earlier
 * one has, or n when the codes are distinct. Sorted, not compared pair by
 * pair: a list of 20 000 would take 200 million comparisons.
 */
static size_t
org_repeated(const struct kit_org *orgs, size_t n)
{
	const struct kit_org	**s;
	size_t			  i, first = n;

	if (n < 2)
		return n;
	s = xcalloc(n, sizeof(*s));
	for (i = 0; i < n; i++)
		s[i] = &orgs[i];
	qsort(s, n, sizeof(*s), org_order);
	for (i = 1; i < n; i++)
		if (strcmp(s[i - 1]->org_code, s[i]->org_code) == 0 &&
		    (size_t)(s[i] - orgs) < first)
			first = (size_t)(s[i] - orgs);
	free(s);
	return first;
}

static void
run_all_org(struct kit_call *c)
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
	if ((k = org_repeated(orgs, n)) < n) {
		snprintf(c->err, sizeof(c->err), "orgInfoList[%zu].orgCode: repeated", k);
		goto bad;
	}
	answer_status(c, kit_org_sync(&c->app->dom, &c->dc, &c->scope, orgs, n, true));
	free(orgs);
	json_free(owned);
	return;
bad:
	answer_param(c, c->err);
	free(orgs);
	json_free(owned);
}

#define ACT(name, rules, maxf, fn) { name, rules, NELEM(rules), maxf, fn }

static const struct kit_activity activities[] = {
	ACT("tenantSync", tenant_rules, 2, run_tenant),
	ACT("applicationSync", app_rules, 2, run_app),
	ACT("authSync", auth_rules, 3, run_auth),
	ACT("singleOrgSync", single_org_rules, 2, run_single_org),
	ACT("allOrgSync", all_org_rules, -1, run_all_org),
};

/*
 * True when each present header of the n is text (fields_param_text);
 * otherwise 000002 naming the first that is not has been answered.
 */
static bool
headers_text(struct request *r, const char *key, const char *const *values,
    const char *const *names, size_t n)
{
	char	msg[80];
	size_t	i;

	for (i = 0; i < n; i++) {
		if (values[i] == NULL || fields_param_text(values[i], strlen(values[i])))
			continue;
		snprintf(msg, sizeof(msg), "%s: holds a control character", names[i]);
		reply_code(r, key, RC_PARAM, msg);
		log_notice("kit call %s from %s: %s", r->call_id,
		    r->remote_addr ? r->remote_addr : "?", msg);
		return false;
	}
	return true;
}

/*
 * The time window, nonce and x-sign checks (readings 1 and 2). True when
 * the call is authentic and fresh; otherwise the answer has been sent.
 * *tree gets the parsed body (NULL when it is not JSON, answered here),
 * *used the key that verified the call: kit_key, or the previous one
 * while a rotation's overlap lasts.
 */
static bool
authenticate(struct app *app, struct request *r, struct json **tree, const char **used)
{
	const char	*key = app->cfg->kit_key, *prev;
	const char	*sig = request_param(r, "HTTP_X_SIGN");
	const char	*ts = request_param(r, "HTTP_X_TIMESTAMP");
	const char	*nonce = request_param(r, "HTTP_X_NONCE");
	char		 perr[128], msg[192];
	bool		 match;
	int64_t		 ts_ms, window = app->cfg->time_window * 1000;

	*tree = NULL;
	if (!headers_text(r, key, (const char *const[]){ sig, ts, nonce },
	    (const char *const[]){ "x-sign", "x-timestamp", "x-nonce" }, 3))
		return false;
	if (ts == NULL || *ts == '\0') {
		reply_code(r, key, RC_PARAM, "x-timestamp: missing");
		return false;
	}
	if (!parse_i64(ts, 0, INT64_MAX / 2, &ts_ms)) {
		reply_code(r, key, RC_PARAM, "x-timestamp: not Unix milliseconds");
		return false;
	}
	if (ts_ms < r->wall_ms - window || ts_ms > r->wall_ms + window) {
		snprintf(msg, sizeof(msg), "x-timestamp: %lld ms away from the server clock "
		    "(allowed: %lld)", (long long)(ts_ms - r->wall_ms), (long long)window);
		reply_code(r, key, RC_PARAM, msg);
		return false;
	}
	if (nonce == NULL || *nonce == '\0') {
		reply_code(r, key, RC_PARAM, "x-nonce: missing");
		return false;
	}
	if (strlen(nonce) > KIT_NONCE_MAX) {
		reply_code(r, key, RC_PARAM, "x-nonce: too long");
		return false;
	}
	if (sig == NULL || *sig == '\0') {
		reply_code(r, key, RC_AUTH, "x-sign: missing");
		return false;
	}
	match = verify_v2(VERIFY_V2_KIT, key, r->body.data != NULL ? r->body.data : "",
	    r->body.len, KIT_MAX_DEPTH, nonce, ts, sig, tree, perr, sizeof(perr));
	if (!match && (prev = config_previous_key(app->cfg, key, r->wall_ms)) != NULL &&
	    verify_v2_tree(VERIFY_V2_KIT, prev, *tree, r->body.data != NULL ? r->body.data : "",
	    r->body.len, nonce, ts, sig)) {
		log_info("kit call %s from %s: verified with the previous kit key "
		    "(accepted until %s)", r->call_id, r->remote_addr ? r->remote_addr : "?",
		    app->cfg->previous_kit_until);
		*used = prev;
		match = true;
	}
	if (!match) {
		reply_code(r, key, RC_AUTH, "x-sign: does not match");
		log_notice("kit call %s from %s: x-sign does not match", r->call_id,
		    r->remote_addr ? r->remote_addr : "?");
		return false;
	}
	if (*tree == NULL) {
		snprintf(msg, sizeof(msg), "body: not valid JSON (%s)", perr);
		reply_code(r, key, RC_PARAM, msg);
		return false;
	}
	nonce_prelude(app->db, "kit2", nonce, 2 * app->cfg->time_window, r->call_id);
	return true;
}

void
kit_v1_payload(const struct json *obj, bool skip_blank, struct buf *out)
{
	const char	**keys;
	const struct json **vals;
	size_t		 i, j, n = obj->u.obj.n, k = 0;

	keys = xcalloc(n + 1, sizeof(*keys));
	vals = xcalloc(n + 1, sizeof(*vals));
	for (i = 0; i < n; i++) {
		const char		*key = obj->u.obj.keys[i];
		const struct json	*v = obj->u.obj.vals[i];

		if (v->type == JSON_NULL)
			continue;
		if (skip_blank && v->type == JSON_STRING &&
		    strspn(v->u.str.s, " \t\r\n\f\v") == v->u.str.len)
			continue;
		/* Insertion sort by key, byte order (the keys are few). */
		for (j = k; j > 0 && strcmp(keys[j - 1], key) > 0; j--) {
			keys[j] = keys[j - 1];
			vals[j] = vals[j - 1];
		}
		keys[j] = key;
		vals[j] = v;
		k++;
	}
	for (i = 0; i < k; i++) {
		if (i > 0)
			buf_putc(out, '&');
		buf_puts(out, keys[i]);
		buf_putc(out, '=');
		switch (vals[i]->type) {
		case JSON_STRING:
			buf_append(out, vals[i]->u.str.s, vals[i]->u.str.len);
			break;
		case JSON_NUMBER:
			buf_puts(out, vals[i]->u.num);
			break;
		case JSON_BOOL:
			buf_puts(out, vals[i]->u.b ? "true" : "false");
			break;
		default:
			json_emit(vals[i], out);
			break;
		}
	}
	free(keys);
	free(vals);
}

/*
 * The V1 authToken check (spec/kit-and-v1.md §1.2): the blank-skipping
 * form first (Huawei's sample), then the one keeping blanks. True when
 * the call is authentic; otherwise the answer has been sent.
 */
static bool
authenticate_v1(struct app *app, struct request *r, struct json **tree, const char **used)
{
	const char	*key = app->cfg->v1_key, *prev;
	const char	*token = request_param(r, "HTTP_AUTHTOKEN");
	const char	*ts;
	char		 perr[128], msg[192];
	bool		 match = false;

	*tree = NULL;
	if (!headers_text(r, key, (const char *const[]){ token },
	    (const char *const[]){ "authToken" }, 1))
		return false;
	if (token == NULL || *token == '\0') {
		reply_code(r, key, RC_AUTH, "authToken: missing");
		return false;
	}
	*tree = json_parse(r->body.data != NULL ? r->body.data : "", r->body.len,
	    KIT_MAX_DEPTH, perr, sizeof(perr));
	if (*tree == NULL || (*tree)->type != JSON_OBJECT) {
		snprintf(msg, sizeof(msg), "body: not a JSON object%s%s", *tree ? "" : " (",
		    *tree ? "" : perr);
		if (*tree == NULL)
			strncat(msg, ")", sizeof(msg) - strlen(msg) - 1);
		reply_code(r, key, RC_PARAM, msg);
		return false;
	}
	ts = json_get_str(*tree, "timeStamp");
	if (ts == NULL || *ts == '\0') {
		reply_code(r, key, RC_PARAM, "timeStamp: missing");
		return false;
	}
	if (verify_kit_v1(key, *tree, ts, token)) {
		match = true;
	} else if ((prev = config_previous_key(app->cfg, key, r->wall_ms)) != NULL &&
	    verify_kit_v1(prev, *tree, ts, token)) {
		log_info("kit v1 call %s from %s: verified with the previous v1 key "
		    "(accepted until %s)", r->call_id, r->remote_addr ? r->remote_addr : "?",
		    app->cfg->previous_v1_until);
		*used = prev;
		match = true;
	}
	if (!match) {
		reply_code(r, key, RC_AUTH, "authToken: does not match");
		log_notice("kit v1 call %s from %s: authToken does not match", r->call_id,
		    r->remote_addr ? r->remote_addr : "?");
		return false;
	}
	return true;
}

void
kit_handle(struct app *app, struct request *r, const char *name, bool v1)
{
	const char		*key = v1 ? app->cfg->v1_key : app->cfg->kit_key;
	const struct kit_activity *act = NULL;
	struct json		*tree = NULL;
	struct kit_call		 c;
	int64_t			 flag;
	char			 msg[160];
	const char		*why;
	size_t			 i;

	r->audit.dialect = v1 ? "kit-v1" : "kit-v2";
	for (i = 0; i < NELEM(activities); i++)
		if (strcmp(name, activities[i].name) == 0)
			act = &activities[i];
	if (act == NULL) {
		respond(r, 404, "text/plain", "not found\n", 10, NULL);
		return;
	}
	r->audit.activity = act->name;
	if (key == NULL || *key == '\0') {
		reply_code(r, NULL, RC_AUTH, v1 ? "[keys] v1_key is not configured" :
		    "[keys] kit_key is not configured");
		return;
	}
	if (strcmp(r->method, "POST") != 0) {
		reply_code(r, key, RC_PARAM, "method: Kit calls are POST");
		return;
	}
	if (r->body_too_large) {
		snprintf(msg, sizeof(msg), "body: larger than %lld bytes", (long long)r->max_body);
		reply_code(r, key, RC_PARAM, msg);
		return;
	}
	if (!(v1 ? authenticate_v1(app, r, &tree, &key) : authenticate(app, r, &tree, &key)))
		goto out;
	if (tree->type != JSON_OBJECT) {
		reply_code(r, key, RC_PARAM, "body: not a JSON object");
		goto out;
	}
	redact_json(tree, &r->audit_body, KIT_AUDIT_MAX);
	r->audit.body = buf_cstr(&r->audit_body);

	memset(&c, 0, sizeof(c));
	c.app = app;
	c.key = key;
	c.r = r;
	c.body = tree;
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
	if ((why = kit_stamp(json_get(tree, "timeStamp"), now_ms(), app->cfg->time_window,
	    c.stamp)) != NULL) {
		snprintf(msg, sizeof(msg), "timeStamp: %s", why);
		reply_code(r, key, RC_PARAM, msg);
		goto out;
	}
	if (act->max_flag >= 0) {
		if (!get_small_int(json_get(tree, "flag"), 0, act->max_flag, &flag)) {
			snprintf(msg, sizeof(msg), "flag: missing or not an integer 0..%d",
			    act->max_flag);
			reply_code(r, key, RC_PARAM, msg);
			goto out;
		}
		c.scope.flag = (int)flag;
	}
	c.scope.tenant_id = c.f.str[0];
	c.scope.instance_id = c.f.str[1];
	c.scope.stamp = c.stamp;
	act->run(&c);
	reply_if_replayed(app->db, r, key, "kit", "x-nonce");
out:
	db_prelude_reset(app->db);
	json_free(tree);
}

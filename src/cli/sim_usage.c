/*
 * sim_usage.c: the marketplace's usage-data API as `mkp-sim serve` plays it
 * (see sim_usage.h), so the push of mkpd can be tested end to end: what
 * arrived, whether it was signed right, and whether any (instance, hour)
 * came twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sim_usage.h"
#include "common/json.h"
#include "common/util.h"
#include "crypto/apig.h"
#include "crypto/sign.h"
#include "net/usage_wire.h"

#define SU_MAX_RECORDS	1000
#define SU_MAX_AGE_MS	(21LL * 86400 * 1000)

struct su_record {
	char	*instance_id, *begin_time, *end_time, *usage_value, *metering_sn, *pkg;
	int64_t	 duplicates;
};

/* A package instance and what it holds, in ten-thousandths. */
struct su_package {
	char	*id;
	int64_t	 quota, drawn;
};

struct sim_usage {
	char			*key;
	struct su_record	*recs;
	size_t			 n;
	struct su_package	*pkgs;
	size_t			 npkgs;
	int64_t			 pushes;
	FILE			*report;
};

void
sim_usage_set_report(struct sim_usage *u, FILE *f)
{
	u->report = f;
}

/* One line for a person reading the simulator's output. */
static void
su_report(const struct sim_usage *u, const char *inst, const char *b, const char *e,
    const char *value, bool kept)
{
	if (u->report == NULL)
		return;
	fprintf(u->report, "usage-data: push %lld: instance %s hour %s-%s usage_value %s %s\n",
	    (long long)u->pushes, inst, b, e, value, kept ? "kept" : "duplicate, first kept");
	fflush(u->report);
}

struct sim_usage *
sim_usage_new(const char *key)
{
	struct sim_usage *u = xcalloc(1, sizeof(*u));

	u->key = key != NULL ? xstrdup(key) : NULL;
	return u;
}

void
sim_usage_free(struct sim_usage *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++) {
		free(u->recs[i].instance_id);
		free(u->recs[i].begin_time);
		free(u->recs[i].end_time);
		free(u->recs[i].usage_value);
		free(u->recs[i].metering_sn);
		free(u->recs[i].pkg);
	}
	free(u->recs);
	for (size_t i = 0; i < u->npkgs; i++)
		free(u->pkgs[i].id);
	free(u->pkgs);
	free(u->key);
	free(u);
}

static int
su_error(struct buf *out, const char **code, int status, const char *c, const char *msg)
{
	struct jw	 w;

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kv_str(&w, "error_code", c);
	jw_kv_str(&w, "error_msg", msg);
	jw_obj_end(&w);
	*code = c;
	return status;
}

/* A usage_value: > 0, at most 4 decimals, at most 8 integer digits. */
static bool
su_value_ok(const char *v)
{
	char	 norm[32];

	if (!fmt_decimal(v, norm, sizeof(norm)))
		return false;
	if (strspn(norm, "0.") == strlen(norm))
		return false;		/* zero */
	return strcspn(norm, ".") <= 8;
}

/* Why record r is refused (NULL: fine); *c the code. */
static const char *
su_check(const struct json *r, int64_t now, const char **c)
{
	static const char *const need[] = { "instance_id", "record_time", "begin_time",
	    "end_time", "usage_value", "metering_sn" };
	const struct json *pkg;
	int64_t		 b, e, rt;

	*c = "MKT.0101";
	if (r->type != JSON_OBJECT)
		return "record is not an object";
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		const char *v = json_get_str(r, need[i]);

		if (v == NULL || v[0] == '\0' || strlen(v) > 64)
			return "a mandatory field is missing, not a string or too long";
	}
	pkg = json_get(r, "relate_pkg_instance");
	if (pkg != NULL && (pkg->type != JSON_STRING || pkg->u.str.len > 64))
		return "relate_pkg_instance is not a string of at most 64";
	*c = "MKT.0100";
	if (!apig_parse_date(json_get_str(r, "begin_time"), &b) ||
	    !apig_parse_date(json_get_str(r, "end_time"), &e) ||
	    !apig_parse_date(json_get_str(r, "record_time"), &rt))
		return "time fields must be yyyyMMddTHHmmssZ";
	if (!su_value_ok(json_get_str(r, "usage_value")))
		return "usage_value must be > 0 with at most 4 decimals";
	if (b > e || e > now)
		return "begin_time <= end_time <= now is required";
	if (b < now - SU_MAX_AGE_MS) {
		*c = "MKT.9004";
		return "Record beginTime extends Limit.";
	}
	return NULL;
}

/* A decimal with at most 4 decimals in ten-thousandths, or -1. */
static int64_t
su_amount(const char *v)
{
	int64_t	 n = 0;
	int	 decs = -1;

	if (v == NULL || *v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		if (*v == '.' && decs < 0) {
			decs = 0;
			continue;
		}
		if (*v < '0' || *v > '9' || decs >= 4 || n > INT64_MAX / 100)
			return -1;
		n = n * 10 + (*v - '0');
		if (decs >= 0)
			decs++;
	}
	for (decs = decs < 0 ? 0 : decs; decs < 4; decs++)
		n *= 10;
	return n;
}

static struct su_package *
su_package(const struct sim_usage *u, const char *pkg)
{
	for (size_t i = 0; pkg != NULL && i < u->npkgs; i++)
		if (strcmp(u->pkgs[i].id, pkg) == 0)
			return &u->pkgs[i];
	return NULL;
}

bool
sim_usage_set_package(struct sim_usage *u, const char *pkg, const char *quota)
{
	struct su_package	*p = su_package(u, pkg);
	int64_t			 q = su_amount(quota);

	if (q < 0)
		return false;
	if (p == NULL) {
		u->pkgs = xrealloc(u->pkgs, (u->npkgs + 1) * sizeof(*u->pkgs));
		p = &u->pkgs[u->npkgs++];
		p->id = xstrdup(pkg);
		p->quota = p->drawn = 0;
	}
	p->quota += q;
	return true;
}

static bool
su_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The index of the record kept for (inst, pkg, b, e), or u->n. */
static size_t
su_find(const struct sim_usage *u, const char *inst, const char *pkg, const char *b,
    const char *e)
{
	size_t	k;

	for (k = 0; k < u->n; k++)
		if (strcmp(u->recs[k].instance_id, inst) == 0 && su_same(u->recs[k].pkg, pkg) &&
		    strcmp(u->recs[k].begin_time, b) == 0 && strcmp(u->recs[k].end_time, e) == 0)
			break;
	return k;
}

/*
 * NULL when the new records of recs draw no known package past its quota,
 * else the package overdrawn (the first).
 */
static const char *
su_overdraw(const struct sim_usage *u, const struct json *recs)
{
	int64_t	*add = xcalloc(u->npkgs + 1, sizeof(*add));
	const char *bad = NULL;

	for (size_t i = 0; i < recs->u.arr.n && bad == NULL; i++) {
		const struct json *r = recs->u.arr.items[i];
		const char *pkg = json_get_str(r, "relate_pkg_instance");
		const struct su_package *p = su_package(u, pkg);

		if (p == NULL || su_find(u, json_get_str(r, "instance_id"), pkg,
		    json_get_str(r, "begin_time"), json_get_str(r, "end_time")) < u->n)
			continue;
		add[p - u->pkgs] += su_amount(json_get_str(r, "usage_value"));
		if (p->drawn + add[p - u->pkgs] > p->quota)
			bad = p->id;
	}
	free(add);
	return bad;
}

int
sim_usage_answer(struct sim_usage *u, const char *sig, const char *ts, const char *nonce,
    const char *body, size_t len, int64_t now, struct buf *out, const char **code)
{
	struct json		*tree;
	const struct json	*recs;
	char			 want[SIGN_B64_LEN + 1], perr[128];
	const char		*why, *c;
	int			 status;

	if (u->key == NULL || sig == NULL || ts == NULL || nonce == NULL)
		return su_error(out, code, 400, "MKT.0102", "Invalid body sign");
	usage_wire_sign(u->key, ts, nonce, body, len, want);
	if (!sign_b64_equal(want, sig))
		return su_error(out, code, 400, "MKT.0102", "Invalid body sign");
	tree = json_parse(body, len, 8, perr, sizeof(perr));
	if (tree == NULL)
		return su_error(out, code, 400, "MKT.0101", "Invalid parameter");
	recs = json_get(tree, "usage_records");
	if (recs == NULL || recs->type != JSON_ARRAY || recs->u.arr.n == 0) {
		status = su_error(out, code, 400, "MKT.0101", "Invalid parameter");
		goto out;
	}
	if (recs->u.arr.n > SU_MAX_RECORDS) {
		status = su_error(out, code, 500, "MKT.9003", "Usage records extends size limit.");
		goto out;
	}
	for (size_t i = 0; i < recs->u.arr.n; i++) {
		if ((why = su_check(recs->u.arr.items[i], now, &c)) != NULL) {
			status = su_error(out, code, strcmp(c, "MKT.0101") == 0 ? 400 : 500, c,
			    why);
			goto out;
		}
	}
	if ((why = su_overdraw(u, recs)) != NULL) {
		struct buf msg = BUF_INIT;

		buf_printf(&msg, "records draw more than package %s holds", why);
		status = su_error(out, code, 400, "MKT.0100", buf_cstr(&msg));
		buf_free(&msg);
		goto out;
	}
	/* Accepted: keep the first of each (instance, package, begin, end). */
	u->pushes++;
	for (size_t i = 0; i < recs->u.arr.n; i++) {
		const struct json *r = recs->u.arr.items[i];
		const char *inst = json_get_str(r, "instance_id");
		const char *b = json_get_str(r, "begin_time"), *e = json_get_str(r, "end_time");
		const char *pkg = json_get_str(r, "relate_pkg_instance");
		struct su_package *p = su_package(u, pkg);
		size_t k = su_find(u, inst, pkg, b, e);

		if (k < u->n) {
			u->recs[k].duplicates++;
			su_report(u, inst, b, e, json_get_str(r, "usage_value"), false);
			continue;
		}
		su_report(u, inst, b, e, json_get_str(r, "usage_value"), true);
		if (p != NULL)
			p->drawn += su_amount(json_get_str(r, "usage_value"));
		u->recs = xrealloc(u->recs, (u->n + 1) * sizeof(*u->recs));
		u->recs[u->n] = (struct su_record){
			xstrdup(inst), xstrdup(b), xstrdup(e),
			xstrdup(json_get_str(r, "usage_value")),
			xstrdup(json_get_str(r, "metering_sn")),
			pkg != NULL ? xstrdup(pkg) : NULL, 0 };
		u->n++;
	}
	status = su_error(out, code, 200, "MKT.0000", "success");
out:
	json_free(tree);
	return status;
}

void
sim_usage_json(const struct sim_usage *u, struct buf *out)
{
	struct jw	 w;

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_key(&w, "pushes");
	jw_int(&w, (long long)u->pushes);
	jw_key(&w, "records");
	jw_arr_begin(&w);
	for (size_t i = 0; i < u->n; i++) {
		jw_obj_begin(&w);
		jw_kv_str(&w, "instance_id", u->recs[i].instance_id);
		jw_kv_str(&w, "begin_time", u->recs[i].begin_time);
		jw_kv_str(&w, "end_time", u->recs[i].end_time);
		jw_kv_str(&w, "usage_value", u->recs[i].usage_value);
		jw_kv_str(&w, "metering_sn", u->recs[i].metering_sn);
		jw_kv_str(&w, "relate_pkg_instance", u->recs[i].pkg);
		jw_key(&w, "duplicates");
		jw_int(&w, (long long)u->recs[i].duplicates);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "packages");
	jw_arr_begin(&w);
	for (size_t i = 0; i < u->npkgs; i++) {
		char	 q[32], d[32];

		snprintf(q, sizeof(q), "%lld.%04lld", (long long)(u->pkgs[i].quota / 10000),
		    (long long)(u->pkgs[i].quota % 10000));
		snprintf(d, sizeof(d), "%lld.%04lld", (long long)(u->pkgs[i].drawn / 10000),
		    (long long)(u->pkgs[i].drawn % 10000));
		jw_obj_begin(&w);
		jw_kv_str(&w, "instanceId", u->pkgs[i].id);
		jw_kv_str(&w, "quota", q);
		jw_kv_str(&w, "drawn", d);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
}

/*
 * kit_store.c: prepared statements for the Kit sync objects. Each object
 * is one call of its mkp_kit_* function (schema/007_kit.sql), which locks
 * the row, compares stamps, applies and writes the kit_event, so a synced
 * object costs one statement whatever happens to it.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "store/kit_store.h"
#include "store/pg_array.h"

const struct db_stmt kit_store_stmts[] = {
	{ "kit_tenant",
	  "SELECT mkp_kit_tenant($1, $2, $3, $4, $5, $6, $7::boolean, $8::int, $9, $10)", 10 },
	{ "kit_app",
	  "SELECT mkp_kit_app($1, $2, $3, $4, $5::boolean, $6, $7::boolean, $8::int, $9, $10)",
	  10 },
	{ "kit_users",
	  "SELECT mkp_kit_users($1, $2::text[], $3, $4::boolean, $5::int, $6, $7, $8)", 8 },
	{ "kit_org",
	  "SELECT mkp_kit_org($1, $2, $3, $4, $5, $6::boolean, $7::int, $8, $9)", 9 },
	{ "kit_orgs_set",
	  "SELECT mkp_kit_orgs_set($1, $2::text[], $3::text[], $4::text[], $5, $6::boolean, $7,"
	  " $8)", 8 },
	{ "kit_org_prune",
	  "SELECT mkp_kit_org_prune($1, $2, $3::boolean, $4)", 4 },
	{ "kit_org_paths",
	  "SELECT mkp_kit_org_paths($1)", 1 },
	{ NULL, NULL, 0 },
};

static const char *
tf(bool b)
{
	return b ? "true" : "false";
}

/* Runs a statement answering one text value and maps it to an outcome. */
static bool
run_outcome(struct db *db, const char *name, int n, const char *const *v,
    enum kit_outcome *out)
{
	PGresult	*res;
	const char	*s;

	res = db_exec(db, name, n, v);
	if (res == NULL)
		return false;
	s = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
	if (strcmp(s, "applied") == 0)
		*out = KIT_APPLIED;
	else if (strcmp(s, "stale") == 0)
		*out = KIT_STALE;
	else
		*out = KIT_SAME;
	PQclear(res);
	return true;
}

bool
kit_store_tenant(struct db *db, const char *tenant_id, const char *tenant_code,
    const char *name, const char *domain_name, const char *instance_id,
    const char *order_id, bool is_test, int flag, const char *stamp,
    const char *call_id, enum kit_outcome *out)
{
	char		 fl[12];
	const char	*v[10];

	snprintf(fl, sizeof(fl), "%d", flag);
	v[0] = tenant_id; v[1] = tenant_code; v[2] = name; v[3] = domain_name;
	v[4] = instance_id; v[5] = order_id; v[6] = tf(is_test); v[7] = fl;
	v[8] = stamp; v[9] = call_id;
	return run_outcome(db, "kit_tenant", 10, v, out);
}

bool
kit_store_app(struct db *db, const char *tenant_id, const char *app_id,
    const char *client_id, const char *sealed_secret, bool secret_plain,
    const char *instance_id, bool is_test, int flag, const char *stamp,
    const char *call_id, enum kit_outcome *out)
{
	char		 fl[12];
	const char	*v[10];

	snprintf(fl, sizeof(fl), "%d", flag);
	v[0] = tenant_id; v[1] = app_id; v[2] = client_id; v[3] = sealed_secret;
	v[4] = tf(secret_plain); v[5] = instance_id; v[6] = tf(is_test); v[7] = fl;
	v[8] = stamp; v[9] = call_id;
	return run_outcome(db, "kit_app", 10, v, out);
}

/*
 * Reads the one "{inserted,updated,deleted}" array a set function returns
 * into counts, clears res; true (a result that does not parse leaves the
 * counts 0: they are for the log).
 */
static bool
take_counts(PGresult *res, size_t counts[3])
{
	const char	*s, *end;
	int64_t		 c[3];
	int		 k;

	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		goto out;
	s = PQgetvalue(res, 0, 0);
	if (*s++ != '{')
		goto out;
	for (k = 0; k < 3; k++) {
		end = s + strcspn(s, ",}");
		if (!parse_i64n(s, (size_t)(end - s), 0, INT64_MAX, &c[k]) ||
		    *end != (k < 2 ? ',' : '}'))
			goto out;
		s = end + 1;
	}
	if (*s != '\0')
		goto out;
	for (k = 0; k < 3; k++)
		counts[k] = (size_t)c[k];
out:
	PQclear(res);
	return true;
}

bool
kit_store_users(struct db *db, const char *tenant_id,
    const char *const (*users)[KIT_USER_NVALS], size_t n, const char *instance_id,
    bool is_test, int flag, const char *stamp, const char *sync_time,
    const char *call_id, size_t counts[3])
{
	struct buf	 arr = BUF_INIT;
	char		 fl[12];
	const char	*v[8];
	PGresult	*res;
	size_t		 i, k;

	counts[0] = counts[1] = counts[2] = 0;
	if (n == 0)
		return true;
	pg_array_open(&arr);
	for (i = 0; i < n; i++) {
		pg_array_open(&arr);
		for (k = 0; k < KIT_USER_NVALS; k++)
			pg_array_elem(&arr, users[i][k]);
		pg_array_close(&arr);
	}
	pg_array_close(&arr);
	snprintf(fl, sizeof(fl), "%d", flag);
	v[0] = tenant_id; v[1] = buf_cstr(&arr); v[2] = instance_id; v[3] = tf(is_test);
	v[4] = fl; v[5] = stamp; v[6] = sync_time; v[7] = call_id;
	res = db_exec(db, "kit_users", 8, v);
	buf_free(&arr);
	if (res == NULL)
		return false;
	return take_counts(res, counts);
}

bool
kit_store_org(struct db *db, const char *tenant_id, const char *org_code,
    const char *name, const char *parent_code, const char *instance_id,
    bool is_test, int flag, const char *stamp, const char *call_id,
    enum kit_outcome *out)
{
	char		 fl[12];
	const char	*v[9];

	snprintf(fl, sizeof(fl), "%d", flag);
	v[0] = tenant_id; v[1] = org_code; v[2] = name; v[3] = parent_code;
	v[4] = instance_id; v[5] = tf(is_test); v[6] = fl; v[7] = stamp; v[8] = call_id;
	return run_outcome(db, "kit_org", 9, v, out);
}

bool
kit_store_orgs_set(struct db *db, const char *tenant_id, const char *const *codes,
    const char *const *names, const char *const *parents, size_t n,
    const char *instance_id, bool is_test, const char *stamp, const char *call_id,
    size_t counts[3])
{
	struct buf	 arr[3];
	const char	*v[8];
	PGresult	*res;
	int		 k;

	counts[0] = counts[1] = counts[2] = 0;
	if (n == 0)
		return true;
	for (k = 0; k < 3; k++)
		buf_init(&arr[k]);
	pg_array_text(&arr[0], codes, n);
	pg_array_text(&arr[1], names, n);
	pg_array_text(&arr[2], parents, n);
	v[0] = tenant_id; v[1] = buf_cstr(&arr[0]); v[2] = buf_cstr(&arr[1]);
	v[3] = buf_cstr(&arr[2]); v[4] = instance_id; v[5] = tf(is_test); v[6] = stamp;
	v[7] = call_id;
	res = db_exec(db, "kit_orgs_set", 8, v);
	for (k = 0; k < 3; k++)
		buf_free(&arr[k]);
	if (res == NULL)
		return false;
	return take_counts(res, counts);
}

bool
kit_store_org_prune(struct db *db, const char *tenant_id, const char *stamp,
    bool is_test, const char *call_id, int64_t *pruned)
{
	const char	*v[4] = { tenant_id, stamp, tf(is_test), call_id };
	PGresult	*res;

	res = db_exec(db, "kit_org_prune", 4, v);
	if (res == NULL)
		return false;
	if (PQntuples(res) != 1 || !parse_i64(PQgetvalue(res, 0, 0), 0, INT64_MAX, pruned))
		*pruned = 0;	/* for the log only */
	PQclear(res);
	return true;
}

bool
kit_store_org_paths(struct db *db, const char *tenant_id, char **orphans)
{
	const char	*v[1] = { tenant_id };
	PGresult	*res;

	*orphans = NULL;
	res = db_exec(db, "kit_org_paths", 1, v);
	if (res == NULL)
		return false;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*orphans = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

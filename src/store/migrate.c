/*
 * migrate.c: applies the embedded schema migrations.
 *
 * The version table schema_migrations(version, name, applied_at) is
 * created on first use. Migrations run in version order, each in one
 * transaction together with its row in the version table, under
 * pg_advisory_lock so concurrent runs serialise instead of racing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "store/db.h"
#include "store/migrate.h"

/* Arbitrary constant identifying mkpd's migration lock. */
#define MIGRATE_LOCK_KEY	"7305126011"

static bool
exec_ok(PGconn *c, const char *sql, FILE *out)
{
	PGresult	*res = PQexec(c, sql);
	ExecStatusType	 st = PQresultStatus(res);
	bool		 ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok && out != NULL)
		fprintf(out, "migrate: %s", PQresultErrorMessage(res));
	PQclear(res);
	return ok;
}

int
migrate_latest(void)
{
	return migrations_count > 0 ? migrations[migrations_count - 1].version : 0;
}

bool
migrate_current(PGconn *c, int *version)
{
	PGresult	*res;
	const char	*st;
	int64_t		 v;
	bool		 ok = false;

	*version = 0;
	res = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		if ((ok = parse_i64(PQgetvalue(res, 0, 0), 0, INT32_MAX, &v)))
			*version = (int)v;
	} else if (st != NULL && strcmp(st, "42P01") == 0) {
		ok = true;	/* no version table yet */
	}
	PQclear(res);
	return ok;
}

static bool
apply_one(PGconn *c, const struct migration *m, FILE *out)
{
	char		 ver[16];
	const char	*params[2];
	PGresult	*res;

	if (!exec_ok(c, "BEGIN", out))
		return false;
	if (!exec_ok(c, m->sql, out)) {
		fprintf(out, "migrate: %s failed, rolled back\n", m->name);
		exec_ok(c, "ROLLBACK", NULL);
		return false;
	}
	snprintf(ver, sizeof(ver), "%d", m->version);
	params[0] = ver;
	params[1] = m->name;
	res = PQexecParams(c, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
	    2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(out, "migrate: recording %s: %s", m->name, PQresultErrorMessage(res));
		PQclear(res);
		exec_ok(c, "ROLLBACK", NULL);
		return false;
	}
	PQclear(res);
	if (!exec_ok(c, "COMMIT", out))
		return false;
	fprintf(out, "migrate: applied %s\n", m->name);
	return true;
}

/* Whether version v is recorded in schema_migrations: DB_FOUND yes. */
static enum db_found
is_applied(PGconn *c, int v)
{
	char		 ver[16];
	const char	*params[1] = { ver };
	PGresult	*res;
	enum db_found	 r = DB_FAILED;

	snprintf(ver, sizeof(ver), "%d", v);
	res = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE version = $1",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		r = PQntuples(res) == 1 ? DB_FOUND : DB_NONE;
	PQclear(res);
	return r;
}

bool
migrate_apply(PGconn *c, FILE *out)
{
	size_t	 i;
	int	 cur, last = 0, applied = 0;
	bool	 ok = true;

	for (i = 0; i < migrations_count; i++) {
		if (migrations[i].version <= last) {
			fprintf(out, "migrate: %s: versions must increase\n", migrations[i].name);
			return false;
		}
		last = migrations[i].version;
	}
	if (!exec_ok(c, "SET client_min_messages = warning", out) ||
	    !exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
		"version integer PRIMARY KEY, name text NOT NULL, "
		"applied_at timestamptz NOT NULL DEFAULT now())", out) ||
	    !exec_ok(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", out))
		return false;
	if (!migrate_current(c, &cur))
		ok = false;
	/*
	 * Every migration not recorded yet is applied, in order, even one
	 * numbered below the newest applied (two lines of work that each
	 * added one): the version table, not the highest number, is the truth.
	 */
	for (i = 0; i < migrations_count && ok; i++) {
		enum db_found r = is_applied(c, migrations[i].version);

		if (r == DB_FAILED) {
			ok = false;
		} else if (r == DB_NONE) {
			if (migrations[i].version < cur)
				fprintf(out, "migrate: %s is older than the newest applied "
				    "(%d); applying it now\n", migrations[i].name, cur);
			ok = apply_one(c, &migrations[i], out);
			applied++;
		}
	}
	if (ok)
		fprintf(out, "migrate: schema at version %d (%s)\n", migrate_latest(),
		    applied == 0 ? "already current" : "updated");
	exec_ok(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", NULL);
	return ok;
}

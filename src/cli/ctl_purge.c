/*
 * ctl_purge.c: mkpctl purge, retention by hand.
 *
 *	purge [--test-data] [--audit-older-than DAYS] [--usage-older-than DAYS]
 *	    [--jobs-older-than DAYS] [--nonces] [--dry-run]
 *
 * --test-data: everything debug calls (testFlag 1) made: debug instances
 * with their events, usage and aliases, debug licences, the debug Kit
 * objects and their events, and the debug calls' audit rows.
 * --audit-older-than DAYS: callback_log rows received more than DAYS ago
 * (the months wholly older are dropped, the rest deleted).
 * --usage-older-than DAYS: the months of usage_record and usage_event that
 * ended more than DAYS (at least 22) ago, detached and dropped whole
 * (mkp_usage_drop_before, schema 017); a month with a record not final yet
 * is kept and printed as such.
 * --jobs-older-than DAYS: jobs done more than DAYS ago (the purge job alone
 * leaves one a minute); dead jobs stay until retried or looked at.
 * --nonces: nonces past their replay window (twice [mkpd] time_window, as
 * the jobs child's purge does: store/nonce.c), for when jobs are disabled.
 *
 * Everything runs in one transaction; it prints the rows deleted per
 * table, and --dry-run prints the same counts and rolls back. Real
 * instances are never touched.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli/ctl.h"
#include "cli/ctl_purge.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"

struct step {
	const char	*what;		/* the table, as printed */
	const char	*sql;		/* $1: the step's parameter, if any */
};

/* Children first: the foreign keys do not cascade from instance to usage. */
static const struct step test_steps[] = {
	{ "usage_event", "DELETE FROM usage_event WHERE instance_id IN"
	  " (SELECT instance_id FROM instance WHERE is_test)" },
	{ "usage_record", "DELETE FROM usage_record WHERE instance_id IN"
	  " (SELECT instance_id FROM instance WHERE is_test)" },
	{ "usage_carry", "DELETE FROM usage_carry WHERE instance_id IN"
	  " (SELECT instance_id FROM instance WHERE is_test)" },
	{ "usage_total", "DELETE FROM usage_total WHERE instance_id IN"
	  " (SELECT instance_id FROM instance WHERE is_test)" },
	{ "instance (aliases)", "UPDATE instance SET alias_of = NULL WHERE alias_of IN"
	  " (SELECT instance_id FROM instance WHERE is_test)" },
	{ "instance", "DELETE FROM instance WHERE is_test" },
	{ "license", "DELETE FROM license WHERE is_test" },
	{ "kit_event", "DELETE FROM kit_event WHERE is_test" },
	{ "app_user", "DELETE FROM app_user WHERE is_test" },
	{ "org", "DELETE FROM org WHERE is_test" },
	{ "app", "DELETE FROM app WHERE is_test" },
	{ "tenant", "DELETE FROM tenant WHERE is_test" },
	{ "callback_log", "DELETE FROM callback_log WHERE is_test" },
};
static const struct step audit_step = {
	/* Whole months dropped, the rest deleted (schema 018). */
	"callback_log", "SELECT mkp_callback_log_purge(now() - make_interval(days => $1::int))"
};
static const struct step job_step = {
	"job", "DELETE FROM job WHERE state = 'done'"
	" AND done_at < now() - make_interval(days => $1::int)"
};
static const struct step nonce_step = {
	"nonce", "DELETE FROM nonce WHERE seen_at < now() - make_interval(secs => $1::int)"
};

static int
usage(void)
{
	fprintf(stderr, "usage: mkpctl purge [--test-data] [--audit-older-than DAYS] "
	    "[--usage-older-than DAYS] [--jobs-older-than DAYS] [--nonces] [--dry-run] "
	    "[--json]\n");
	return 2;
}

static bool
purge_exec(struct ctl *c, const char *sql)
{
	PGresult	*res = ctl_query(c, sql, 0, NULL);

	PQclear(res);
	return res != NULL;
}

/* Runs one step; appends its count to the table and the JSON. */
static bool
step(struct ctl *c, const struct step *s, const char *param, struct jw *w, struct buf *tbl)
{
	const char	*p[1] = { param };
	const char	*rows;
	PGresult	*res;

	if ((res = ctl_query(c, s->sql, param != NULL, p)) == NULL)
		return false;
	/* A DELETE's count, or a function's answer. */
	rows = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ?
	    PQgetvalue(res, 0, 0) : PQcmdTuples(res);
	if (rows[0] == '\0')
		rows = "0";
	jw_obj_begin(w);
	jw_kv_str(w, "table", s->what);
	jw_key(w, "rows");
	jw_raw(w, rows);
	jw_obj_end(w);
	buf_printf(tbl, "%-20s %s\n", s->what, rows);
	PQclear(res);
	return true;
}

/*
 * Drops the months of metered usage older than days: one line per
 * partition, its rows, and whether it went (a month with records still to
 * push stays).
 */
static bool
usage_step(struct ctl *c, const char *days, struct jw *w, struct buf *tbl)
{
	const char	*p[1] = { days };
	PGresult	*res;
	int		 i;

	if ((res = ctl_query(c, "SELECT partition_name, rows, dropped FROM"
	    " mkp_usage_drop_before(now() - make_interval(days => $1::int))"
	    " ORDER BY partition_name", 1, p)) == NULL)
		return false;
	for (i = 0; i < PQntuples(res); i++) {
		bool	 dropped = strcmp(PQgetvalue(res, i, 2), "t") == 0;

		jw_obj_begin(w);
		jw_kv_str(w, "table", PQgetvalue(res, i, 0));
		jw_key(w, "rows");
		jw_raw(w, PQgetvalue(res, i, 1));
		jw_kv_str(w, "partition", dropped ? "dropped" : "kept: records not pushed yet");
		jw_obj_end(w);
		buf_printf(tbl, "%-20s %s (%s)\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    dropped ? "partition dropped" : "kept: records not pushed yet");
	}
	PQclear(res);
	return true;
}

int
ctl_purge(struct ctl *c, int argc, char **argv)
{
	struct buf	 out = BUF_INIT, tbl = BUF_INIT;
	struct jw	 w;
	const char	*days = NULL, *usage_days = NULL, *job_days = NULL;
	char		 keep[32];
	bool		 test = false, nonces = false, dry = false, ok = false;
	int64_t		 n, window = 60;
	size_t		 k;
	int		 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--test-data") == 0)
			test = true;
		else if (strcmp(argv[i], "--nonces") == 0)
			nonces = true;
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry = true;
		else if (strcmp(argv[i], "--audit-older-than") == 0 && i + 1 < argc &&
		    parse_i64(argv[i + 1], 1, 100000, &n))
			days = argv[++i];
		else if (strcmp(argv[i], "--usage-older-than") == 0 && i + 1 < argc &&
		    parse_i64(argv[i + 1], 22, 100000, &n))
			usage_days = argv[++i];
		else if (strcmp(argv[i], "--jobs-older-than") == 0 && i + 1 < argc &&
		    parse_i64(argv[i + 1], 1, 100000, &n))
			job_days = argv[++i];
		else
			return usage();
	}
	if (!test && !nonces && days == NULL && usage_days == NULL && job_days == NULL) {
		fprintf(stderr, "mkpctl purge: say what: --test-data, --audit-older-than DAYS, "
		    "--usage-older-than DAYS, --jobs-older-than DAYS, --nonces\n");
		return usage();
	}
	if (nonces && c->cfg != NULL)
		window = c->cfg->time_window;
	snprintf(keep, sizeof(keep), "%lld", (long long)(2 * window));

	jw_init(&w, &out);
	jw_obj_begin(&w);
	jw_key(&w, "dry_run");
	jw_raw(&w, dry ? "true" : "false");
	jw_key(&w, "deleted");
	jw_arr_begin(&w);
	if (!purge_exec(c, "BEGIN"))
		goto out;
	for (k = 0; test && k < NELEM(test_steps); k++)
		if (!step(c, &test_steps[k], NULL, &w, &tbl))
			goto out;
	if (days != NULL && !step(c, &audit_step, days, &w, &tbl))
		goto out;
	if (nonces && !step(c, &nonce_step, keep, &w, &tbl))
		goto out;
	if (usage_days != NULL && !usage_step(c, usage_days, &w, &tbl))
		goto out;
	if (job_days != NULL && !step(c, &job_step, job_days, &w, &tbl))
		goto out;
	if (dry ? !purge_exec(c, "ROLLBACK") : !purge_exec(c, "COMMIT"))
		goto out;
	jw_arr_end(&w);
	jw_obj_end(&w);
	if (c->json)
		printf("%s\n", buf_cstr(&out));
	else
		printf("%-20s %s\n%s%s", "TABLE", "ROWS", buf_cstr(&tbl),
		    dry ? "dry run: nothing deleted\n" : "");
	ok = true;
out:
	if (!ok)
		PQclear(PQexec(c->conn, "ROLLBACK"));
	buf_free(&out);
	buf_free(&tbl);
	return ok ? 0 : 1;
}

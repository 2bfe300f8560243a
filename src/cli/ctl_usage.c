/*
 * ctl_usage.c: `mkpctl usage` (see ctl_usage.h).
 *
 *   usage [INSTANCE] [--json] [--limit N]   usage per instance and UTC hour
 *   usage pending [--json]                  closed records not delivered yet
 *   usage failed [--json]                   records the marketplace refused
 *   usage history [--json] [--limit N]      push attempts, newest first
 *   usage status [--json]                   counts and the last push
 *   usage push --now                        close ended hours, push them all
 *   usage retry ID | --all                  failed records back to pending
 *
 * The lists read the DBA's views (schema 009 and 010) through
 * store/usage_store.c; "push --now" runs the jobs child's own push
 * (usage_push_batch) batch after batch, whatever the minute, so what it
 * sends is claimed and settled exactly as a scheduled push would be.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/ctl_usage.h"
#include "common/buf.h"
#include "common/conf.h"
#include "common/json.h"
#include "common/util.h"
#include "jobs/usage_push.h"
#include "store/db.h"
#include "store/usage_store.h"

#define CU_LIMIT	1000

enum cu_type { CU_STR, CU_INT, CU_NUM, CU_BOOL };

struct cu_col {
	const char	*key;		/* JSON member */
	const char	*head;		/* table header */
	enum cu_type	 type;
};

static void
cu_usage(void)
{
	fprintf(stderr, "usage: mkpctl usage [INSTANCE] [--json] [--limit N]\n"
	    "       mkpctl usage pending|failed|status [--json]\n"
	    "       mkpctl usage history [--json] [--limit N]\n"
	    "       mkpctl usage push --now\n"
	    "       mkpctl usage retry ID|--all\n");
}

/* Rows of res as one JSON array of objects, or as an aligned table. */
static void
cu_print(const PGresult *res, const struct cu_col *cols, int ncols, bool json)
{
	int	 rows = PQntuples(res), r, f, w[16];

	if (json) {
		struct buf	 b = BUF_INIT;
		struct jw	 jw;

		jw_init(&jw, &b);
		jw_arr_begin(&jw);
		for (r = 0; r < rows; r++) {
			jw_obj_begin(&jw);
			for (f = 0; f < ncols; f++) {
				const char *v = PQgetvalue(res, r, f);

				jw_key(&jw, cols[f].key);
				if (cols[f].type == CU_BOOL)
					jw_raw(&jw, v[0] == 't' ? "true" : "false");
				else if (cols[f].type != CU_STR && v[0] != '\0')
					jw_raw(&jw, v);	/* a number from the database */
				else if (cols[f].type != CU_STR)
					jw_null(&jw);
				else
					jw_str(&jw, v);
			}
			jw_obj_end(&jw);
		}
		jw_arr_end(&jw);
		printf("%s\n", buf_cstr(&b));
		buf_free(&b);
		return;
	}
	for (f = 0; f < ncols && f < 16; f++) {
		w[f] = (int)strlen(cols[f].head);
		for (r = 0; r < rows; r++)
			if ((int)strlen(PQgetvalue(res, r, f)) > w[f])
				w[f] = (int)strlen(PQgetvalue(res, r, f));
	}
	for (f = 0; f < ncols && f < 16; f++)
		printf("%s%-*s", f ? "  " : "", f == ncols - 1 ? 0 : w[f], cols[f].head);
	printf("\n");
	for (r = 0; r < rows; r++) {
		for (f = 0; f < ncols && f < 16; f++) {
			const char *v = PQgetvalue(res, r, f);

			if (cols[f].type == CU_BOOL)
				v = v[0] == 't' ? "yes" : "";
			/* Numbers right-aligned, the rest left; the last unpadded. */
			printf("%s%*s", f ? "  " : "",
			    f == ncols - 1 ? 0 : cols[f].type == CU_STR ? -w[f] : w[f], v);
		}
		printf("\n");
	}
}

/* Parses [--json] [--limit N] from argv[from..]; false on anything else. */
static bool
cu_opts(int argc, char **argv, int from, bool *json, int64_t *limit, const char **arg)
{
	for (int i = from; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			*json = true;
		} else if (strcmp(argv[i], "--limit") == 0 && limit != NULL && i + 1 < argc) {
			if (!parse_i64(argv[++i], 1, 1000000, limit))
				return false;
		} else if (argv[i][0] != '-' && arg != NULL && *arg == NULL) {
			*arg = argv[i];
		} else {
			return false;
		}
	}
	return true;
}

static int
cu_failed_query(struct ctl *c, const char *what)
{
	fprintf(stderr, "mkpctl: usage %s: %s", what, PQerrorMessage(c->conn));
	return 1;
}

/* Prints the rows of a list (res NULL: its query failed) and clears them. */
static int
cu_list(struct ctl *c, PGresult *res, const char *what, const struct cu_col *cols,
    int ncols, bool json)
{
	if (res == NULL)
		return cu_failed_query(c, what);
	cu_print(res, cols, ncols, json);
	PQclear(res);
	return 0;
}

static int
cu_hourly(struct ctl *c, int argc, char **argv)
{
	static const struct cu_col cols[] = {
		{ "instanceId", "INSTANCE", CU_STR },
		{ "packageInstanceId", "PACKAGE", CU_STR },
		{ "hour", "HOUR (UTC)", CU_STR },
		{ "value", "VALUE", CU_NUM },
		{ "events", "EVENTS", CU_INT },
		{ "shiftedEvents", "LATE", CU_INT },
		{ "state", "RECORD", CU_STR },
		{ "meteringSn", "METERING_SN", CU_STR },
	};
	const char	*instance = NULL;
	int64_t		 limit = CU_LIMIT;
	bool		 json = c->json;

	if (!cu_opts(argc, argv, 1, &json, &limit, &instance)) {
		cu_usage();
		return 2;
	}
	return cu_list(c, usage_store_admin_hourly(c->conn, instance, (int)limit), "report", cols,
	    (int)NELEM(cols), json);
}

static int
cu_records(struct ctl *c, int argc, char **argv)
{
	static const struct cu_col cols[] = {
		{ "id", "ID", CU_INT },
		{ "instanceId", "INSTANCE", CU_STR },
		{ "packageInstanceId", "PACKAGE", CU_STR },
		{ "hour", "HOUR (UTC)", CU_STR },
		{ "value", "VALUE", CU_NUM },
		{ "state", "STATE", CU_STR },
		{ "attempts", "ATTEMPTS", CU_INT },
		{ "atRisk", "AT_RISK", CU_BOOL },
		{ "reason", "REASON", CU_STR },
	};
	bool		 json = c->json;

	if (!cu_opts(argc, argv, 1, &json, NULL, NULL)) {
		cu_usage();
		return 2;
	}
	return cu_list(c, usage_store_admin_records(c->conn, argv[0], CU_LIMIT), argv[0], cols,
	    (int)NELEM(cols), json);
}

static int
cu_history(struct ctl *c, int argc, char **argv)
{
	static const struct cu_col cols[] = {
		{ "id", "PUSH", CU_INT },
		{ "sentAt", "SENT (UTC)", CU_STR },
		{ "finishedAt", "ANSWERED (UTC)", CU_STR },
		{ "pushedBy", "BY", CU_STR },
		{ "records", "RECORDS", CU_INT },
		{ "outcome", "OUTCOME", CU_STR },
		{ "httpStatus", "HTTP", CU_INT },
		{ "resultCode", "CODE", CU_STR },
		{ "error", "ERROR", CU_STR },
		{ "value", "VALUE", CU_NUM },
	};
	int64_t		 limit = CU_LIMIT;
	bool		 json = c->json;

	if (!cu_opts(argc, argv, 1, &json, &limit, NULL)) {
		cu_usage();
		return 2;
	}
	return cu_list(c, usage_store_admin_history(c->conn, (int)limit), "history", cols,
	    (int)NELEM(cols), json);
}

static int
cu_status(struct ctl *c, int argc, char **argv)
{
	struct usage_status	 st;
	bool			 json = c->json;

	if (!cu_opts(argc, argv, 1, &json, NULL, NULL)) {
		cu_usage();
		return 2;
	}
	if (!usage_store_status_pq(c->conn, &st))
		return cu_failed_query(c, "status");
	if (json) {
		struct buf	 b = BUF_INIT;
		struct jw	 w;

		jw_init(&w, &b);
		jw_obj_begin(&w);
		jw_key(&w, "pending");
		jw_int(&w, (long long)st.us_pending);
		jw_key(&w, "sending");
		jw_int(&w, (long long)st.us_sending);
		jw_key(&w, "atRisk");
		jw_int(&w, (long long)st.us_at_risk);
		jw_key(&w, "failed");
		jw_int(&w, (long long)st.us_failed);
		jw_key(&w, "lastPush");
		if (st.us_last_push[0] != '\0')
			jw_str(&w, st.us_last_push);
		else
			jw_null(&w);
		jw_key(&w, "lastOutcome");
		if (st.us_last_outcome[0] != '\0')
			jw_str(&w, st.us_last_outcome);
		else
			jw_null(&w);
		jw_key(&w, "lastAttempt");
		if (st.us_last_attempt[0] != '\0')
			jw_str(&w, st.us_last_attempt);
		else
			jw_null(&w);
		jw_obj_end(&w);
		printf("%s\n", buf_cstr(&b));
		buf_free(&b);
		return 0;
	}
	printf("pending:       %lld (%lld being sent)\n", (long long)st.us_pending,
	    (long long)st.us_sending);
	printf("at risk:       %lld (failed, or not delivered an hour after its hour)\n",
	    (long long)st.us_at_risk);
	printf("failed:        %lld\n", (long long)st.us_failed);
	/*
	 * The last attempt and the last delivery are two pushes when the
	 * latest failed: each line names its own, with its time.
	 */
	printf("last attempt:  %s%s%s\n", st.us_last_attempt[0] ? st.us_last_attempt : "never",
	    st.us_last_outcome[0] ? ", " : "", st.us_last_outcome);
	printf("last delivery: %s\n", st.us_last_push[0] ? st.us_last_push : "never");
	return 0;
}

static int
cu_push(struct ctl *c, int argc, char **argv)
{
	static const struct db_stmt *const sets[] = { usage_store_stmts, NULL };
	struct usage_batch	 b;
	struct db_params	 p;
	struct db		*db;
	char			 host[128], by[200];
	int64_t			 closed;
	int			 batches = 0, records = 0, rc = 0;

	(void)argv;
	if (argc != 2 || strcmp(argv[1], "--now") != 0) {
		cu_usage();
		return 2;
	}
	if (!ctl_config(c))
		return 1;
	if (c->cfg->mkt_ak == NULL || c->cfg->mkt_ak[0] == '\0') {
		fprintf(stderr, "mkpctl: usage push: no [marketplace] ak: nothing can be "
		    "pushed\n");
		return 1;
	}
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(by, sizeof(by), "%s:%d mkpctl", host, (int)getpid());
	db_params_from_config(c->cfg, &p);
	db = db_new(c->dsn, &p, "mkpctl", sets);
	if (!usage_store_close(db, &closed)) {
		fprintf(stderr, "mkpctl: usage push: closing windows: %s\n", db_errmsg(db));
		db_free(db);
		return 1;
	}
	printf("closed %lld window(s)\n", (long long)closed);
	for (;;) {
		enum usage_batch_result r = usage_push_batch(db, c->cfg, by, &b);

		if (r == UB_NONE)
			break;
		if (r != UB_DELIVERED) {
			fprintf(stderr, "mkpctl: usage push: %s\n", b.ub_detail);
			rc = 1;
			break;
		}
		printf("%s\n", b.ub_detail);
		batches++;
		records += b.ub_settled;
	}
	printf("%d record(s) delivered in %d push(es)\n", records, batches);
	db_free(db);
	return rc;
}

static int
cu_retry(struct ctl *c, int argc, char **argv)
{
	int64_t	 id = 0, n;

	if (argc != 2 || (strcmp(argv[1], "--all") != 0 &&
	    !parse_i64(argv[1], 1, INT64_MAX, &id))) {
		cu_usage();
		return 2;
	}
	if (!usage_store_admin_retry(c->conn, id, &n))
		return cu_failed_query(c, "retry");
	if (n == 0 && id > 0) {
		fprintf(stderr, "mkpctl: usage retry: record %lld is not failed (or is past "
		    "21 days: expired)\n", (long long)id);
		return 1;
	}
	printf("%lld record(s) pending again; the next push sends them\n", (long long)n);
	return 0;
}

int
ctl_usage(struct ctl *c, int argc, char **argv)
{
	static const struct {
		const char	*name;
		int		(*run)(struct ctl *, int, char **);
	} subs[] = {
		{ "pending", cu_records },
		{ "failed", cu_records },
		{ "history", cu_history },
		{ "status", cu_status },
		{ "push", cu_push },
		{ "retry", cu_retry },
	};

	if (argc >= 2)
		for (size_t i = 0; i < NELEM(subs); i++)
			if (strcmp(argv[1], subs[i].name) == 0)
				return subs[i].run(c, argc - 1, argv + 1);
	return cu_hourly(c, argc, argv);
}

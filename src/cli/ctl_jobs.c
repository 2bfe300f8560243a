/*
 * ctl_jobs.c: mkpctl jobs, the job queue (src/jobs/runner.h).
 *
 *	jobs [--state S] [--limit N]     the newest jobs first (1000)
 *	jobs retry ID                    queue a dead job again
 *
 * Its JSON keeps the job's own shape (max_attempts null when the kind's
 * default applies, last_error null when there was none).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli/ctl.h"
#include "cli/ctl_jobs.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "store/job_store.h"

#define JOBS_LIST_LIMIT	1000

static const char *const job_states[] = { "queued", "running", "done", "dead" };

/*
 * Rows of job_store_admin_list as a table for people, or as one JSON array. The
 * table's ATTEMPTS is "tries so far of the most allowed": the job's own
 * limit, else the config's [jobs] max_attempts (max_default; -1 when no
 * config was read, then only the tries).
 */
static void
jobs_print(PGresult *res, bool json, int64_t max_default)
{
	static const char *const keys[] = { "id", "kind", "state", "attempts",
	    "max_attempts", "run_at", "last_error", "locked_by" };
	struct buf	 b = BUF_INIT;
	struct jw	 w;
	int		 i, f, n = PQntuples(res);

	if (json) {
		jw_init(&w, &b);
		jw_arr_begin(&w);
		for (i = 0; i < n; i++) {
			jw_obj_begin(&w);
			for (f = 0; f < (int)NELEM(keys); f++) {
				const char	*v = PQgetvalue(res, i, f);

				jw_key(&w, keys[f]);
				if (f == 0 || f == 3 || (f == 4 && v[0] != '\0'))
					jw_raw(&w, v);		/* integers from the database */
				else if (v[0] == '\0' && f >= 4)
					jw_null(&w);
				else
					jw_str(&w, v);
			}
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		printf("%s\n", buf_cstr(&b));
		buf_free(&b);
		return;
	}
	printf("%-8s %-12s %-8s %-10s %-20s %s\n", "ID", "KIND", "STATE", "ATTEMPTS",
	    "RUN_AT", "LAST_ERROR");
	for (i = 0; i < n; i++) {
		char	att[48];

		if (PQgetvalue(res, i, 4)[0] != '\0')
			snprintf(att, sizeof(att), "%s of %s", PQgetvalue(res, i, 3),
			    PQgetvalue(res, i, 4));
		else if (max_default > 0)
			snprintf(att, sizeof(att), "%s of %lld", PQgetvalue(res, i, 3),
			    (long long)max_default);
		else
			snprintf(att, sizeof(att), "%s", PQgetvalue(res, i, 3));
		printf("%-8s %-12s %-8s %-10s %-20s %s\n", PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), att,
		    PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
	}
}

static int
jobs_retry(struct ctl *c, const char *arg)
{
	char	state[16], err[512];
	int64_t	id;

	if (!parse_i64(arg, 1, INT64_MAX, &id)) {
		fprintf(stderr, "mkpctl: jobs retry: '%s' is not a job id\n", arg);
		return 2;
	}
	switch (job_store_admin_requeue(c->conn, id, state, sizeof(state), err, sizeof(err))) {
	case JOB_STORE_REQUEUED:
		printf("job %lld queued again\n", (long long)id);
		return 0;
	case JOB_STORE_NOT_FOUND:
		fprintf(stderr, "mkpctl: no job %lld\n", (long long)id);
		return 1;
	case JOB_STORE_NOT_DEAD:
		fprintf(stderr, "mkpctl: job %lld is %s, not dead: only a dead job can be "
		    "retried\n", (long long)id, state);
		return 1;
	case JOB_STORE_DUPLICATE:
		fprintf(stderr, "mkpctl: job %lld not queued: an unfinished job of the "
		    "same kind and dedupe key is already queued or running\n", (long long)id);
		return 1;
	case JOB_STORE_REQUEUE_FAILED:
		break;
	}
	fprintf(stderr, "mkpctl: jobs retry: %s", err);
	return 1;
}

/* mkpctl jobs [--state S] [--limit N] [--json] | mkpctl jobs retry ID */
int
ctl_jobs(struct ctl *c, int argc, char **argv)
{
	const char	*state = NULL;
	PGresult	*res;
	int64_t		 limit = JOBS_LIST_LIMIT;
	size_t		 k;
	int		 i;

	if (argc >= 2 && strcmp(argv[1], "retry") == 0) {
		if (argc != 3) {
			fprintf(stderr, "usage: mkpctl jobs retry ID\n");
			return 2;
		}
		return jobs_retry(c, argv[2]);
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			state = argv[++i];
			for (k = 0; k < NELEM(job_states) && strcmp(state, job_states[k]) != 0; k++)
				;
			if (k == NELEM(job_states)) {
				fprintf(stderr, "mkpctl: jobs: unknown state '%s' (queued, "
				    "running, done, dead)\n", state);
				return 2;
			}
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc &&
		    parse_i64(argv[i + 1], 1, 1000000, &limit)) {
			i++;
		} else {
			fprintf(stderr, "usage: mkpctl jobs [--state S] [--limit N] [--json] | "
			    "mkpctl jobs retry ID\n");
			return 2;
		}
	}
	if ((res = job_store_admin_list(c->conn, state, (int)limit)) == NULL) {
		fprintf(stderr, "mkpctl: jobs: %s", PQerrorMessage(c->conn));
		return 1;
	}
	jobs_print(res, c->json, c->cfg != NULL ? c->cfg->jobs_max_attempts : -1);
	PQclear(res);
	return 0;
}


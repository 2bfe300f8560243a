/*
 * mkpctl: the administrator's command line.
 *
 * One dispatch table of verbs; each verb gets the loaded configuration
 * (or just a DSN) and its own arguments, prints for people by default and
 * returns the process exit status: 0 done, 1 failed, 2 usage.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ctl.h"
#include "cli/ctl_status.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/rsa.h"
#include "store/job_store.h"
#include "store/migrate.h"

#define JOBS_LIST_LIMIT	1000

#ifndef SYSCONFDIR
#define SYSCONFDIR "/usr/local/etc"
#endif

static int
verb_migrate(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return migrate_apply(c->conn, stdout) ? 0 : 1;
}

static int
verb_version(struct ctl *c, int argc, char **argv)
{
	int	cur = migrate_current(c->conn);

	(void)argc;
	(void)argv;
	printf("mkpctl %s\nschema: database at %d, this binary knows %d\n",
	    PACKAGE_VERSION, cur, migrate_latest());
	if (cur < migrate_latest()) {
		printf("run 'mkpctl migrate' to update the database\n");
		return 1;
	}
	return 0;
}

static const char *const job_states[] = { "queued", "running", "done", "dead" };

/* Rows of job_admin_list as a table for people, or as one JSON array. */
static void
jobs_print(PGresult *res, bool json)
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
	printf("%-8s %-12s %-8s %-8s %-20s %s\n", "ID", "KIND", "STATE", "ATTEMPTS",
	    "RUN_AT", "LAST_ERROR");
	for (i = 0; i < n; i++) {
		char	att[32];

		snprintf(att, sizeof(att), "%s/%s", PQgetvalue(res, i, 3),
		    PQgetvalue(res, i, 4)[0] ? PQgetvalue(res, i, 4) : "-");
		printf("%-8s %-12s %-8s %-8s %-20s %s\n", PQgetvalue(res, i, 0),
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
	switch (job_admin_requeue(c->conn, id, state, sizeof(state), err, sizeof(err))) {
	case JOB_REQUEUED:
		printf("job %lld queued again\n", (long long)id);
		return 0;
	case JOB_NOT_FOUND:
		fprintf(stderr, "mkpctl: no job %lld\n", (long long)id);
		return 1;
	case JOB_NOT_DEAD:
		fprintf(stderr, "mkpctl: job %lld is %s, not dead: only a dead job can be "
		    "retried\n", (long long)id, state);
		return 1;
	case JOB_DUPLICATE:
		fprintf(stderr, "mkpctl: job %lld not queued: an unfinished job of the "
		    "same kind and dedupe key is already queued or running\n", (long long)id);
		return 1;
	case JOB_REQUEUE_FAILED:
		break;
	}
	fprintf(stderr, "mkpctl: jobs retry: %s", err);
	return 1;
}

/* mkpctl jobs [--state S] [--json] | mkpctl jobs retry ID */
static int
verb_jobs(struct ctl *c, int argc, char **argv)
{
	const char	*state = NULL;
	PGresult	*res;
	bool		 json = false;
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
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			state = argv[++i];
			for (k = 0; k < NELEM(job_states) && strcmp(state, job_states[k]) != 0; k++)
				;
			if (k == NELEM(job_states)) {
				fprintf(stderr, "mkpctl: jobs: unknown state '%s' (queued, "
				    "running, done, dead)\n", state);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: mkpctl jobs [--state S] [--json] | "
			    "mkpctl jobs retry ID\n");
			return 2;
		}
	}
	if ((res = job_admin_list(c->conn, state, JOBS_LIST_LIMIT)) == NULL) {
		fprintf(stderr, "mkpctl: jobs: %s", PQerrorMessage(c->conn));
		return 1;
	}
	jobs_print(res, json);
	PQclear(res);
	return 0;
}

/*
 * keys [--bits N] [FILE]: the RSA key pair of the Kit clientSecret. The
 * private key goes to FILE (default [kit] private_key_file), mode 0600,
 * never overwritten; the public key PEM is printed, to upload to the
 * seller center with the application credential.
 */
static int
verb_keys(struct ctl *c, int argc, char **argv)
{
	struct buf	 pub = BUF_INIT;
	const char	*path = NULL;
	char		 err[512];
	int64_t		 bits = 3072;
	int		 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc) {
			if (!parse_i64(argv[++i], 3072, 16384, &bits)) {
				fprintf(stderr, "mkpctl keys: --bits must be 3072..16384\n");
				return 2;
			}
		} else if (argv[i][0] != '-' && path == NULL) {
			path = argv[i];
		} else {
			fprintf(stderr, "usage: mkpctl keys [--bits N] [FILE]\n");
			return 2;
		}
	}
	if (path == NULL) {
		c->cfg = config_load(c->conf_path, err, sizeof(err));
		if (c->cfg == NULL) {
			fprintf(stderr, "mkpctl: %s\n", err);
			return 1;
		}
		path = c->cfg->kit_private_key_file;
		if (path[0] == '\0') {
			fprintf(stderr, "mkpctl keys: give FILE or set [kit] private_key_file\n");
			return 2;
		}
	}
	if (!rsa_key_generate(path, (int)bits, &pub, err, sizeof(err))) {
		fprintf(stderr, "mkpctl keys: %s\n", err);
		buf_free(&pub);
		return 1;
	}
	fprintf(stderr, "private key written to %s (mode 0600); upload this public key:\n",
	    path);
	fputs(buf_cstr(&pub), stdout);
	buf_free(&pub);
	return 0;
}

/* Prints a result as a header line and tab-separated rows. */
static int
print_rows(struct ctl *c, const char *sql, const char *tenant)
{
	const char	*params[1] = { tenant };
	PGresult	*res;
	int		 r, f, nf;

	res = PQexecParams(c->conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "mkpctl: %s", PQerrorMessage(c->conn));
		PQclear(res);
		return 1;
	}
	nf = PQnfields(res);
	for (f = 0; f < nf; f++)
		printf("%s%s", f ? "\t" : "", PQfname(res, f));
	printf("\n");
	for (r = 0; r < PQntuples(res); r++) {
		for (f = 0; f < nf; f++)
			printf("%s%s", f ? "\t" : "", PQgetvalue(res, r, f));
		printf("\n");
	}
	PQclear(res);
	return 0;
}

static int
verb_tenants(struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: mkpctl tenants\n");
		return 2;
	}
	return print_rows(c, "SELECT tenant_id, tenant_code, name, domain_name, is_test,"
	    " stamp, deleted_at IS NOT NULL AS deleted FROM tenant"
	    " WHERE $1::text IS NULL ORDER BY tenant_id", NULL);
}

static int
verb_users(struct ctl *c, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkpctl users TENANT\n");
		return 2;
	}
	return print_rows(c, "SELECT user_name, name, role, enabled, org_path, app_id"
	    " FROM kit_active_users WHERE tenant_id = $1 ORDER BY user_name", argv[1]);
}

static int
verb_orgs(struct ctl *c, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkpctl orgs TENANT\n");
		return 2;
	}
	return print_rows(c, "SELECT org_code, parent_code, path, parent_missing, users"
	    " FROM kit_org_tree WHERE tenant_id = $1 ORDER BY path", argv[1]);
}

static const struct verb verbs[] = {
	{ "jobs", "[--state S] [--json] | retry ID",
	  "list the newest jobs; retry ID queues a dead job again", true, verb_jobs },
	{ "keys", "[--bits N] [FILE]",
	  "make the RSA key pair of the Kit clientSecret; print the public key", false,
	  verb_keys },
	{ "migrate", "", "apply the schema migrations this binary carries (idempotent)",
	  true, verb_migrate },
	{ "orgs", "TENANT", "list the live departments of a Kit tenant", true, verb_orgs },
	{ "reload", "", "reload mkpd's config, replacing workers gracefully", false, ctl_reload },
	{ "status", "[--json|--openmetrics|--html] [--full]",
	  "the pool's status from mkpd's scoreboard (control_socket)", false, ctl_status },
	{ "tenants", "", "list the Kit tenants (deleted ones flagged)", true, verb_tenants },
	{ "users", "TENANT", "list the active users of a Kit tenant", true, verb_users },
	{ "version", "", "show the schema version of the database and of this binary",
	  true, verb_version },
};

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: mkpctl [-c FILE] [--dsn DSN] COMMAND [ARGS]\n\n"
	    "  -c, --config FILE   mkpd.conf to read (default %s/mkpd.conf)\n"
	    "      --dsn DSN       PostgreSQL connection string (instead of [store] dsn)\n\n"
	    "commands:\n", SYSCONFDIR);
	for (i = 0; i < NELEM(verbs); i++)
		fprintf(f, "  %-8s %s\n  %8s %s\n", verbs[i].name, verbs[i].args, "",
		    verbs[i].help);
}

static bool
ctl_connect(struct ctl *c)
{
	char	err[512];

	if (c->dsn == NULL) {
		c->cfg = config_load(c->conf_path, err, sizeof(err));
		if (c->cfg == NULL) {
			fprintf(stderr, "mkpctl: %s\n", err);
			return false;
		}
		c->dsn = c->cfg->dsn;
	}
	c->conn = PQconnectdb(c->dsn);
	if (PQstatus(c->conn) != CONNECTION_OK) {
		fprintf(stderr, "mkpctl: cannot connect to PostgreSQL: %s", PQerrorMessage(c->conn));
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dsn", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl		 c;
	const struct verb	*v = NULL;
	size_t			 i;
	int			 ch, rc;

	memset(&c, 0, sizeof(c));
	c.conf_path = SYSCONFDIR "/mkpd.conf";
	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			c.conf_path = optarg;
			break;
		case 'D':
			c.dsn = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < NELEM(verbs); i++)
		if (strcmp(argv[optind], verbs[i].name) == 0)
			v = &verbs[i];
	if (v == NULL) {
		fprintf(stderr, "mkpctl: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (v->needs_db && !ctl_connect(&c)) {
		rc = 1;
	} else {
		rc = v->run(&c, argc - optind, argv + optind);
	}
	if (c.conn != NULL)
		PQfinish(c.conn);
	config_free(c.cfg);
	return rc;
}

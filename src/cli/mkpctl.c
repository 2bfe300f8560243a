/*
 * mkpctl: the administrator's command line.
 *
 * One dispatch table of verbs (below); each verb lives in its own
 * src/cli/ctl_<verb>.c, gets the loaded configuration (or just a DSN) and
 * its own arguments, prints for people by default (--json for programs,
 * ctl_out.c) and returns the process exit status: 0 done, 1 failed,
 * 2 usage.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ctl.h"
#include "cli/ctl_callbacks.h"
#include "cli/ctl_config.h"
#include "cli/ctl_instances.h"
#include "cli/ctl_jobs.h"
#include "cli/ctl_keys.h"
#include "cli/ctl_kit.h"
#include "cli/ctl_packages.h"
#include "cli/ctl_purge.h"
#include "cli/ctl_statements.h"
#include "cli/ctl_status.h"
#include "cli/ctl_usage.h"
#include "common/conf.h"
#include "common/util.h"
#include "store/db.h"
#include "store/migrate.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/usr/local/etc"
#endif
/* As mkpd's default (src/pool/mkpd.c): a package may set MKPD_CONFIG_FILE. */
#ifndef MKPD_CONFIG_FILE
#define MKPD_CONFIG_FILE SYSCONFDIR "/mkpd.conf"
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
	int	cur;

	(void)argc;
	(void)argv;
	if (!migrate_current(c->conn, &cur)) {
		fprintf(stderr, "mkpctl: reading the schema version: %s",
		    PQerrorMessage(c->conn));
		return 1;
	}
	printf("mkpctl %s\nschema: database at %d, this binary knows %d\n",
	    PACKAGE_VERSION, cur, migrate_latest());
	if (cur < migrate_latest()) {
		printf("run 'mkpctl migrate' to update the database\n");
		return 1;
	}
	return 0;
}

static const struct verb verbs[] = {
	{ "callbacks", "tail [-n N] | search [--instance ID] [--order ID] [--activity A]"
	  " [--code C] [--failed] [--since T] [--until T] | show CALL_ID",
	  "the audit log of inbound calls", true, ctl_callbacks },
	{ "config", "check [FILE]",
	  "check mkpd.conf, its mode, the master key and the files it names", false,
	  ctl_config_verb },
	{ "instances", "[list] [--state S] [--test|--real] [--limit N] | show ID | history ID",
	  "the instances, one instance, its events and calls", true, ctl_instances },
	{ "jobs", "[--state S] [--limit N] | retry ID",
	  "list the newest jobs; retry ID queues a dead job again", true, ctl_jobs },
	{ "keys", "generate rsa [--bits N] [FILE] | generate master FILE |"
	  " rotate basic|kit|v1 [--overlap D] [--key-file F] | status",
	  "make keys; rotate a marketplace key with an overlap; show the keys", false,
	  ctl_keys },
	{ "migrate", "", "apply the schema migrations this binary carries (idempotent)",
	  true, verb_migrate },
	{ "orgs", "TENANT", "list the live departments of a Kit tenant", true, ctl_orgs },
	{ "packages", CTL_PACKAGES_ARGS, CTL_PACKAGES_HELP, true, ctl_packages },
	{ "purge", "[--test-data] [--audit-older-than DAYS] [--usage-older-than DAYS] "
	  "[--jobs-older-than DAYS] [--nonces] [--dry-run]",
	  "delete debug data, old audit rows, old months of usage, old done jobs, expired "
	  "nonces; print the counts", true,
	  ctl_purge },
	{ "reload", "", "reload mkpd's config, replacing workers gracefully", false, ctl_reload },
	{ "statements", "[NAME...]",
	  "print the SQL mkpd prepares (all, or the SQL of each NAME a line)", false,
	  ctl_statements },
	{ "status", "[--json|--openmetrics|--html] [--full]",
	  "the pool's status from mkpd's scoreboard (control_socket)", false, ctl_status },
	{ "tenants", "", "list the Kit tenants (deleted ones flagged)", true, ctl_tenants },
	{ "usage", CTL_USAGE_ARGS, CTL_USAGE_HELP, true, ctl_usage },
	{ "users", "TENANT", "list the active users of a Kit tenant", true, ctl_users },
	{ "version", "", "show the schema version of the database and of this binary",
	  true, verb_version },
};

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: mkpctl [-c FILE] [--dsn DSN] COMMAND [ARGS] [--json]\n\n"
	    "  -c, --config FILE   mkpd.conf to read (default $MKPD_CONF, else\n"
	    "                      %s)\n"
	    "      --dsn DSN       PostgreSQL connection string (instead of [store] dsn)\n"
	    "      --json          print JSON instead of tables\n\n"
	    "commands:\n", MKPD_CONFIG_FILE);
	for (i = 0; i < NELEM(verbs); i++)
		fprintf(f, "  %-9s %s\n  %9s %s\n", verbs[i].name, verbs[i].args, "",
		    verbs[i].help);
}

static void
ctl_conn_error(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "mkpctl: cannot connect to PostgreSQL: %s\n", line);
}

static bool
ctl_connect(struct ctl *c)
{
	struct db_params p;
	struct config	*defaults = NULL;
	char		 err[256];
	FILE		*empty;

	if (c->dsn == NULL) {
		if (!ctl_config(c))
			return false;
		c->dsn = c->cfg->dsn;
	}
	/* The [store] timeouts of the config, or their defaults with --dsn alone. */
	if (c->cfg != NULL) {
		db_params_from_config(c->cfg, &p);
	} else {
		snprintf(err, sizeof(err), "/dev/null: cannot open");
		if ((empty = fopen("/dev/null", "re")) != NULL) {
			defaults = config_load_stream(empty, "(defaults)", err, sizeof(err));
			fclose(empty);
		}
		if (defaults == NULL) {
			fprintf(stderr, "mkpctl: the default configuration: %s\n", err);
			return false;
		}
		db_params_from_config(defaults, &p);
		config_free(defaults);
	}
	/* Every time printed is UTC, whatever the server's zone (db_connect_plain). */
	c->conn = db_connect_plain(c->dsn, &p, "mkpctl");
	if (PQstatus(c->conn) != CONNECTION_OK) {
		db_conn_error_lines(PQerrorMessage(c->conn), ctl_conn_error, NULL);
		return false;
	}
	return true;
}

/* Takes --json out of the verb's arguments, wherever it stands. */
static int
take_json(struct ctl *c, int argc, char **argv)
{
	int	i, n = 0;

	for (i = 0; i < argc; i++) {
		if (i > 0 && strcmp(argv[i], "--json") == 0)
			c->json = true;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dsn", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl		 c;
	const struct verb	*v = NULL;
	const char		*env;
	size_t			 i;
	int			 ch, rc, vargc;

	memset(&c, 0, sizeof(c));
	if ((env = getenv("MKPD_CONF")) != NULL && *env != '\0')
		c.conf_path = env;
	else
		c.conf_path = MKPD_CONFIG_FILE;
	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			c.conf_path = optarg;
			break;
		case 'D':
			c.dsn = optarg;
			break;
		case 'j':
			c.json = true;
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
	vargc = take_json(&c, argc - optind, argv + optind);
	if (v->needs_db && !ctl_connect(&c)) {
		rc = 1;
	} else {
		/*
		 * Migrations and purges are bulk work an administrator watches
		 * (and may interrupt): [store] statement_timeout, sized for a
		 * worker's calls, would cut them. The connection's other bounds
		 * stay.
		 */
		if (v->needs_db && (strcmp(v->name, "migrate") == 0 ||
		    strcmp(v->name, "purge") == 0))
			PQclear(PQexec(c.conn, "SELECT set_config('statement_timeout', '0', false)"));
		rc = v->run(&c, vargc, argv + optind);
	}
	if (c.conn != NULL)
		PQfinish(c.conn);
	config_free(c.cfg);
	return rc;
}

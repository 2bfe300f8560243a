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

#include "common/config.h"
#include "common/log.h"
#include "store/migrate.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/usr/local/etc"
#endif

struct ctl {
	const char	*conf_path;
	const char	*dsn;		/* --dsn, else the config's [store] dsn */
	struct config	*cfg;
	PGconn		*conn;
};

struct verb {
	const char	*name;
	const char	*args;
	const char	*help;
	bool		 needs_db;
	int		(*run)(struct ctl *, int argc, char **argv);
};

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

static const struct verb verbs[] = {
	{ "migrate", "", "apply the schema migrations this binary carries (idempotent)",
	  true, verb_migrate },
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
		fprintf(f, "  %-10s %-12s %s\n", verbs[i].name, verbs[i].args, verbs[i].help);
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

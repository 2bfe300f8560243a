/*
 * ctl_packages.c: `mkpctl packages` (see ctl_packages.h).
 *
 *   packages [INSTANCE] [--json]     every package, or those of an
 *                                    on-demand instance (or the package
 *                                    itself): quota, drawn, remaining,
 *                                    unit, expiry, state
 *   packages link PACKAGE INSTANCE   the seller says which on-demand
 *                                    instance a package serves
 *
 * The list reads the DBA's view package_balance; link calls
 * mkp_package_link(), which takes the balance rows' locks as the ingest
 * does, so it is safe while usage arrives. A package already drawn by
 * another instance is not moved.
 */
#include <stdio.h>
#include <string.h>

#include "cli/ctl_packages.h"
#include "domain/package.h"

static int
cp_usage(void)
{
	fprintf(stderr, "usage: mkpctl packages [INSTANCE] [--json]\n"
	    "       mkpctl packages link PACKAGE INSTANCE\n");
	return 2;
}

static int
cp_list(struct ctl *c, const char *instance)
{
	const char	*vals[1] = { instance };

	return ctl_list(c,
	    "SELECT pkg_instance_id AS package, coalesce(instance_id, '') AS instance,"
	    " quota, drawn, remaining, unit, mode,"
	    " coalesce(to_char(expire_at AT TIME ZONE 'UTC',"
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') AS expires,"
	    " state, coalesce(linked_by, '') AS linked_by"
	    " FROM package_balance"
	    " WHERE $1::text IS NULL OR instance_id = $1 OR pkg_instance_id = $1"
	    " ORDER BY instance_id NULLS LAST, expire_at NULLS LAST, created_at,"
	    " pkg_instance_id", 1, vals);
}

static int
cp_link(struct ctl *c, const char *pkg, const char *instance)
{
	char		 thr[256];
	const char	*vals[3] = { pkg, instance, thr };
	PGresult	*res;
	int		 rc = 0;

	if (!ctl_config(c))
		return 1;
	package_thresholds(c->cfg, thr, sizeof(thr));
	res = ctl_query(c, "SELECT mkp_package_link($1, $2, 'seller', $3::numeric[])", 3,
	    vals);
	if (res == NULL)
		return 1;
	if (!PQgetisnull(res, 0, 0)) {
		fprintf(stderr, "mkpctl: packages link: %s\n", PQgetvalue(res, 0, 0));
		rc = 1;
	} else {
		printf("package %s serves %s\n", pkg, instance);
	}
	PQclear(res);
	return rc;
}

int
ctl_packages(struct ctl *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "link") == 0)
		return argc == 4 ? cp_link(c, argv[2], argv[3]) : cp_usage();
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return cp_usage();
	return cp_list(c, argc == 2 ? argv[1] : NULL);
}

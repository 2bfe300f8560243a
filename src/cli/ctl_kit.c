/*
 * ctl_kit.c: mkpctl tenants, users TENANT, orgs TENANT: what the Kit
 * (joint-operation) sync calls stored, read through the views
 * kit_active_users and kit_org_tree (schema/007_kit.sql).
 */
#include "config.h"

#include "cli/ctl.h"
#include "cli/ctl_kit.h"

static int
print_rows(struct ctl *c, const char *sql, const char *tenant)
{
	const char	*params[1] = { tenant };
	PGresult	*res;

	if ((res = ctl_query(c, sql, 1, params)) == NULL)
		return 1;
	ctl_print(stdout, res, c->json);
	PQclear(res);
	return 0;
}

int
ctl_tenants(struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: mkpctl tenants [--json]\n");
		return 2;
	}
	return print_rows(c, "SELECT tenant_id, tenant_code, name, domain_name,"
	    " is_test AS test, stamp, deleted_at IS NOT NULL AS deleted FROM tenant"
	    " WHERE $1::text IS NULL ORDER BY tenant_id", NULL);
}

int
ctl_users(struct ctl *c, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkpctl users TENANT [--json]\n");
		return 2;
	}
	return print_rows(c, "SELECT user_name, name, role, enabled, org_path, app_id"
	    " FROM kit_active_users WHERE tenant_id = $1 ORDER BY user_name", argv[1]);
}

int
ctl_orgs(struct ctl *c, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkpctl orgs TENANT [--json]\n");
		return 2;
	}
	return print_rows(c, "SELECT org_code, parent_code, path, parent_missing, users"
	    " FROM kit_org_tree WHERE tenant_id = $1 ORDER BY path", argv[1]);
}

/*
 * ctl_kit.c: mkpctl tenants, users TENANT, orgs TENANT: what the Kit
 * (joint-operation) sync calls stored, read through the views
 * kit_active_users and kit_org_tree (schema/007_kit.sql).
 */
#include "config.h"

#include "cli/ctl.h"
#include "cli/ctl_kit.h"

int
ctl_tenants(struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: mkpctl tenants [--json]\n");
		return 2;
	}
	return ctl_list(c, "SELECT tenant_id, tenant_code, name, domain_name,"
	    " is_test AS test, stamp, deleted_at IS NOT NULL AS deleted FROM tenant"
	    " ORDER BY tenant_id", 0, NULL);
}

int
ctl_users(struct ctl *c, int argc, char **argv)
{
	const char	*tenant[1] = { argc == 2 ? argv[1] : NULL };

	if (argc != 2) {
		fprintf(stderr, "usage: mkpctl users TENANT [--json]\n");
		return 2;
	}
	return ctl_list(c, "SELECT user_name, name, role, enabled, org_path, app_id"
	    " FROM kit_active_users WHERE tenant_id = $1 ORDER BY user_name", 1, tenant);
}

int
ctl_orgs(struct ctl *c, int argc, char **argv)
{
	const char	*tenant[1] = { argc == 2 ? argv[1] : NULL };

	if (argc != 2) {
		fprintf(stderr, "usage: mkpctl orgs TENANT [--json]\n");
		return 2;
	}
	return ctl_list(c, "SELECT org_code, parent_code, path, parent_missing, users"
	    " FROM kit_org_tree WHERE tenant_id = $1 ORDER BY path", 1, tenant);
}

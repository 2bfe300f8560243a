/*
 * ctl_packages.h: `mkpctl packages`, the quotas of on-demand packages
 * (issue 15, schema 014).
 */
#ifndef MKP_CTL_PACKAGES_H
#define MKP_CTL_PACKAGES_H

#include "cli/ctl.h"

#define CTL_PACKAGES_ARGS	"[INSTANCE] [--json] | link PACKAGE INSTANCE"
#define CTL_PACKAGES_HELP	"package quotas: drawn, remaining, state;\n" \
	"           link a package to the on-demand instance it serves"

/* The verb (argv[0] is "packages"). */
int	 ctl_packages(struct ctl *, int argc, char **argv);

#endif

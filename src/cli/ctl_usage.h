/*
 * ctl_usage.h: `mkpctl usage`, metered usage for the administrator: the
 * hourly report, records pending and failed, push history and status,
 * an immediate push and retries of failed records.
 */
#ifndef MKP_CLI_CTL_USAGE_H
#define MKP_CLI_CTL_USAGE_H

#include "cli/ctl.h"

#define CTL_USAGE_ARGS	"[INSTANCE] | pending | failed | history | status [--json]\n" \
	"           | push --now | retry ID|--all"
#define CTL_USAGE_HELP	"usage per instance and UTC hour; records to push or " \
	"failed; push attempts;\n           push every closed hour now; retry failed records"

/* The verb (argv[0] is "usage"). */
int	 ctl_usage(struct ctl *, int argc, char **argv);

#endif

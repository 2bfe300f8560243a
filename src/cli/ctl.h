/*
 * ctl.h: what the verbs of mkpctl share (src/cli/mkpctl.c dispatches; a
 * verb with much code lives in its own src/cli/ctl_VERB.c).
 *
 * A verb gets the context and its own arguments (argv[0] is the verb),
 * prints for people by default (--json for programs where it lists
 * things) and returns the exit status: 0 done, 1 failed, 2 usage.
 */
#ifndef MKP_CLI_CTL_H
#define MKP_CLI_CTL_H

#include <libpq-fe.h>
#include <stdbool.h>

struct config;

struct ctl {
	const char	*conf_path;
	const char	*dsn;		/* --dsn, else the config's [store] dsn */
	struct config	*cfg;		/* loaded when needed (not with --dsn alone) */
	PGconn		*conn;		/* connected for verbs with needs_db */
};

struct verb {
	const char	*name;
	const char	*args;
	const char	*help;
	bool		 needs_db;
	int		(*run)(struct ctl *, int argc, char **argv);
};

#endif

/*
 * ctl.h: what every mkpctl verb shares (src/cli/mkpctl.c dispatches, each
 * verb lives in src/cli/ctl_<verb>.c).
 *
 * A verb gets the parsed global options and its own arguments (argv[0] is
 * the verb), prints for people by default, and returns the exit status:
 * 0 done, 1 failed, 2 usage. Listing verbs print an aligned table, or with
 * --json (taken out of argv by the dispatcher, wherever it stands) one
 * JSON document: an array of objects, or one object for a single row.
 */
#ifndef MKP_CTL_H
#define MKP_CTL_H

#include <stdio.h>
#include <libpq-fe.h>

#include "common/conf.h"
#include "common/defs.h"

struct ctl {
	const char	*conf_path;
	const char	*dsn;		/* --dsn, else the config's [store] dsn */
	struct config	*cfg;
	PGconn		*conn;
	bool		 json;		/* --json */
};

struct verb {
	const char	*name;
	const char	*args;
	const char	*help;
	bool		 needs_db;
	int		(*run)(struct ctl *, int argc, char **argv);
};

/* Loads c->conf_path into c->cfg (once); false (said on stderr) on error. */
bool	 ctl_config(struct ctl *) MUSTCHECK;

/*
 * Runs sql with text parameters (NULL = SQL NULL); NULL, the error said on
 * stderr, when it fails.
 */
PGresult *ctl_query(struct ctl *, const char *sql, int nparams, const char *const *params);

/*
 * Prints a result: an aligned table with upper-case headers (NULL shown
 * as "-"), or a JSON array of objects whose members follow the columns'
 * types (numbers, booleans, json/jsonb as themselves, NULL as null).
 */
void	 ctl_print(FILE *, const PGresult *, bool json);
/* One row (row 0) as "name: value" lines, or one JSON object. */
void	 ctl_print_row(FILE *, const PGresult *, bool json);
/*
 * Runs sql (ctl_query) and prints what it returns (ctl_print) to stdout;
 * ctl_show prints its one row (ctl_print_row) and says "no WHAT PARAM0"
 * on stderr when there is none. The verb's exit status: 0, or 1 when the
 * query failed or found nothing.
 */
int	 ctl_list(struct ctl *, const char *sql, int nparams, const char *const *params);
int	 ctl_show(struct ctl *, const char *sql, int nparams, const char *const *params,
	    const char *what);
/* The JSON object of row i of res, appended to a writer (ctl_out.c). */
struct jw;
void	 ctl_json_row(struct jw *, const PGresult *, int i);

/* "24h", "90m", "30s", "7d" or plain seconds; false when malformed. */
bool	 ctl_parse_duration(const char *, int64_t *secs) MUSTCHECK;

#endif

/*
 * ctl_statements.c: mkpctl statements, the SQL the daemons prepare.
 *
 * Every statement set a worker, the jobs child (with its job kinds) or the
 * status child registers with db_new() is listed below, so what a DBA sees
 * in pg_stat_statements can be matched by name, and scripts/bench can
 * feed pgbench the very strings a call sends. No database is needed.
 */
#include <stdio.h>
#include <string.h>

#include "cli/ctl.h"
#include "cli/ctl_statements.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "store/audit.h"
#include "store/instance_store.h"
#include "store/job_store.h"
#include "store/kit_store.h"
#include "store/nonce.h"
#include "store/package_store.h"
#include "store/status_store.h"
#include "store/usage_store.h"

/* Every set of api/router.c's workers, jobs/kinds.c's job kinds and the status child. */
static const struct db_stmt *const stmt_sets[] = {
	nonce_stmts, audit_stmts, instance_store_stmts, job_store_stmts,
	kit_store_stmts, usage_store_stmts, package_store_stmts, status_store_stmts,
};

static const struct db_stmt *
stmt_find(const char *name)
{
	const struct db_stmt	*s;
	size_t			 i;

	for (i = 0; i < NELEM(stmt_sets); i++)
		for (s = stmt_sets[i]; s->name != NULL; s++)
			if (strcmp(s->name, name) == 0)
				return s;
	return NULL;
}

static void
stmt_json(struct jw *w, const struct db_stmt *s)
{
	jw_obj_begin(w);
	jw_kv_str(w, "name", s->name);
	jw_key(w, "params");
	jw_int(w, s->nparams);
	jw_kv_str(w, "sql", s->sql);
	jw_obj_end(w);
}

/*
 * statements: every prepared statement (name, parameter count, SQL), or
 * the SQL of those named, one a line, for scripts.
 */
int
ctl_statements(struct ctl *c, int argc, char **argv)
{
	const struct db_stmt	*s;
	struct buf		 b = BUF_INIT;
	struct jw		 w;
	size_t			 i;
	int			 k;

	for (k = 1; k < argc; k++)
		if (stmt_find(argv[k]) == NULL) {
			fprintf(stderr, "mkpctl: statements: no statement named '%s'\n", argv[k]);
			return 1;
		}
	if (c->json) {
		jw_init(&w, &b);
		jw_arr_begin(&w);
		if (argc > 1)
			for (k = 1; k < argc; k++)
				stmt_json(&w, stmt_find(argv[k]));
		else
			for (i = 0; i < NELEM(stmt_sets); i++)
				for (s = stmt_sets[i]; s->name != NULL; s++)
					stmt_json(&w, s);
		jw_arr_end(&w);
		printf("%s\n", buf_cstr(&b));
		buf_free(&b);
		return 0;
	}
	if (argc > 1) {
		for (k = 1; k < argc; k++)
			printf("%s\n", stmt_find(argv[k])->sql);
		return 0;
	}
	for (i = 0; i < NELEM(stmt_sets); i++)
		for (s = stmt_sets[i]; s->name != NULL; s++)
			printf("%-28s %2d  %s\n", s->name, s->nparams, s->sql);
	return 0;
}


/*
 * migrate.h: numbered schema migrations, embedded in the binary from
 * schema/NNN_name.sql by scripts/embed-schema, applied by `mkpctl migrate`.
 */
#ifndef MKP_MIGRATE_H
#define MKP_MIGRATE_H

#include <libpq-fe.h>
#include <stdio.h>
#include "common/defs.h"

struct migration {
	int		 version;
	const char	*name;
	const char	*sql;
};

extern const struct migration migrations[];
extern const size_t migrations_count;

/*
 * Applies every migration newer than the database's version, each in its
 * own transaction, under an advisory lock so two hosts migrating at once
 * apply each migration once. Idempotent. Progress lines go to out.
 * False (with the reason on out) when a migration fails; the failed one
 * is rolled back and the earlier ones stay.
 */
bool	 migrate_apply(PGconn *, FILE *out) MUSTCHECK;

/* The highest applied version into *version, 0 for an empty database. */
bool	 migrate_current(PGconn *, int *version) MUSTCHECK;

/* The highest version this binary knows. */
int	 migrate_latest(void);

#endif

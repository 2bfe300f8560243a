/*
 * audit.h: callback_log, one row per inbound call whatever its outcome.
 */
#ifndef MKP_AUDIT_H
#define MKP_AUDIT_H

#include <stdint.h>
#include "common/buf.h"
#include "store/db.h"

struct audit {
	const char	*call_id;
	int64_t		 received_ms;	/* wall clock */
	const char	*remote_addr;
	const char	*dialect;	/* "v2", "v1", "kit-v2", "kit-v1", "local" */
	const char	*activity;
	const char	*instance_id;
	const char	*order_id;
	const char	*order_line_id;
	const char	*result_code;	/* NULL when the answer carried none */
	int		 http_status;
	int64_t		 latency_us;
	bool		 is_test;
	const char	*reason;	/* why it did not succeed, NULL on success */
	const char	*body;		/* the request body with secrets redacted */
};

extern const struct db_stmt audit_stmts[];

/*
 * s, or when it is not valid UTF-8 (a query parameter may hold any byte)
 * a copy in esc (initialised; the caller frees it) with each byte that is
 * not part of a character written \xHH: the store refuses invalid text,
 * and the row must not be lost. audit_record applies it to every field.
 */
const char *audit_text(const char *s, struct buf *esc);

/*
 * Queues the row to be inserted ahead of the process's next round trip
 * (db_defer), in a transaction of its own; a failure is logged there.
 */
void	 audit_record(struct db *, const struct audit *);

/* Makes callback_log's partitions of this month and the next two (schema 018). */
bool	 audit_partitions(struct db *) MUSTCHECK;

#endif

/*
 * ctl_callbacks.c: mkpctl callbacks, the audit log of inbound calls
 * (callback_log).
 *
 *	callbacks tail [-n N]
 *	callbacks search [--instance ID] [--order ID] [--activity A]
 *	    [--code C] [--failed] [--since T] [--until T] [--test | --real] [--limit N]
 *	callbacks show CALL_ID
 *
 * tail prints the last N calls oldest first, as a log reads; search the
 * newest first. Times are anything PostgreSQL reads as a timestamptz
 * ("2026-11-24 10:00", "2026-11-24T10:00:00Z"). --failed: every result
 * but 000000 and 000004, and a call without one (the usage intake) whose
 * HTTP status is 400 or more (the failed_calls view). show prints one call
 * with its redacted body.
 */
#include "config.h"

#include <string.h>

#include "cli/ctl.h"
#include "cli/ctl_callbacks.h"
#include "common/util.h"

#define CB_COLUMNS \
	"to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS time," \
	" call_id, dialect, activity, instance_id, order_id, result_code AS code," \
	" http_status AS http, round(latency_us / 1000.0, 1) AS ms, is_test AS test, reason"

static int
usage(void)
{
	fprintf(stderr, "usage: mkpctl callbacks tail [-n N] [--json]\n"
	    "       mkpctl callbacks search [--instance ID] [--order ID] [--activity A] "
	    "[--code C] [--failed]\n"
	    "           [--since TIME] [--until TIME] [--test | --real] [--limit N] "
	    "[--json]\n"
	    "       mkpctl callbacks show CALL_ID [--json]\n");
	return 2;
}

static int
tail(struct ctl *c, int argc, char **argv)
{
	const char	*p[1] = { "20" };
	int64_t		 n;

	if (argc == 2 && strcmp(argv[0], "-n") == 0 && parse_i64(argv[1], 1, 1000000, &n))
		p[0] = argv[1];
	else if (argc != 0)
		return usage();
	return ctl_list(c, "SELECT * FROM (SELECT " CB_COLUMNS " FROM callback_log"
	    " ORDER BY received_at DESC, call_id LIMIT $1::int) t ORDER BY time, call_id", 1, p);
}

static int
search(struct ctl *c, int argc, char **argv)
{
	/* instance, order, activity, code, since, until, test, failed, limit */
	static const char *const opts[] = {
		"--instance", "--order", "--activity", "--code", "--since", "--until",
	};
	const char	*p[9] = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "100" };
	int64_t		 n;
	size_t		 k;
	int		 i;

	for (i = 0; i < argc; i++) {
		for (k = 0; k < NELEM(opts) && strcmp(argv[i], opts[k]) != 0; k++)
			;
		if (k < NELEM(opts) && i + 1 < argc)
			p[k] = argv[++i];
		else if (strcmp(argv[i], "--test") == 0)
			p[6] = "t";
		else if (strcmp(argv[i], "--real") == 0)
			p[6] = "f";
		else if (strcmp(argv[i], "--failed") == 0)
			p[7] = "t";
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc &&
		    parse_i64(argv[i + 1], 1, 1000000, &n))
			p[8] = argv[++i];
		else
			return usage();
	}
	return ctl_list(c, "SELECT " CB_COLUMNS " FROM callback_log"
	    " WHERE ($1::text IS NULL OR instance_id = $1)"
	    " AND ($2::text IS NULL OR order_id = $2)"
	    " AND ($3::text IS NULL OR activity = $3)"
	    " AND ($4::text IS NULL OR result_code = $4)"
	    " AND ($5::timestamptz IS NULL OR received_at >= $5)"
	    " AND ($6::timestamptz IS NULL OR received_at < $6)"
	    " AND ($7::boolean IS NULL OR is_test = $7)"
	    " AND ($8::boolean IS NULL OR CASE WHEN coalesce(result_code, '') = ''"
	    "      THEN http_status >= 400 ELSE result_code NOT IN ('000000', '000004') END)"
	    " ORDER BY received_at DESC, call_id LIMIT $9::int", 9, p);
}

int
ctl_callbacks(struct ctl *c, int argc, char **argv)
{
	const char	*p[1] = { argc == 3 ? argv[2] : NULL };

	if (argc >= 2 && strcmp(argv[1], "tail") == 0)
		return tail(c, argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "search") == 0)
		return search(c, argc - 2, argv + 2);
	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return ctl_show(c, "SELECT " CB_COLUMNS ", remote_addr, order_line_id,"
		    " body FROM callback_log WHERE call_id = $1", 1, p, "call");
	return usage();
}

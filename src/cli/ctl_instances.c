/*
 * ctl_instances.c: mkpctl instances, what the marketplace bought.
 *
 *	instances [list] [--state S] [--test | --real] [--limit N]
 *	instances show ID
 *	instances history ID
 *
 * list: the most recently changed first. show: one instance, every column
 * but the sealed password. history: its events (instance_event) and the
 * calls that named it (callback_log) in time order, so one listing says
 * what the marketplace asked and what mkpd did about it.
 */
#include "config.h"

#include <string.h>

#include "cli/ctl.h"
#include "cli/ctl_instances.h"
#include "common/util.h"

#define INSTANCES_LIMIT	"50"

static const char *const states[] = {
	"provisioning", "active", "frozen", "released", "failed",
};

static int
usage(void)
{
	fprintf(stderr, "usage: mkpctl instances [list] [--state S] [--test | --real] "
	    "[--limit N] [--json]\n       mkpctl instances show ID [--json]\n"
	    "       mkpctl instances history ID [--json]\n");
	return 2;
}

static int
list(struct ctl *c, int argc, char **argv)
{
	const char	*p[3] = { NULL, NULL, INSTANCES_LIMIT };
	int64_t		 lim;
	size_t		 k;
	int		 i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			p[0] = argv[++i];
			for (k = 0; k < NELEM(states) && strcmp(p[0], states[k]) != 0; k++)
				;
			if (k == NELEM(states)) {
				fprintf(stderr, "mkpctl: instances: unknown state '%s' "
				    "(provisioning, active, frozen, released, failed)\n", p[0]);
				return 2;
			}
		} else if (strcmp(argv[i], "--test") == 0) {
			p[1] = "t";
		} else if (strcmp(argv[i], "--real") == 0) {
			p[1] = "f";
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc &&
		    parse_i64(argv[i + 1], 1, 1000000, &lim)) {
			p[2] = argv[++i];
		} else {
			return usage();
		}
	}
	return ctl_list(c, "SELECT instance_id, state, is_test AS test, order_id, order_line_id,"
	    " product_id, charging_mode,"
	    " to_char(expire_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS expire_at,"
	    " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS updated_at"
	    " FROM instance WHERE ($1::text IS NULL OR state = $1)"
	    " AND ($2::boolean IS NULL OR is_test = $2)"
	    " ORDER BY instance.updated_at DESC, instance_id LIMIT $3::int", 3, p);
}

int
ctl_instances(struct ctl *c, int argc, char **argv)
{
	const char	*p[1];

	if (argc >= 2 && strcmp(argv[1], "show") == 0) {
		if (argc != 3)
			return usage();
		p[0] = argv[2];
		return ctl_show(c, "SELECT instance_id, state, is_test AS test, order_id,"
		    " order_line_id, business_id, product_id, sku_code, charging_mode, trial,"
		    " alias_of, expire_at, front_end_url, admin_url, app_user, memo, fail_reason,"
		    " created_at, updated_at, frozen_at, released_at"
		    " FROM instance WHERE instance_id = $1", 1, p, "instance");
	}
	if (argc >= 2 && strcmp(argv[1], "history") == 0) {
		if (argc != 3)
			return usage();
		p[0] = argv[2];
		return ctl_list(c, "SELECT to_char(at AT TIME ZONE 'UTC',"
		    " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS time, source, what, detail, call_id"
		    " FROM ("
		    "  SELECT created_at AS at, 'event' AS source, kind AS what,"
		    "   concat_ws(' -> ', from_state, to_state) AS detail, call_id, 1 AS o, event_id AS k"
		    "  FROM instance_event WHERE instance_id = $1"
		    "  UNION ALL"
		    "  SELECT received_at, 'call', activity, concat_ws(' ', result_code, reason),"
		    "   call_id, 0, 0 FROM callback_log WHERE instance_id = $1"
		    " ) h ORDER BY at, o, k", 1, p);
	}
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return list(c, argc - 2, argv + 2);
	return list(c, argc - 1, argv + 1);
}

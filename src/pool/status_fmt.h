/*
 * status_fmt.h: the pool's status, one structure and its serialisers.
 *
 * The status child fills a struct pool_status from the scoreboard (and a
 * short store query) and renders it in the format the caller chose, as
 * php-fpm does: plain text by default, ?json, ?openmetrics (Prometheus
 * text exposition), ?html (a page that refreshes itself); ?full adds one
 * entry per worker. Unlike php-fpm every format carries the limits of the
 * running config (pm, max_children, spare bounds, max_requests), so "max
 * children reached" can be read against what the limit is.
 *
 * Pure: no I/O, no clock; unit-tested in test/unit/check_status_fmt.c.
 */
#ifndef MKP_POOL_STATUS_FMT_H
#define MKP_POOL_STATUS_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/defs.h"

#define STATUS_UNKNOWN	(-1)	/* a figure that could not be had (store down) */

struct status_worker {
	int		 slot;
	pid_t		 pid;
	const char	*state;		/* "idle", "busy", ... */
	uint32_t	 generation;
	uint64_t	 requests;
	int64_t		 started_wall;	/* epoch ms */
	int64_t		 request_ms;	/* busy: the current request's age; else -1 */
	int64_t		 last_request_ms;
	int64_t		 rss_kb;	/* STATUS_UNKNOWN when /proc could not tell */
	char		 dialect[8];
	char		 activity[32];
	char		 ids[80];
	char		 remote[48];
};

struct pool_status {
	const char	*pool;		/* "mkpd" */
	const char	*version;
	int64_t		 now_wall;	/* epoch ms, when the figures were taken */
	int64_t		 start_wall;
	uint32_t	 generation;
	uint64_t	 accepted;
	uint32_t	 listen_queue, listen_queue_max, listen_queue_len;
	int		 idle, active, total;	/* live workers, every generation */
	uint32_t	 max_active;
	uint64_t	 max_children_reached;
	int64_t		 reached_last_wall;	/* 0 = never */
	uint32_t	 reached_last_queue;
	uint64_t	 slow_requests;
	uint64_t	 terminated;
	/* limits */
	const char	*pm;
	int64_t		 max_children, start_servers, min_spare, max_spare, max_requests;
	const char	*host;		/* this host's name */
	/* the store's health, as the status child last found it */
	int		 store_up;	/* 1 answered, 0 did not, STATUS_UNKNOWN not asked */
	int64_t		 store_down_since_wall;	/* 0 = up */
	const char	*store_error;	/* the last failure's reason; "" none */
	int64_t		 store_error_wall;	/* when; 0 = never */
	/* the store; STATUS_UNKNOWN when it did not answer */
	int64_t		 jobs_backlog;
	int64_t		 usage_pending, usage_at_risk;
	int64_t		 usage_last_push_wall;	/* 0 = never */
	int64_t		 usage_failed;		/* refused by the marketplace */
	int64_t		 usage_failed_oldest_wall;	/* end of its hour; 0 = none */
	int64_t		 packages_low, packages_used_up;
	int64_t		 sync_standbys;		/* streaming sync/quorum, -1 unknown */
	int64_t		 sync_commit;		/* commits wait for one: 1/0, -1 unknown */
	/* the store, as this host sees it */
	int		 store_waits;		/* workers sending deferred work */
	int64_t		 spool_bytes;		/* audit rows waiting in the spool */
	/* full */
	bool		 full;
	size_t		 nworkers;
	const struct status_worker *workers;
};

enum status_format {
	STATUS_TEXT,
	STATUS_JSON,
	STATUS_OPENMETRICS,
	STATUS_HTML,
};

/*
 * Reads a query string ("json&full", "full=1&html", "" ...) as php-fpm
 * does: the presence of a name chooses; unknown names are ignored.
 */
void	 status_query(const char *query, enum status_format *, bool *full);
const char *status_content_type(enum status_format);
/* Appends the rendering of st to out. */
void	 status_render(const struct pool_status *st, enum status_format, struct buf *out);

#endif

/*
 * usage.h: metered usage as the seller reports it (issue 5).
 *
 * Events are idempotent by the seller's event id and validated one by one:
 * a bad event is rejected with a reason, and the good events of the same
 * call are kept. Validation of form (value, time) happens here; what needs
 * the database (instance known and not released, time within the push
 * horizon, duplicate id, window already closed) happens in the store's
 * mkp_usage_ingest_batch(), the function a seller's own session calls too.
 */
#ifndef MKP_USAGE_H
#define MKP_USAGE_H

#include <stddef.h>
#include "common/buf.h"
#include "domain/instance.h"

/*
 * How old an event may be: records must reach the marketplace with a
 * begin_time within 21 days (spec/outbound.md §1.5); one day is kept for
 * the push and its retries.
 */
#define USAGE_HORIZON_S		(20L * 86400L)
/* Events one call may carry. */
#define USAGE_MAX_EVENTS	10000

/* One reported event; strings belong to the caller. */
struct usage_event {
	const char	*id;
	const char	*instance_id;
	const char	*pkg_instance_id;	/* NULL: not drawn from a package */
	const char	*value;		/* decimal text: at most 4 decimals, >= 0 */
	const char	*time;		/* RFC 3339, UTC ("...Z") */
	const char	*reject;	/* non-NULL: the adapter already refused it, why */
};

struct usage_rejection {
	char	*id;		/* "" when the event had none */
	char	*reason;
};

/*
 * An event accepted only in part (its package ran out, mode stop), or an
 * instance's package balance after the call (schema 014).
 */
struct usage_capped {
	char	*id;
	char	*taken;		/* decimal text */
	char	*reason;
};

struct usage_quota {
	char	*instance_id;
	char	*remaining;	/* decimal text, over its live packages */
	char	*mode;		/* stop, overflow */
};

/* What became of a call's events. */
struct usage_outcome {
	size_t			 accepted;
	size_t			 duplicates;
	size_t			 shifted;	/* of accepted: booked into a later hour */
	struct usage_rejection	*rejected;
	size_t			 nrejected;
	struct usage_capped	*capped;	/* of accepted: taken in part */
	size_t			 ncapped;
	struct usage_quota	*quota;		/* instances with packages it touched */
	size_t			 nquota;
};

/*
 * Validates the n events and stores the valid ones in one transaction.
 * DOM_OK with *out filled (free with usage_outcome_free), or DOM_STORE
 * when the store failed: nothing was stored then, and the caller may send
 * the whole call again (event ids make that safe).
 */
enum dom_status usage_ingest(const struct dom_ctx *, const struct usage_event *, size_t n,
	    struct usage_outcome *out);
void	 usage_outcome_free(struct usage_outcome *);

/*
 * Why value is not a usage amount (NULL when it is one): a decimal with
 * at most 16 integer digits and 4 decimals, not negative, no exponent.
 */
const char *usage_check_value(const char *value);
/*
 * The usage dashboard address of an instance ([usage] dashboard_url):
 * tmpl with every "{instanceId}" replaced by the id, percent-encoded,
 * appended to out. False (out unchanged) when tmpl is empty or the result
 * is longer than the 512 characters usageInfo.dashboardUrl may hold.
 */
bool	 usage_dashboard_url(const char *tmpl, const char *instance_id, struct buf *out);

/* Why the event cannot be stored whatever the database says (NULL when it can). */
const char *usage_check_event(const struct usage_event *);
/* Why time is not an RFC 3339 UTC instant "YYYY-MM-DDTHH:MM:SS[.fff]Z" (NULL when it is). */
const char *usage_check_time(const char *time);

#endif

/*
 * sim_v1.h: what `mkp-sim call --v1` adds to `mkp-sim call`: a V1 basic
 * call's query string, signed as the marketplace signs it
 * (spec/kit-and-v1.md §1.1), and the appInfo of its answer decrypted.
 */
#ifndef MKP_SIM_V1_H
#define MKP_SIM_V1_H

#include <stdint.h>
#include "common/buf.h"
#include "common/defs.h"

struct sim_v1_opts {
	const char	*key;		/* the V1 key; NULL: no authToken */
	int64_t		 time_ms;	/* timeStamp to send */
	bool		 test;		/* testFlag=1 */
	bool		 no_timestamp;	/* leave timeStamp out (still signed with it) */
	bool		 no_token;	/* leave authToken out */
	bool		 bad_token;	/* change one character of the authToken */
};

/*
 * Appends the query string (no leading '?') of ACTIVITY and name=value
 * arguments (args[0..n), ACTIVITY first unless it holds '='): activity,
 * the fields, testFlag, a random businessId for newInstance unless given,
 * timeStamp (yyyyMMddHHmmssSSS UTC) and authToken = base64(HMAC-SHA256(
 * key + timeStamp, every other parameter sorted by name, "k=v&...")).
 * Every name and value is percent-encoded as the marketplace does (all but
 * RFC 3986's unreserved characters, so '+', '/', '=' and ',' too). False
 * with a message on stderr for a usage error.
 */
bool	 sim_v1_query(const struct sim_v1_opts *, int n, char **args, struct buf *out)
	    MUSTCHECK;

/*
 * When the answer (JSON text) names an encryptType, decrypts every
 * appInfo's userName and password with key (the top-level appInfo of
 * newInstance, each info[] item's of queryInstance) and writes one line
 * per appInfo to stderr:
 *	appinfo: {"instanceId":"..","userName":"..","password":".."}
 * A field that does not decrypt is shown as null and makes it return
 * false.
 */
bool	 sim_v1_show_app_info(const char *key, const char *answer, size_t len);

#endif

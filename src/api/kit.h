/*
 * kit.h: what the Kit dialects (api/kit.c) expose beyond their descriptors.
 */
#ifndef MKP_API_KIT_H
#define MKP_API_KIT_H

#include <stdint.h>

#include "common/buf.h"
#include "common/json.h"

/*
 * A Kit list member v (named name in err): a JSON array, or a string
 * holding one, bare keys allowed (spec/README.md reading 7), of at most
 * max items. *owned gets the tree parsed from a string (or NULL), for the
 * caller to free whatever the outcome. NULL with err set when v is
 * missing, null, not a list or too long.
 */
/* Kit stamps are UTC+8; how far ahead of now + time_window one may be. */
#define KIT_UTC8_MS		(8LL * 3600 * 1000)
#define KIT_STAMP_AHEAD_S	86400

/*
 * A Kit timeStamp or currentSyncTime (yyyyMMddHHmmssSSS, UTC+8; 14 digits
 * accepted and padded; a JSON number too) as the 17-digit text the store
 * compares, in out. NULL when it is one, else why not: it must be a real
 * instant from 1970 on and not more than window_s seconds and a day ahead
 * of now (Unix ms).
 */
const char *kit_stamp(const struct json *v, int64_t now, int64_t window_s, char out[18]);

const struct json *kit_list(const struct json *v, const char *name, size_t max,
	    struct json **owned, char *err, size_t errlen);

#endif

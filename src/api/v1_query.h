/*
 * v1_query.h: the query string of a V1 basic call (spec/kit-and-v1.md
 * §1.1, §3.1) and the canonical string its authToken signs.
 */
#ifndef MKP_V1_QUERY_H
#define MKP_V1_QUERY_H

#include "common/buf.h"
#include "common/json.h"
#include "common/defs.h"

#define V1_PARAMS_MAX	64

struct v1_param {
	char	*name;		/* decoded, NUL-free */
	char	*value;		/* decoded, NUL-free; "" for "name" or "name=" */
};

struct v1_params {
	struct v1_param	 p[V1_PARAMS_MAX];
	size_t		 n;
};

/*
 * Splits an application/x-www-form-urlencoded query ('+' is a space, %XX a
 * byte, as the Java servlet the marketplace's sample uses decodes it) into
 * decoded name/value pairs. Empty segments ("a=1&&b=2") are skipped. False,
 * with err saying why and nothing to free, on a malformed %-escape, a %00,
 * an empty name, a name given twice (ambiguous: which one was signed?), or
 * more than V1_PARAMS_MAX parameters.
 */
bool	 v1_params_parse(const char *query, struct v1_params *, char *err,
	    size_t errlen) MUSTCHECK;
void	 v1_params_free(struct v1_params *);

/* The decoded value of name, NULL when absent. */
const char *v1_params_get(const struct v1_params *, const char *name);

/*
 * The string the authToken signs: every parameter but authToken, sorted by
 * name in byte order, "name=value" joined with '&', values decoded and not
 * re-escaped; parameters with empty values are kept (Huawei's GET sample
 * does). Appended to out.
 */
void	 v1_canonical(const struct v1_params *, struct buf *out);

/*
 * Appends "saasExtendParams": value to w, value being base64 of JSON ('+'
 * may arrive as ' '): the decoded JSON when it is that, else the string
 * as received.
 */
void	 v1_put_extend_params(struct jw *w, const char *value);

#endif

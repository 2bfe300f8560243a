/*
 * redact.h: the audit log's copy of a request body, secrets removed.
 */
#ifndef MKP_API_REDACT_H
#define MKP_API_REDACT_H

#include <stddef.h>

#include "common/buf.h"
#include "common/json.h"

/*
 * Replaces the values of secret-bearing members (password, clientSecret,
 * mobilePhone, email, ...) anywhere in the tree by "***" and appends the
 * compact JSON to out, cut at max bytes.
 */
void	 redact_json(const struct json *, struct buf *out, size_t max);

#endif

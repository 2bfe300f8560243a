/*
 * redact.c: request bodies for the audit log, without their secrets.
 *
 * Which members are secret is decided here, once, for every dialect:
 * credentials (password, clientSecret, accessKey, secret, token) and the
 * buyer's contact data (mobilePhone, email), whether the marketplace sent
 * them encrypted or not.
 */
#include <strings.h>

#include "api/redact.h"
#include "common/json.h"

static const char *const secret_keys[] = {
	"password", "clientSecret", "client_secret", "accessKey", "secretKey",
	"secret", "token", "authToken", "mobilePhone", "mobile", "email", "sk",
};

static bool
is_secret(const char *key)
{
	size_t	i;

	for (i = 0; i < NELEM(secret_keys); i++)
		if (strcasecmp(key, secret_keys[i]) == 0)
			return true;
	return false;
}

void
redact_json(const struct json *v, struct buf *out, size_t max)
{
	size_t	start = out->len;

	json_emit_masked(v, out, is_secret, max);
	if (out->len - start > max) {
		/* Cut on a character boundary: the column is UTF-8 text. */
		out->len = start + max;
		while (out->len > start && ((unsigned char)out->data[out->len] & 0xC0) == 0x80)
			out->len--;
		out->data[out->len] = '\0';
		buf_puts(out, "...(cut)");
	}
}

/*
 * redact.c: request bodies for the audit log, without their secrets.
 *
 * Which members are secret is decided here, once, for every dialect:
 * credentials (password, clientSecret, accessKey, secret, token) and the
 * buyer's contact data (mobilePhone, email), whether the marketplace sent
 * them encrypted or not.
 */
#include <string.h>
#include <strings.h>

#include "api/redact.h"
#include "common/json.h"

#define KEY(s)	{ s, sizeof(s) - 1 }
static const struct {
	const char	*name;
	size_t		 len;
} secret_keys[] = {
	KEY("password"), KEY("clientSecret"), KEY("client_secret"), KEY("accessKey"),
	KEY("secretKey"), KEY("secret"), KEY("token"), KEY("authToken"), KEY("mobilePhone"),
	KEY("mobile"), KEY("email"), KEY("sk"),
};
#undef KEY

/* Asked once per member of every audited body: lengths first, then case. */
static bool
is_secret(const char *key)
{
	size_t	i, len = strlen(key);

	for (i = 0; i < NELEM(secret_keys); i++)
		if (len == secret_keys[i].len && strcasecmp(key, secret_keys[i].name) == 0)
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

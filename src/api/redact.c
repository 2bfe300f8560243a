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

#include "api/app.h"
#include "common/json.h"

static const char *const secret_keys[] = {
	"password", "clientSecret", "client_secret", "accessKey", "secretKey",
	"secret", "token", "authToken", "mobilePhone", "email", "sk",
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

static void
emit(const struct json *v, struct buf *out)
{
	size_t	i;

	switch (v->type) {
	case JSON_OBJECT:
		buf_putc(out, '{');
		for (i = 0; i < v->u.obj.n; i++) {
			if (i > 0)
				buf_putc(out, ',');
			json_put_str(out, v->u.obj.keys[i], strlen(v->u.obj.keys[i]));
			buf_putc(out, ':');
			if (is_secret(v->u.obj.keys[i]) && v->u.obj.vals[i]->type != JSON_NULL)
				buf_puts(out, "\"***\"");
			else
				emit(v->u.obj.vals[i], out);
		}
		buf_putc(out, '}');
		break;
	case JSON_ARRAY:
		buf_putc(out, '[');
		for (i = 0; i < v->u.arr.n; i++) {
			if (i > 0)
				buf_putc(out, ',');
			emit(v->u.arr.items[i], out);
		}
		buf_putc(out, ']');
		break;
	default:
		json_emit(v, out);
		break;
	}
}

void
redact_json(const struct json *v, struct buf *out, size_t max)
{
	size_t	start = out->len;

	emit(v, out);
	if (out->len - start > max) {
		out->len = start + max;
		out->data[out->len] = '\0';
		buf_puts(out, "...(cut)");
	}
}

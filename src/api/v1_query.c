/*
 * v1_query.c: reading a V1 basic call's query string and building the
 * canonical string of its authToken (spec/kit-and-v1.md §1.1).
 *
 * The whole query is decoded once, up front, because the authToken covers
 * every parameter, known or not: a marketplace that adds a parameter must
 * not break the signature check. Decoding is form decoding ('+' is a
 * space), which is what the servlet of Huawei's sample does; the marketplace
 * percent-encodes '+', '/', '=' and ',' inside values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1_query.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/sign.h"

/* Decodes n bytes of s; false on a bad escape or a NUL byte. */
static bool
form_decode(const char *s, size_t n, char **out)
{
	struct buf	b = BUF_INIT;
	size_t		i;

	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			buf_putc(&b, ' ');
		} else if (s[i] == '%') {
			int hi, lo;

			if (n - i < 3 || (hi = hex_digit(s[i + 1])) < 0 ||
			    (lo = hex_digit(s[i + 2])) < 0 || hi * 16 + lo == 0) {
				buf_free(&b);
				return false;
			}
			buf_putc(&b, (char)(hi * 16 + lo));
			i += 2;
		} else {
			buf_putc(&b, s[i]);
		}
	}
	*out = b.len > 0 ? buf_steal(&b) : xstrdup("");
	buf_free(&b);
	return true;
}

bool
v1_params_parse(const char *q, struct v1_params *ps, char *err, size_t errlen)
{
	memset(ps, 0, sizeof(*ps));
	while (*q != '\0') {
		const char	*end = strchr(q, '&'), *eq;
		char		*name, *value;
		size_t		 i;

		if (end == NULL)
			end = q + strlen(q);
		if (end == q) {
			q++;
			continue;
		}
		eq = memchr(q, '=', (size_t)(end - q));
		if (eq == NULL)
			eq = end;
		if (!form_decode(q, (size_t)(eq - q), &name)) {
			snprintf(err, errlen, "query: malformed percent-encoding in a name");
			goto fail;
		}
		if (!form_decode(eq + (eq < end), (size_t)(end - eq - (eq < end)), &value)) {
			snprintf(err, errlen, "%.40s: malformed percent-encoding", name);
			free(name);
			goto fail;
		}
		if (name[0] == '\0' || v1_params_get(ps, name) != NULL ||
		    ps->n == V1_PARAMS_MAX) {
			snprintf(err, errlen, name[0] == '\0' ? "query: a parameter without a name" :
			    ps->n == V1_PARAMS_MAX ? "query: too many parameters" :
			    "%.40s: given more than once", name);
			free(name);
			free(value);
			goto fail;
		}
		i = ps->n++;
		ps->p[i].name = name;
		ps->p[i].value = value;
		q = *end == '&' ? end + 1 : end;
	}
	return true;
fail:
	v1_params_free(ps);
	return false;
}

void
v1_params_free(struct v1_params *ps)
{
	size_t	i;

	for (i = 0; i < ps->n; i++) {
		free(ps->p[i].name);
		free(ps->p[i].value);
	}
	ps->n = 0;
}

const char *
v1_params_get(const struct v1_params *ps, const char *name)
{
	size_t	i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->p[i].name, name) == 0)
			return ps->p[i].value;
	return NULL;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp((*(const struct v1_param *const *)a)->name,
	    (*(const struct v1_param *const *)b)->name);
}

void
v1_canonical(const struct v1_params *ps, struct buf *out)
{
	const struct v1_param	*sorted[V1_PARAMS_MAX];
	size_t			 i, n = 0;
	bool			 first = true;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->p[i].name, "authToken") != 0)
			sorted[n++] = &ps->p[i];
	qsort(sorted, n, sizeof(sorted[0]), by_name);
	for (i = 0; i < n; i++) {
		if (!first)
			buf_putc(out, '&');
		first = false;
		buf_puts(out, sorted[i]->name);
		buf_putc(out, '=');
		buf_puts(out, sorted[i]->value);
	}
}

/* saasExtendParams: base64 of a JSON array (its '+' may arrive as ' '). */
void
v1_put_extend_params(struct jw *w, const char *value)
{
	struct buf	 b64 = BUF_INIT, raw = BUF_INIT;
	struct json	*tree;
	char		 perr[64];
	size_t		 i;

	buf_puts(&b64, value);
	for (i = 0; i < b64.len; i++)
		if (b64.data[i] == ' ')
			b64.data[i] = '+';
	jw_key(w, "saasExtendParams");
	if (sign_b64_decode(buf_cstr(&b64), &raw) &&
	    (tree = json_parse(buf_cstr(&raw), raw.len, 8, perr, sizeof(perr))) != NULL) {
		buf_reset(&b64);
		json_emit(tree, &b64);
		json_free(tree);
		jw_raw(w, buf_cstr(&b64));
	} else {
		log_notice("saasExtendParams is not base64 JSON: kept as received");
		jw_str(w, value);
	}
	buf_free(&b64);
	buf_free(&raw);
}

/*
 * sim_v1.c: the V1 half of `mkp-sim call --v1`, one legacy V1 basic call
 * (spec/kit-and-v1.md §1, §3): a GET whose query string carries every
 * field, timeStamp and authToken, and an answer whose appInfo userName and
 * password arrive AES-encrypted (fieldcrypt.h). It is kept apart from
 * sim_call.c, which sends the request and checks Body-Sign for both
 * dialects, so that each dialect's signing lives in one place.
 *
 * The query is built the way the marketplace builds it, not the way mkpd
 * reads it: values are percent-encoded (so '+' travels as %2B), and the
 * authToken is computed over the plain values. mkpd decoding the query
 * back is what the integration tests check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sim_v1.h"
#include "common/json.h"
#include "common/util.h"
#include "crypto/fieldcrypt.h"
#include "crypto/random.h"
#include "crypto/sign.h"

#define SIM_V1_MAX	64

struct kv {
	char	*name;
	char	*value;
};

static int
kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->name, ((const struct kv *)b)->name);
}

/* Adds or replaces name. */
static bool
kv_set(struct kv *kv, size_t *n, const char *name, size_t nlen, const char *value)
{
	size_t	i;

	for (i = 0; i < *n; i++) {
		if (strlen(kv[i].name) == nlen && strncmp(kv[i].name, name, nlen) == 0) {
			free(kv[i].value);
			kv[i].value = xstrdup(value);
			return true;
		}
	}
	if (*n == SIM_V1_MAX) {
		fprintf(stderr, "mkp-sim call: more than %d parameters\n", SIM_V1_MAX);
		return false;
	}
	kv[*n].name = xstrndup(name, nlen);
	kv[*n].value = xstrdup(value);
	(*n)++;
	return true;
}

static void
put_param(struct buf *out, const char *name, const char *value)
{
	if (out->len > 0)
		buf_putc(out, '&');
	buf_put_pct(out, name);
	buf_putc(out, '=');
	buf_put_pct(out, value);
}

bool
sim_v1_query(const struct sim_v1_opts *o, int n, char **args, struct buf *out)
{
	struct kv	 kv[SIM_V1_MAX];
	struct buf	 canon = BUF_INIT;
	char		 ts[18], id[37], token[SIGN_B64_LEN + 1] = "";
	const char	*activity = NULL;
	size_t		 nkv = 0, i;
	int		 a = 0;
	bool		 ok = false;

	if (a < n && strchr(args[a], '=') == NULL)
		activity = args[a++];
	if (activity == NULL) {
		fprintf(stderr, "mkp-sim call: no ACTIVITY given\n");
		return false;
	}
	if (!kv_set(kv, &nkv, "activity", 8, activity))
		goto out;
	for (; a < n; a++) {
		const char *eq = strchr(args[a], '=');

		if (eq == NULL || eq == args[a] || eq[-1] == ':') {
			fprintf(stderr, "mkp-sim call: --v1 takes name=value fields only: %s\n",
			    args[a]);
			goto out;
		}
		if (!kv_set(kv, &nkv, args[a], (size_t)(eq - args[a]), eq + 1))
			goto out;
	}
	if (o->test && !kv_set(kv, &nkv, "testFlag", 8, "1"))
		goto out;
	if (strcmp(activity, "newInstance") == 0) {
		for (i = 0; i < nkv && strcmp(kv[i].name, "businessId") != 0; i++)
			;
		if (i == nkv) {
			rand_uuid(id);
			if (!kv_set(kv, &nkv, "businessId", 10, id))
				goto out;
		}
	}
	fmt_mkp_time(o->time_ms, ts);
	if (!kv_set(kv, &nkv, "timeStamp", 9, ts))
		goto out;
	qsort(kv, nkv, sizeof(kv[0]), kv_cmp);
	for (i = 0; i < nkv; i++)
		buf_printf(&canon, "%s%s=%s", i ? "&" : "", kv[i].name, kv[i].value);
	if (o->key != NULL) {
		sign_v1_token(o->key, ts, buf_cstr(&canon), canon.len, token);
		if (o->bad_token)
			token[0] = token[0] == 'A' ? 'B' : 'A';
	}
	for (i = 0; i < nkv; i++)
		if (!o->no_timestamp || strcmp(kv[i].name, "timeStamp") != 0)
			put_param(out, kv[i].name, kv[i].value);
	if (o->key != NULL && !o->no_token)
		put_param(out, "authToken", token);
	ok = true;
out:
	for (i = 0; i < nkv; i++) {
		free(kv[i].name);
		free(kv[i].value);
	}
	buf_free(&canon);
	return ok;
}

static bool
show_one(const char *key, enum encrypt_type type, const char *instance_id,
    const struct json *app)
{
	static const char *const names[] = { "userName", "password" };
	struct buf	 line = BUF_INIT, plain = BUF_INIT;
	struct jw	 w;
	size_t		 i;
	bool		 ok = true;

	jw_init(&w, &line);
	jw_obj_begin(&w);
	if (instance_id != NULL)
		jw_kv_str(&w, "instanceId", instance_id);
	for (i = 0; i < NELEM(names); i++) {
		const char *enc = json_get_str(app, names[i]);

		if (enc == NULL)
			continue;
		jw_key(&w, names[i]);
		buf_reset(&plain);
		if (field_decrypt(key, type, enc, &plain)) {
			jw_strn(&w, buf_cstr(&plain), plain.len);
		} else {
			jw_null(&w);
			ok = false;
		}
	}
	jw_obj_end(&w);
	fprintf(stderr, "appinfo: %s\n", buf_cstr(&line));
	buf_free(&line);
	buf_free(&plain);
	return ok;
}

bool
sim_v1_show_app_info(const char *key, const char *answer, size_t len)
{
	struct json		*v;
	const struct json	*app, *info;
	const char		*type_s;
	char			 err[128];
	int64_t			 type;
	size_t			 i;
	bool			 ok = true;

	v = json_parse(answer, len, 64, err, sizeof(err));
	if (v == NULL || key == NULL || (type_s = json_get_str(v, "encryptType")) == NULL) {
		json_free(v);
		return true;
	}
	if (!parse_i64(type_s, 1, 2, &type)) {
		fprintf(stderr, "mkp-sim call: encryptType %s is neither 1 nor 2\n", type_s);
		json_free(v);
		return false;
	}
	if ((app = json_get(v, "appInfo")) != NULL && app->type == JSON_OBJECT)
		ok = show_one(key, (enum encrypt_type)type, json_get_str(v, "instanceId"), app);
	info = json_get(v, "info");
	if (info != NULL && info->type == JSON_ARRAY) {
		for (i = 0; i < info->u.arr.n; i++) {
			const struct json *item = info->u.arr.items[i];

			app = json_get(item, "appInfo");
			if (app != NULL && app->type == JSON_OBJECT &&
			    !show_one(key, (enum encrypt_type)type,
			    json_get_str(item, "instanceId"), app))
				ok = false;
		}
	}
	json_free(v);
	return ok;
}

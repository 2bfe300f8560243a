/*
 * ctl_out.c: the output every mkpctl verb shares (ctl.h): PostgreSQL
 * results as aligned tables for people and as JSON for programs, so that
 * every verb prints the same way and a new verb is only its SQL.
 */
#include "config.h"

#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "cli/ctl.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"

/* Type OIDs of pg_type.dat (stable across PostgreSQL versions). */
#define OID_BOOL	16
#define OID_INT8	20
#define OID_INT2	21
#define OID_INT4	23
#define OID_JSON	114
#define OID_FLOAT4	700
#define OID_FLOAT8	701
#define OID_NUMERIC	1700
#define OID_JSONB	3802

bool
ctl_config(struct ctl *c)
{
	char	err[512];

	if (c->cfg != NULL)
		return true;
	if ((c->cfg = config_load(c->conf_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mkpctl: %s\n", err);
		/* The commonest cause: no file there at all. Say how to name it. */
		if (access(c->conf_path, F_OK) != 0)
			fprintf(stderr, "mkpctl: no config at %s: name one with -c FILE or "
			    "the MKPD_CONF environment variable\n", c->conf_path);
		return false;
	}
	return true;
}

PGresult *
ctl_query(struct ctl *c, const char *sql, int nparams, const char *const *params)
{
	PGresult	*res;

	res = PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "mkpctl: %s", PQerrorMessage(c->conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

int
ctl_list(struct ctl *c, const char *sql, int nparams, const char *const *params)
{
	PGresult	*res;

	if ((res = ctl_query(c, sql, nparams, params)) == NULL)
		return 1;
	ctl_print(stdout, res, c->json);
	PQclear(res);
	return 0;
}

int
ctl_show(struct ctl *c, const char *sql, int nparams, const char *const *params,
    const char *what)
{
	PGresult	*res;

	if ((res = ctl_query(c, sql, nparams, params)) == NULL)
		return 1;
	if (PQntuples(res) == 0) {
		fprintf(stderr, "mkpctl: no %s %s\n", what, params[0]);
		PQclear(res);
		return 1;
	}
	ctl_print_row(stdout, res, c->json);
	PQclear(res);
	return 0;
}

void
ctl_json_row(struct jw *w, const PGresult *res, int i)
{
	int	f;

	jw_obj_begin(w);
	for (f = 0; f < PQnfields(res); f++) {
		const char	*v = PQgetvalue(res, i, f);

		jw_key(w, PQfname(res, f));
		if (PQgetisnull(res, i, f)) {
			jw_null(w);
			continue;
		}
		switch (PQftype(res, f)) {
		case OID_BOOL:
			jw_raw(w, v[0] == 't' ? "true" : "false");
			break;
		case OID_INT2:
		case OID_INT4:
		case OID_INT8:
		case OID_FLOAT4:
		case OID_FLOAT8:
		case OID_NUMERIC:
		case OID_JSON:
		case OID_JSONB:
			jw_raw(w, v);
			break;
		default:
			jw_str(w, v);
			break;
		}
	}
	jw_obj_end(w);
}

/*
 * Columns UTF-8 text takes on a terminal: wcwidth() of each character in
 * a UTF-8 locale (C.UTF-8, whatever the user's), so a Chinese name counts
 * two columns per character and a combining mark none. A byte that does
 * not decode, or a character wcwidth() does not know, counts one.
 */
static size_t
text_width(const char *s)
{
	static locale_t	 utf8;
	static bool	 tried;
	const unsigned char *p = (const unsigned char *)s;
	locale_t	 old = (locale_t)0;
	size_t		 n = 0;

	if (!tried) {
		tried = true;
		utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	if (utf8 != (locale_t)0)
		old = uselocale(utf8);
	while (*p != '\0') {
		uint32_t	cp;
		int		len, k, w;

		len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
		    (*p & 0xf8) == 0xf0 ? 4 : 0;
		cp = len == 1 ? *p : len == 2 ? *p & 0x1f : len == 3 ? *p & 0x0f : *p & 0x07;
		for (k = 1; k < len; k++) {
			if ((p[k] & 0xc0) != 0x80)
				break;
			cp = (cp << 6) | (p[k] & 0x3f);
		}
		if (len == 0 || k < len) {
			n++;		/* not UTF-8: one byte, one column */
			p++;
			continue;
		}
		w = utf8 != (locale_t)0 ? wcwidth((wchar_t)cp) : 1;
		n += w >= 0 ? (size_t)w : 1;
		p += len;
	}
	if (utf8 != (locale_t)0)
		uselocale(old);
	return n;
}

static const char *
cell(const PGresult *res, int i, int f)
{
	if (PQgetisnull(res, i, f))
		return "-";
	if (PQftype(res, f) == OID_BOOL)
		return PQgetvalue(res, i, f)[0] == 't' ? "yes" : "no";
	return PQgetvalue(res, i, f);
}

static void
pad(FILE *fp, const char *s, size_t width, bool last)
{
	size_t	w = text_width(s);

	fputs(s, fp);
	if (last)
		return;
	for (; w < width + 2; w++)
		fputc(' ', fp);
}

void
ctl_print(FILE *fp, const PGresult *res, bool json)
{
	struct buf	 b = BUF_INIT;
	struct jw	 w;
	size_t		*width;
	char		 head[64];
	int		 i, f, nf = PQnfields(res), n = PQntuples(res);

	if (json) {
		jw_init(&w, &b);
		jw_arr_begin(&w);
		for (i = 0; i < n; i++)
			ctl_json_row(&w, res, i);
		jw_arr_end(&w);
		fprintf(fp, "%s\n", buf_cstr(&b));
		buf_free(&b);
		return;
	}
	width = xcalloc((size_t)nf + 1, sizeof(*width));
	for (f = 0; f < nf; f++) {
		width[f] = text_width(PQfname(res, f));
		for (i = 0; i < n; i++) {
			size_t	cw = text_width(cell(res, i, f));

			if (cw > width[f])
				width[f] = cw;
		}
	}
	for (f = 0; f < nf; f++) {
		size_t	k;

		snprintf(head, sizeof(head), "%s", PQfname(res, f));
		for (k = 0; head[k] != '\0'; k++)
			if (head[k] >= 'a' && head[k] <= 'z')
				head[k] = (char)(head[k] - 'a' + 'A');
		pad(fp, head, width[f], f == nf - 1);
	}
	fputc('\n', fp);
	for (i = 0; i < n; i++) {
		for (f = 0; f < nf; f++)
			pad(fp, cell(res, i, f), width[f], f == nf - 1);
		fputc('\n', fp);
	}
	free(width);
}

void
ctl_print_row(FILE *fp, const PGresult *res, bool json)
{
	struct buf	 b = BUF_INIT;
	struct jw	 w;
	size_t		 width = 0, cw;
	int		 f;

	if (json) {
		jw_init(&w, &b);
		ctl_json_row(&w, res, 0);
		fprintf(fp, "%s\n", buf_cstr(&b));
		buf_free(&b);
		return;
	}
	for (f = 0; f < PQnfields(res); f++)
		if ((cw = text_width(PQfname(res, f))) > width)
			width = cw;
	for (f = 0; f < PQnfields(res); f++) {
		fprintf(fp, "%s:", PQfname(res, f));
		for (cw = text_width(PQfname(res, f)); cw < width + 1; cw++)
			fputc(' ', fp);
		fprintf(fp, "%s\n", cell(res, 0, f));
	}
}

bool
ctl_parse_duration(const char *s, int64_t *secs)
{
	static const struct { char unit; int64_t mult; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char	 num[32];
	size_t	 n = strlen(s), i;
	int64_t	 v;

	if (n == 0 || n >= sizeof(num))
		return false;
	if (parse_i64(s, 0, INT64_MAX / 86400, secs))
		return true;
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	for (i = 0; i < NELEM(units); i++) {
		if (s[n - 1] == units[i].unit && parse_i64(num, 0, INT64_MAX / 86400, &v)) {
			*secs = v * units[i].mult;
			return true;
		}
	}
	return false;
}

/*
 * status_fmt.c: the status serialisers (see status_fmt.h).
 *
 * Every format is written from the same two tables below: st_figures
 * (pool-wide figures) and, with full, the worker fields. A figure added
 * to the table appears in every format, which is how the limits came to
 * be in all four.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "pool/status_fmt.h"

enum fig_kind {
	FIG_COUNTER,		/* only goes up */
	FIG_GAUGE,
	FIG_TIME,		/* epoch ms, 0 = never */
};

struct figure {
	const char	*text;		/* plain text and HTML label */
	const char	*key;		/* JSON key; OpenMetrics name after mkpd_ */
	enum fig_kind	 kind;
	const char	*help;
	int64_t		 value;
	const char	*unit;		/* text and HTML: after the value; NULL none */
	const char	*zero;		/* FIG_TIME: what 0 means; NULL "never" */
};

/* The pool-wide figures, in the order every format prints them. */
static size_t
st_figures(const struct pool_status *st, struct figure *f)
{
	size_t	n = 0;

#define FIG_U(t, k, kind, h, v, u, z) \
	f[n++] = (struct figure){ t, k, kind, h, (int64_t)(v), u, z }
#define FIG(t, k, kind, h, v)	FIG_U(t, k, kind, h, v, NULL, NULL)
	bool	dynamic = st->pm != NULL && strcmp(st->pm, "dynamic") == 0;

	FIG("start time", "start_time", FIG_TIME, "When the master started.", st->start_wall);
	FIG_U("start since", "start_since_seconds", FIG_GAUGE, "Seconds since the master started.",
	    (st->now_wall - st->start_wall) / 1000, "s", NULL);
	FIG("generation", "generation", FIG_GAUGE, "Configuration generation (1 + reloads).",
	    st->generation);
	FIG("accepted conn", "accepted_conn", FIG_COUNTER, "Connections accepted by workers.",
	    st->accepted);
	FIG("listen queue", "listen_queue", FIG_GAUGE,
	    "Connections waiting in the listen backlog.", st->listen_queue);
	FIG("max listen queue", "max_listen_queue", FIG_GAUGE,
	    "Highest listen queue seen since start.", st->listen_queue_max);
	FIG("listen queue len", "listen_queue_len", FIG_GAUGE,
	    "Size of the listen backlog.", st->listen_queue_len);
	FIG("idle processes", "idle_processes", FIG_GAUGE, "Workers waiting for a request.",
	    st->idle);
	FIG("active processes", "active_processes", FIG_GAUGE, "Workers serving a request.",
	    st->active);
	FIG("total processes", "total_processes", FIG_GAUGE, "Live workers.", st->total);
	FIG("max active processes", "max_active_processes", FIG_GAUGE,
	    "Most workers busy at once since start.", st->max_active);
	FIG("max children reached", "max_children_reached", FIG_COUNTER,
	    "Times every worker was busy at max_children.", st->max_children_reached);
	FIG("last max children reached", "last_max_children_reached", FIG_TIME,
	    "When max_children was last reached.", st->reached_last_wall);
	FIG("listen queue when reached", "listen_queue_when_reached", FIG_GAUGE,
	    "The listen queue when max_children was last reached.", st->reached_last_queue);
	FIG("slow requests", "slow_requests", FIG_COUNTER,
	    "Requests that ran past request_slowlog_timeout.", st->slow_requests);
	FIG("terminated requests", "terminated_requests", FIG_COUNTER,
	    "Requests ended by request_terminate_timeout.", st->terminated);
	FIG("max children", "max_children", FIG_GAUGE, "[pool] max_children.", st->max_children);
	/* The spare bounds only mean something to pm = dynamic. */
	if (dynamic) {
		FIG("start servers", "start_servers", FIG_GAUGE, "[pool] start_servers.",
		    st->start_servers);
		FIG("min spare servers", "min_spare_servers", FIG_GAUGE,
		    "[pool] min_spare_servers.", st->min_spare);
		FIG("max spare servers", "max_spare_servers", FIG_GAUGE,
		    "[pool] max_spare_servers.", st->max_spare);
	}
	FIG("max requests", "max_requests", FIG_GAUGE, "[pool] max_requests (0 = never).",
	    st->max_requests);
	FIG("store up", "store_up", FIG_GAUGE,
	    "1 when the store (PostgreSQL) answered the last query, 0 when it did not.",
	    st->store_up);
	FIG_U("store down since", "store_down_since", FIG_TIME,
	    "Since when the store has not answered (0: it answers).",
	    st->store_down_since_wall, NULL, "-");
	FIG("jobs backlog", "jobs_backlog", FIG_GAUGE, "Jobs due or waiting (-1: unknown).",
	    st->jobs_backlog);
	FIG("usage records pending", "usage_records_pending", FIG_GAUGE,
	    "Usage records not yet accepted by the marketplace (-1: unknown).",
	    st->usage_pending);
	FIG("usage records at risk", "usage_records_at_risk", FIG_GAUGE,
	    "Usage records failed or undelivered an hour after their hour (-1: unknown).",
	    st->usage_at_risk);
	FIG("packages low", "packages_low", FIG_GAUGE,
	    "Packages past a [packages] thresholds warning (-1: unknown).", st->packages_low);
	FIG("packages used up", "packages_used_up", FIG_GAUGE,
	    "Packages whose quota is used up (-1: unknown).", st->packages_used_up);
	FIG("last usage push", "last_usage_push", FIG_TIME,
	    "When usage was last pushed (-1: unknown).", st->usage_last_push_wall);
	FIG("usage records failed", "usage_records_failed", FIG_GAUGE,
	    "Usage records the marketplace refused, waiting for a retry (-1: unknown).",
	    st->usage_failed);
	FIG_U("oldest failed usage record", "oldest_failed_usage_record", FIG_TIME,
	    "End of the hour of the oldest failed usage record (0: none, -1: unknown).",
	    st->usage_failed_oldest_wall, NULL, "none");
	FIG("synchronous standbys", "synchronous_standbys", FIG_GAUGE,
	    "Standbys streaming as sync or quorum (-1: unknown).", st->sync_standbys);
	FIG("synchronous commit", "synchronous_commit", FIG_GAUGE,
	    "1: a commit waits for a synchronous standby; 0: it does not (-1: unknown).",
	    st->sync_commit);
	FIG("store processes", "store_processes", FIG_GAUGE,
	    "Workers between requests, sending deferred work to the store.", st->store_waits);
	FIG("spool bytes", "spool_bytes", FIG_GAUGE,
	    "Audit rows kept in the local spool until the store takes them (bytes).",
	    st->spool_bytes);
#undef FIG
#undef FIG_U
	return n;
}

#define ST_MAX_FIGURES	40

static void
fmt_time(int64_t ms, char out[32])
{
	if (ms == 0)
		strcpy(out, "never");
	else if (ms < 0)
		strcpy(out, "unknown");
	else
		fmt_time_iso(ms, out);
}

void
status_query(const char *q, enum status_format *fmt, bool *full)
{
	static const struct {
		const char		*name;
		enum status_format	 fmt;
	} names[] = {
		{ "json", STATUS_JSON },
		{ "openmetrics", STATUS_OPENMETRICS },
		{ "html", STATUS_HTML },
		{ "text", STATUS_TEXT },
	};
	const char	*p = q, *end;
	size_t		 n, i;

	*fmt = STATUS_TEXT;
	*full = false;
	while (p != NULL && *p != '\0') {
		end = strchr(p, '&');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		/* "name" or "name=value": the name decides. */
		for (i = 0; i < n && p[i] != '='; i++)
			;
		if (i == 4 && strncmp(p, "full", 4) == 0)
			*full = true;
		for (size_t k = 0; k < NELEM(names); k++)
			if (strlen(names[k].name) == i && strncmp(p, names[k].name, i) == 0)
				*fmt = names[k].fmt;
		p = end != NULL ? end + 1 : NULL;
	}
}

const char *
status_content_type(enum status_format fmt)
{
	switch (fmt) {
	case STATUS_JSON:
		return "application/json";
	case STATUS_OPENMETRICS:
		return "application/openmetrics-text; version=1.0.0; charset=utf-8";
	case STATUS_HTML:
		return "text/html; charset=utf-8";
	case STATUS_TEXT:
		break;
	}
	return "text/plain; charset=utf-8";
}

/* ---- plain text ------------------------------------------------------- */

/* A figure's value as text and HTML show it: its unit, times in ISO 8601. */
static void
fig_value(const struct figure *f, char out[40])
{
	if (f->kind == FIG_TIME && f->value == 0 && f->zero != NULL)
		snprintf(out, 40, "%s", f->zero);
	else if (f->kind == FIG_TIME)
		fmt_time(f->value, out);
	else if (f->unit != NULL && f->value >= 0)
		snprintf(out, 40, "%" PRId64 " %s", f->value, f->unit);
	else
		snprintf(out, 40, "%" PRId64, f->value);
}

/* "up", "down since T", "unknown (not asked yet)". */
static void
store_state(const struct pool_status *st, struct buf *out)
{
	char	t[32];

	if (st->store_up == 1) {
		buf_puts(out, "up");
	} else if (st->store_up == 0) {
		fmt_time(st->store_down_since_wall, t);
		buf_printf(out, "down since %s", t);
	} else {
		buf_puts(out, "unknown (not asked yet)");
	}
}

static void
store_error(const struct pool_status *st, struct buf *out)
{
	char	t[32];

	if (st->store_error == NULL || st->store_error[0] == '\0') {
		buf_puts(out, "-");
		return;
	}
	fmt_time(st->store_error_wall, t);
	buf_printf(out, "%s: %s", t, st->store_error);
}

static void
render_text(const struct pool_status *st, const struct figure *f, size_t nf, struct buf *out)
{
	char	t[40];
	size_t	i;

	buf_printf(out, "%-28s%s\n", "pool:", st->pool);
	buf_printf(out, "%-28s%s\n", "version:", st->version);
	buf_printf(out, "%-28s%s\n", "host:", st->host != NULL ? st->host : "-");
	buf_printf(out, "%-28s", "store:");
	store_state(st, out);
	buf_printf(out, "\n%-28s", "store last error:");
	store_error(st, out);
	buf_putc(out, '\n');
	for (i = 0; i < nf; i++) {
		char	label[40];

		snprintf(label, sizeof(label), "%s:", f[i].text);
		fig_value(&f[i], t);
		buf_printf(out, "%-28s%s\n", label, t);
		if (strcmp(f[i].key, "max_children") == 0)
			buf_printf(out, "%-28s%s\n", "pm:", st->pm);
	}
	if (!st->full)
		return;
	for (i = 0; i < st->nworkers; i++) {
		const struct status_worker *w = &st->workers[i];

		fmt_time(w->started_wall, t);
		buf_puts(out, "\n************************\n");
		buf_printf(out, "%-28s%d\n", "slot:", w->slot);
		buf_printf(out, "%-28s%d\n", "pid:", (int)w->pid);
		buf_printf(out, "%-28s%s\n", "state:", w->state);
		buf_printf(out, "%-28s%u\n", "generation:", w->generation);
		buf_printf(out, "%-28s%s\n", "start time:", t);
		buf_printf(out, "%-28s%" PRIu64 "\n", "requests:", w->requests);
		if (w->request_ms >= 0)
			buf_printf(out, "%-28s%" PRId64 " ms\n", "request duration:", w->request_ms);
		else
			buf_printf(out, "%-28s-\n", "request duration:");
		buf_printf(out, "%-28s%" PRId64 " ms\n", "last request duration:",
		    w->last_request_ms);
		buf_printf(out, "%-28s%s\n", "dialect:", w->dialect[0] ? w->dialect : "-");
		buf_printf(out, "%-28s%s\n", "activity:", w->activity[0] ? w->activity : "-");
		buf_printf(out, "%-28s%s\n", "ids:", w->ids[0] ? w->ids : "-");
		buf_printf(out, "%-28s%s\n", "remote:", w->remote[0] ? w->remote : "-");
		if (w->rss_kb >= 0)
			buf_printf(out, "%-28s%" PRId64 " kB\n", "rss:", w->rss_kb);
		else
			buf_printf(out, "%-28sunknown\n", "rss:");
	}
}

/* ---- JSON ------------------------------------------------------------- */

static void
render_json(const struct pool_status *st, const struct figure *f, size_t nf, struct buf *out)
{
	struct jw	w;
	size_t		i;

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kv_str(&w, "pool", st->pool);
	jw_kv_str(&w, "version", st->version);
	jw_kv_str(&w, "host", st->host != NULL ? st->host : "");
	jw_kv_str(&w, "pm", st->pm);
	jw_kv_str(&w, "store_last_error", st->store_error != NULL ? st->store_error : "");
	jw_key(&w, "store_last_error_time");
	jw_int(&w, st->store_error_wall);
	for (i = 0; i < nf; i++) {
		jw_key(&w, f[i].key);
		/* Times as epoch ms, like the rest of the product's JSON. */
		jw_int(&w, f[i].value);
	}
	if (st->full) {
		jw_key(&w, "workers");
		jw_arr_begin(&w);
		for (i = 0; i < st->nworkers; i++) {
			const struct status_worker *k = &st->workers[i];

			jw_obj_begin(&w);
			jw_key(&w, "slot");
			jw_int(&w, k->slot);
			jw_key(&w, "pid");
			jw_int(&w, k->pid);
			jw_kv_str(&w, "state", k->state);
			jw_key(&w, "generation");
			jw_int(&w, k->generation);
			jw_key(&w, "start_time");
			jw_int(&w, k->started_wall);
			jw_key(&w, "requests");
			jw_int(&w, (long long)k->requests);
			jw_key(&w, "request_duration_ms");
			if (k->request_ms >= 0)
				jw_int(&w, k->request_ms);
			else
				jw_null(&w);
			jw_key(&w, "last_request_duration_ms");
			jw_int(&w, k->last_request_ms);
			jw_kv_str(&w, "dialect", k->dialect);
			jw_kv_str(&w, "activity", k->activity);
			jw_kv_str(&w, "ids", k->ids);
			jw_kv_str(&w, "remote", k->remote);
			jw_key(&w, "rss_kb");
			jw_int(&w, k->rss_kb);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
	}
	jw_obj_end(&w);
	buf_putc(out, '\n');
}

/* ---- OpenMetrics ------------------------------------------------------ */

/* A label value: backslash, double quote and newline escaped. */
static void
om_label(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			buf_putc(out, '\\');
		if (*s == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *s);
	}
}

static void
om_family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# TYPE mkpd_%s %s\n# HELP mkpd_%s %s\n", name, type, name, help);
}

static void
render_om(const struct pool_status *st, const struct figure *f, size_t nf, struct buf *out)
{
	size_t	i;

	om_family(out, "info", "info", "The pool and its process manager.");
	buf_puts(out, "mkpd_info_info{pool=\"");
	om_label(out, st->pool);
	buf_puts(out, "\",version=\"");
	om_label(out, st->version);
	buf_puts(out, "\",pm=\"");
	om_label(out, st->pm);
	buf_puts(out, "\",host=\"");
	om_label(out, st->host != NULL ? st->host : "");
	buf_puts(out, "\"} 1\n");
	for (i = 0; i < nf; i++) {
		if (f[i].kind == FIG_TIME) {
			/* Seconds, as OpenMetrics wants; -1 unknown, 0 never. */
			om_family(out, f[i].key, "gauge", f[i].help);
			buf_printf(out, "mkpd_%s %.3f\n", f[i].key, f[i].value > 0 ?
			    (double)f[i].value / 1000.0 : (double)f[i].value);
		} else {
			om_family(out, f[i].key, f[i].kind == FIG_COUNTER ? "counter" : "gauge",
			    f[i].help);
			buf_printf(out, "mkpd_%s%s %" PRId64 "\n", f[i].key,
			    f[i].kind == FIG_COUNTER ? "_total" : "", f[i].value);
		}
	}
	if (st->full) {
		static const char *const fam[][3] = {
			{ "worker_requests", "counter", "Requests a worker completed." },
			{ "worker_request_duration_seconds", "gauge",
			    "Age of the request a worker is serving (0: idle)." },
			{ "worker_rss_bytes", "gauge", "Resident memory of a worker." },
		};
		size_t	k;

		for (k = 0; k < NELEM(fam); k++) {
			om_family(out, fam[k][0], fam[k][1], fam[k][2]);
			for (i = 0; i < st->nworkers; i++) {
				const struct status_worker *w = &st->workers[i];

				buf_printf(out, "mkpd_%s%s{slot=\"%d\",pid=\"%d\",state=\"",
				    fam[k][0], k == 0 ? "_total" : "", w->slot, (int)w->pid);
				om_label(out, w->state);
				buf_puts(out, "\",activity=\"");
				om_label(out, w->activity);
				buf_puts(out, "\"} ");
				if (k == 0)
					buf_printf(out, "%" PRIu64 "\n", w->requests);
				else if (k == 1)
					buf_printf(out, "%.3f\n", w->request_ms > 0 ?
					    (double)w->request_ms / 1000.0 : 0.0);
				else
					buf_printf(out, "%" PRId64 "\n", w->rss_kb >= 0 ?
					    w->rss_kb * 1024 : -1);
			}
		}
	}
	buf_puts(out, "# EOF\n");
}

/* ---- HTML ------------------------------------------------------------- */

static void
html_esc(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<':
			buf_puts(out, "&lt;");
			break;
		case '>':
			buf_puts(out, "&gt;");
			break;
		case '&':
			buf_puts(out, "&amp;");
			break;
		case '"':
			buf_puts(out, "&quot;");
			break;
		default:
			buf_putc(out, *s);
		}
	}
}

static void
html_td(struct buf *out, const char *s)
{
	buf_puts(out, "<td>");
	html_esc(out, s[0] ? s : "-");
	buf_puts(out, "</td>");
}

static void
render_html(const struct pool_status *st, const struct figure *f, size_t nf, struct buf *out)
{
	struct buf	 b = BUF_INIT;
	char		 t[40];
	size_t		 i;

	buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"refresh\" content=\"5\"><title>");
	html_esc(out, st->pool);
	buf_puts(out, " status</title><style>body{font-family:sans-serif}"
	    "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
	    "th{text-align:left;background:#eee}tr.busy{background:#fec}</style></head>\n"
	    "<body><h1>");
	html_esc(out, st->pool);
	buf_puts(out, " ");
	html_esc(out, st->version);
	buf_puts(out, " on ");
	html_esc(out, st->host != NULL ? st->host : "-");
	buf_puts(out, "</h1>\n<table id=\"pool\">\n<tr><th>pm</th><td>");
	html_esc(out, st->pm);
	buf_puts(out, "</td></tr>\n<tr id=\"store\"><th>store</th><td>");
	store_state(st, &b);
	html_esc(out, buf_cstr(&b));
	buf_puts(out, "</td></tr>\n<tr id=\"store_last_error\"><th>store last error</th><td>");
	buf_reset(&b);
	store_error(st, &b);
	html_esc(out, buf_cstr(&b));
	buf_free(&b);
	buf_puts(out, "</td></tr>\n");
	for (i = 0; i < nf; i++) {
		buf_printf(out, "<tr id=\"%s\"><th>", f[i].key);
		html_esc(out, f[i].text);
		fig_value(&f[i], t);
		buf_puts(out, "</th><td>");
		html_esc(out, t);
		buf_puts(out, "</td></tr>\n");
	}
	buf_puts(out, "</table>\n");
	if (st->full) {
		buf_puts(out, "<h2>Workers</h2>\n<table id=\"workers\">\n<tr><th>slot</th>"
		    "<th>pid</th><th>state</th><th>generation</th><th>requests</th>"
		    "<th>request ms</th><th>last request ms</th><th>dialect</th>"
		    "<th>activity</th><th>ids</th><th>remote</th><th>rss kB</th></tr>\n");
		for (i = 0; i < st->nworkers; i++) {
			const struct status_worker *w = &st->workers[i];

			buf_printf(out, "<tr class=\"");
			html_esc(out, w->state);
			buf_printf(out, "\"><td>%d</td><td>%d</td>", w->slot, (int)w->pid);
			html_td(out, w->state);
			buf_printf(out, "<td>%u</td><td>%" PRIu64 "</td>", w->generation,
			    w->requests);
			if (w->request_ms >= 0)
				buf_printf(out, "<td>%" PRId64 "</td>", w->request_ms);
			else
				buf_puts(out, "<td>-</td>");
			buf_printf(out, "<td>%" PRId64 "</td>", w->last_request_ms);
			html_td(out, w->dialect);
			html_td(out, w->activity);
			html_td(out, w->ids);
			html_td(out, w->remote);
			buf_printf(out, "<td>%" PRId64 "</td></tr>\n", w->rss_kb);
		}
		buf_puts(out, "</table>\n");
	}
	buf_puts(out, "</body></html>\n");
}

void
status_render(const struct pool_status *st, enum status_format fmt, struct buf *out)
{
	struct figure	f[ST_MAX_FIGURES];
	size_t		nf = st_figures(st, f);

	switch (fmt) {
	case STATUS_TEXT:
		render_text(st, f, nf, out);
		break;
	case STATUS_JSON:
		render_json(st, f, nf, out);
		break;
	case STATUS_OPENMETRICS:
		render_om(st, f, nf, out);
		break;
	case STATUS_HTML:
		render_html(st, f, nf, out);
		break;
	}
}

/*
 * check_status_fmt.c: the status page's query parsing and its four
 * serialisers, from one fixed struct pool_status.
 */
#include <check.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "pool/status_fmt.h"
#include "unit.h"

static const struct {
	const char		*q;
	enum status_format	 fmt;
	bool			 full;
} query_cases[] = {
	{ "", STATUS_TEXT, false },
	{ "json", STATUS_JSON, false },
	{ "json&full", STATUS_JSON, true },
	{ "full&html", STATUS_HTML, true },
	{ "openmetrics", STATUS_OPENMETRICS, false },
	{ "full=1&json=", STATUS_JSON, true },
	{ "jsonx&fullness", STATUS_TEXT, false },
	{ "xml", STATUS_TEXT, false },
	{ "html&text", STATUS_TEXT, false },
	{ "&&full&", STATUS_TEXT, true },
};

START_TEST(test_query)
{
	enum status_format	fmt = STATUS_HTML;
	bool			full = !query_cases[_i].full;

	status_query(query_cases[_i].q, &fmt, &full);
	ck_assert_msg(fmt == query_cases[_i].fmt, "case %d (%s)", _i, query_cases[_i].q);
	ck_assert_msg(full == query_cases[_i].full, "case %d (%s)", _i, query_cases[_i].q);
}
END_TEST

static const struct status_worker workers[] = {
	{ 0, 101, "busy", 3, 7, 1700000000000, 1234, 15, 5000, "v2", "updateInstanceStatus",
	  "i-1//", "127.0.0.1" },
	{ 1, 102, "idle", 3, 9, 1700000000000, -1, 20, -1, "", "", "", "" },
	{ 2, 103, "busy", 3, 1, 1700000000000, 5, 0, 10, "kit-v2", "<script>\"&",
	  "a\\b\"c\nd", "::1" },
};

static void
fixture(struct pool_status *st, bool full)
{
	memset(st, 0, sizeof(*st));
	st->pool = "mkpd";
	st->version = "9.9";
	st->now_wall = 1700000100000;
	st->start_wall = 1700000000000;
	st->generation = 3;
	st->accepted = 42;
	st->listen_queue = 4;
	st->listen_queue_max = 17;
	st->listen_queue_len = 511;
	st->idle = 1;
	st->active = 2;
	st->total = 3;
	st->max_active = 3;
	st->max_children_reached = 5;
	st->reached_last_wall = 1700000050000;
	st->reached_last_queue = 9;
	st->slow_requests = 6;
	st->terminated = 1;
	st->pm = "dynamic";
	st->max_children = 8;
	st->start_servers = 2;
	st->min_spare = 1;
	st->max_spare = 3;
	st->max_requests = 10000;
	st->jobs_backlog = 12;
	st->usage_pending = STATUS_UNKNOWN;
	st->usage_at_risk = STATUS_UNKNOWN;
	st->usage_last_push_wall = 0;
	st->packages_low = 2;
	st->packages_used_up = 1;
	st->usage_failed = 2;
	st->usage_failed_oldest_wall = 1700000040000;
	st->host = "web-1";
	st->store_up = 0;
	st->store_down_since_wall = 1700000090000;
	st->store_error = "08001 cannot connect";
	st->store_error_wall = 1700000099000;
	st->sync_standbys = 1;
	st->sync_commit = 1;
	st->store_waits = 1;
	st->spool_bytes = 2048;
	st->full = full;
	st->workers = workers;
	st->nworkers = full ? 3 : 0;
}

/* Lines every rendering must hold (substrings), per format, full or not. */
static const struct {
	enum status_format	 fmt;
	bool			 full;
	const char		*want[26];
	const char		*never[4];
} render_cases[] = {
	{ STATUS_TEXT, false, {
	    "pool:                       mkpd\n",
	    "host:                       web-1\n",
	    "store:                      down since 2023-11-14T22:14:50.000Z\n",
	    "store last error:           2023-11-14T22:14:59.000Z: 08001 cannot connect\n",
	    "start since:                100 s\n",
	    "store up:                   0\n",
	    "usage records failed:       2\n",
	    "oldest failed usage record: 2023-11-14T22:14:00.000Z\n",
	    "listen queue:               4\n",
	    "max listen queue:           17\n",
	    "max children reached:       5\n",
	    "last max children reached:  2023-11-14T22:14:10.000Z\n",
	    "listen queue when reached:  9\n",
	    "max children:               8\npm:                         dynamic\n",
	    "min spare servers:          1\n",
	    "max requests:               10000\n",
	    "usage records pending:      -1\n",
	    "packages used up:           1\n",
	    "last usage push:            never\n",
	    "synchronous standbys:       1\nsynchronous commit:         1\n"
	    "store processes:            1\nspool bytes:                2048\n" },
	    { "slot:", "************" } },
	{ STATUS_TEXT, true, {
	    "\n************************\nslot:                       0\npid:"
	    "                        101\nstate:                      busy\n",
	    "request duration:           1234 ms\n",
	    "request duration:           -\n",
	    "activity:                   updateInstanceStatus\n",
	    "ids:                        i-1//\n",
	    "rss:                        5000 kB\n",
	    "rss:                        unknown\n" }, { NULL } },
	{ STATUS_JSON, false, {
	    "{\"pool\":\"mkpd\",\"version\":\"9.9\",\"host\":\"web-1\",\"pm\":\"dynamic\","
	    "\"store_last_error\":\"08001 cannot connect\","
	    "\"store_last_error_time\":1700000099000,\"start_time\":1700000000000,",
	    "\"store_up\":0,\"store_down_since\":1700000090000,",
	    "\"start_since_seconds\":100,",
	    "\"usage_records_failed\":2,\"oldest_failed_usage_record\":1700000040000,",
	    "\"max_children\":8,\"start_servers\":2,\"min_spare_servers\":1,"
	    "\"max_spare_servers\":3,\"max_requests\":10000,",
	    "\"listen_queue_when_reached\":9,",
	    "\"usage_records_pending\":-1,",
	    "\"packages_low\":2,\"packages_used_up\":1,",
	    "\"last_usage_push\":0,",
	    "\"synchronous_standbys\":1,\"synchronous_commit\":1,\"store_processes\":1,"
	    "\"spool_bytes\":2048" }, { "workers" } },
	{ STATUS_JSON, true, {
	    "\"workers\":[{\"slot\":0,\"pid\":101,\"state\":\"busy\",\"generation\":3,",
	    "\"request_duration_ms\":null,",
	    "\"activity\":\"<script>\\\"&\",\"ids\":\"a\\\\b\\\"c\\nd\"," }, { NULL } },
	{ STATUS_OPENMETRICS, false, {
	    "# TYPE mkpd_info info\n",
	    "mkpd_info_info{pool=\"mkpd\",version=\"9.9\",pm=\"dynamic\",host=\"web-1\"} 1\n",
	    "# TYPE mkpd_store_up gauge\n",
	    "mkpd_store_up 0\n",
	    "mkpd_store_down_since 1700000090.000\n",
	    "mkpd_usage_records_failed 2\n",
	    "mkpd_start_since_seconds 100\n",
	    "# TYPE mkpd_accepted_conn counter\n",
	    "mkpd_accepted_conn_total 42\n",
	    "# TYPE mkpd_max_children gauge\n# HELP mkpd_max_children [pool] max_children.\n"
	    "mkpd_max_children 8\n",
	    "mkpd_max_children_reached_total 5\n",
	    "mkpd_last_max_children_reached 1700000050.000\n",
	    "mkpd_last_usage_push 0.000\n",
	    "mkpd_usage_records_at_risk -1\n",
	    "# TYPE mkpd_packages_used_up gauge\n# HELP mkpd_packages_used_up Packages whose "
	    "quota is used up (-1: unknown).\nmkpd_packages_used_up 1\n" }, { "worker_", "_total_total" } },
	{ STATUS_OPENMETRICS, true, {
	    "mkpd_worker_requests_total{slot=\"0\",pid=\"101\",state=\"busy\","
	    "activity=\"updateInstanceStatus\"} 7\n",
	    "mkpd_worker_request_duration_seconds{slot=\"0\",pid=\"101\",state=\"busy\","
	    "activity=\"updateInstanceStatus\"} 1.234\n",
	    "mkpd_worker_rss_bytes{slot=\"1\",pid=\"102\",state=\"idle\",activity=\"\"} -1\n",
	    "activity=\"<script>\\\"&\"}",
	    "# EOF\n" }, { NULL } },
	{ STATUS_HTML, false, {
	    "<meta http-equiv=\"refresh\" content=\"5\">",
	    "<tr><th>pm</th><td>dynamic</td></tr>",
	    "<tr id=\"max_children\"><th>max children</th><td>8</td></tr>",
	    "<tr id=\"max_spare_servers\"><th>max spare servers</th><td>3</td></tr>",
	    "<tr id=\"last_usage_push\"><th>last usage push</th><td>never</td></tr>",
	    "<h1>mkpd 9.9 on web-1</h1>",
	    "<tr id=\"store\"><th>store</th><td>down since 2023-11-14T22:14:50.000Z</td></tr>",
	    "<tr id=\"start_since_seconds\"><th>start since</th><td>100 s</td></tr>",
	    "</body></html>\n" }, { "id=\"workers\"" } },
	{ STATUS_HTML, true, {
	    "<table id=\"workers\">",
	    "<tr class=\"busy\"><td>0</td><td>101</td><td>busy</td><td>3</td><td>7</td>"
	    "<td>1234</td><td>15</td><td>v2</td><td>updateInstanceStatus</td><td>i-1//</td>"
	    "<td>127.0.0.1</td><td>5000</td></tr>",
	    "<tr class=\"idle\"><td>1</td><td>102</td><td>idle</td><td>3</td><td>9</td>"
	    "<td>-</td><td>20</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-1</td></tr>",
	    "<td>&lt;script&gt;&quot;&amp;</td>" }, { "<script>" } },
};

START_TEST(test_render)
{
	struct pool_status	 st;
	struct buf		 out = BUF_INIT;
	const char		*s;
	size_t			 k;

	fixture(&st, render_cases[_i].full);
	status_render(&st, render_cases[_i].fmt, &out);
	s = buf_cstr(&out);
	for (k = 0; k < NELEM(render_cases[_i].want) && render_cases[_i].want[k]; k++)
		ck_assert_msg(strstr(s, render_cases[_i].want[k]) != NULL,
		    "case %d: missing [%s] in:\n%s", _i, render_cases[_i].want[k], s);
	for (k = 0; k < NELEM(render_cases[_i].never) && render_cases[_i].never[k]; k++)
		ck_assert_msg(strstr(s, render_cases[_i].never[k]) == NULL,
		    "case %d: unexpected [%s] in:\n%s", _i, render_cases[_i].never[k], s);
	buf_free(&out);
}
END_TEST

/* The JSON rendering parses, full or not. */
START_TEST(test_json_parses)
{
	struct pool_status	 st;
	struct buf		 out = BUF_INIT;
	struct json		*j;
	char			 err[128];

	fixture(&st, _i == 1);
	status_render(&st, STATUS_JSON, &out);
	j = json_parse(out.data, out.len, 8, err, sizeof(err));
	ck_assert_msg(j != NULL, "%s: %s", err, buf_cstr(&out));
	json_free(j);
	buf_free(&out);
}
END_TEST

/* pm = static: no spare bounds in any format; a store that answers is "up". */
START_TEST(test_static_store_up)
{
	static const enum status_format fmts[] = { STATUS_TEXT, STATUS_JSON,
	    STATUS_OPENMETRICS, STATUS_HTML };
	struct pool_status	 st;
	struct buf		 out = BUF_INIT;
	const char		*s;

	fixture(&st, false);
	st.pm = "static";
	st.store_up = 1;
	st.store_down_since_wall = 0;
	st.usage_failed = 0;
	st.usage_failed_oldest_wall = 0;
	status_render(&st, fmts[_i], &out);
	s = buf_cstr(&out);
	ck_assert_msg(strstr(s, "spare") == NULL && strstr(s, "start servers") == NULL &&
	    strstr(s, "start_servers") == NULL, "spare bounds for pm static:\n%s", s);
	if (fmts[_i] == STATUS_TEXT) {
		ck_assert_msg(strstr(s, "store:                      up\n") != NULL, "%s", s);
		ck_assert_msg(strstr(s, "store down since:           -\n") != NULL, "%s", s);
		ck_assert_msg(strstr(s, "oldest failed usage record: none\n") != NULL, "%s", s);
	}
	if (fmts[_i] == STATUS_OPENMETRICS)
		ck_assert_msg(strstr(s, "mkpd_store_up 1\n") != NULL, "%s", s);
	buf_free(&out);
}
END_TEST

START_TEST(test_content_types)
{
	ck_assert_str_eq(status_content_type(STATUS_TEXT), "text/plain; charset=utf-8");
	ck_assert_str_eq(status_content_type(STATUS_JSON), "application/json");
	ck_assert_str_eq(status_content_type(STATUS_OPENMETRICS),
	    "application/openmetrics-text; version=1.0.0; charset=utf-8");
	ck_assert_str_eq(status_content_type(STATUS_HTML), "text/html; charset=utf-8");
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("status_fmt", &tc);

	tcase_add_loop_test(tc, test_query, 0, (int)NELEM(query_cases));
	tcase_add_loop_test(tc, test_render, 0, (int)NELEM(render_cases));
	tcase_add_loop_test(tc, test_json_parses, 0, 2);
	tcase_add_loop_test(tc, test_static_store_up, 0, 4);
	tcase_add_test(tc, test_content_types);
	return unit_run(s);
}

/*
 * check_store.c: what the store layer does without a server: a multi-host
 * dsn's connection errors split one line per host, the audit spool's file
 * (append, read back in order, a torn tail, the size bound), and the
 * array literals that carry lists as one parameter.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "store/db.h"
#include "store/pg_array.h"
#include "store/spool.h"
#include "unit.h"

static const struct {
	const char	*in;
	const char	*want;	/* the lines emitted, each followed by '|' */
} err_cases[] = {
	{ "", "" },
	{ "connection to server at \"127.0.0.1\", port 5432 failed: Connection refused\n"
	  "\tIs the server running on that host and accepting TCP/IP connections?\n",
	  "connection to server at \"127.0.0.1\", port 5432 failed: Connection refused "
	  "Is the server running on that host and accepting TCP/IP connections?|" },
	{ "connection to server at \"10.0.0.1\", port 5432 failed: timeout expired\n"
	  "connection to server at \"10.0.0.2\", port 5433 failed: session is read-only\n",
	  "connection to server at \"10.0.0.1\", port 5432 failed: timeout expired|"
	  "connection to server at \"10.0.0.2\", port 5433 failed: session is read-only|" },
	{ "connection to server at \"a\", port 1 failed: Connection refused\n"
	  "\tIs the server running on that host and accepting TCP/IP connections?\n"
	  "connection to server at \"b\", port 2 failed: FATAL:  database \"x\" does not exist\n",
	  "connection to server at \"a\", port 1 failed: Connection refused Is the server "
	  "running on that host and accepting TCP/IP connections?|"
	  "connection to server at \"b\", port 2 failed: FATAL:  database \"x\" does not exist|" },
	{ "no newline at the end", "no newline at the end|" },
	{ "\n\n  \n", "" },
};

static void
collect(const char *line, void *arg)
{
	buf_printf(arg, "%s|", line);
}

START_TEST(test_conn_error_lines)
{
	struct buf	 out = BUF_INIT;

	db_conn_error_lines(err_cases[_i].in, collect, &out);
	ck_assert_msg(strcmp(buf_cstr(&out), err_cases[_i].want) == 0,
	    "case %d: got [%s]", _i, buf_cstr(&out));
	buf_free(&out);
}
END_TEST

/*
 * Array literals: what PostgreSQL's array input reads back as exactly the
 * strings given (array_in: a quoted element ends at an unescaped '"', and
 * only '\\' escapes).
 */
static const struct {
	const char	*in[4];
	size_t		 n;
	const char	*want;
} array_cases[] = {
	{ { NULL }, 0, "{}" },
	{ { NULL }, 1, "{NULL}" },
	{ { "NULL" }, 1, "{\"NULL\"}" },
	{ { "" }, 1, "{\"\"}" },
	{ { "a\"b", "\"" }, 2, "{\"a\\\"b\",\"\\\"\"}" },
	{ { "a\\b", "\\" }, 2, "{\"a\\\\b\",\"\\\\\"}" },
	{ { "a,b", "," }, 2, "{\"a,b\",\",\"}" },
	{ { "{x}", "}", "{" }, 3, "{\"{x}\",\"}\",\"{\"}" },
	{ { " a b ", "\t" }, 2, "{\" a b \",\"\t\"}" },
	{ { "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" }, 3,
	  "{\"\xc3\xa9t\xc3\xa9\",\"\xe2\x82\xac\",\"\xf0\x9f\x98\x80\"}" },
	{ { "a", NULL, "", "\\\"" }, 4, "{\"a\",NULL,\"\",\"\\\\\\\"\"}" },
};

START_TEST(test_array_text)
{
	struct buf	 out = BUF_INIT;

	pg_array_text(&out, array_cases[_i].in, array_cases[_i].n);
	ck_assert_msg(strcmp(buf_cstr(&out), array_cases[_i].want) == 0,
	    "case %d: got [%s], want [%s]", _i, buf_cstr(&out), array_cases[_i].want);
	buf_free(&out);
}
END_TEST

/* A two-dimensional array: rows separated, elements within a row. */
START_TEST(test_array_nested)
{
	struct buf	 out = BUF_INIT;

	pg_array_open(&out);
	pg_array_open(&out);
	pg_array_elem(&out, "a");
	pg_array_elem(&out, NULL);
	pg_array_close(&out);
	pg_array_open(&out);
	pg_array_elem(&out, "}{");
	pg_array_elem(&out, "");
	pg_array_close(&out);
	pg_array_close(&out);
	ck_assert_str_eq(buf_cstr(&out), "{{\"a\",NULL},{\"}{\",\"\"}}");
	buf_free(&out);
}
END_TEST

static char	 dir[256];

static void
setup(void)
{
	unit_tmpdir(dir, sizeof(dir), "check_store");
}

static void
teardown(void)
{
	unit_tmpdir_remove(dir);
}

static struct spool_rec
rec(const char *name, const char *a, const char *b)
{
	struct spool_rec	 r;

	memset(&r, 0, sizeof(r));
	r.name = (char *)name;
	r.n = 2;
	r.vals[0] = (char *)a;
	r.vals[1] = (char *)b;
	return r;
}

/* Reads every record from the replay offset; returns how many, names joined. */
static int
read_all(struct spool *s, struct buf *names)
{
	struct spool_rec r;
	int64_t		 off = 0, len;
	int		 n = 0;

	while ((len = spool_read(s, off, &r)) > 0) {
		buf_printf(names, "%s(%s,%s)", r.name, r.vals[0] != NULL ? r.vals[0] : "NULL",
		    r.vals[1] != NULL ? r.vals[1] : "NULL");
		spool_rec_free(&r);
		off += len;
		n++;
	}
	return n;
}

START_TEST(test_spool_round_trip)
{
	char		 path[512];
	struct spool	*s;
	struct spool_rec recs[3];
	struct buf	 names = BUF_INIT;
	int64_t		 len, first;
	struct spool_rec r;

	snprintf(path, sizeof(path), "%s/w.spool", dir);
	s = spool_new(path, 1 << 20);
	ck_assert_int_eq(spool_pending(s), 0);
	recs[0] = rec("audit_record", "c1", "body with\nnewline");
	recs[1] = rec("audit_record", "c2", NULL);
	ck_assert_int_eq(spool_append(s, recs, 2), SPOOL_OK);
	recs[2] = rec("audit_record", "c3", "");
	ck_assert_int_eq(spool_append(s, &recs[2], 1), SPOOL_OK);
	ck_assert_int_gt(spool_pending(s), 0);
	ck_assert_int_eq(read_all(s, &names), 3);
	ck_assert_str_eq(buf_cstr(&names),
	    "audit_record(c1,body with\nnewline)audit_record(c2,NULL)audit_record(c3,)");

	/* The first record replayed: the next read starts at the second. */
	first = spool_read(s, 0, &r);
	ck_assert_int_gt(first, 0);
	spool_rec_free(&r);
	spool_done(s, first);
	len = spool_read(s, 0, &r);
	ck_assert_int_gt(len, 0);
	ck_assert_str_eq(r.vals[0], "c2");
	spool_rec_free(&r);
	spool_free(s);

	/* Reopened (the next worker in the slot): everything is there again. */
	s = spool_new(path, 1 << 20);
	buf_reset(&names);
	ck_assert_int_eq(read_all(s, &names), 3);
	/* All replayed: the file is emptied. */
	spool_done(s, spool_pending(s));
	ck_assert_int_eq(spool_pending(s), 0);
	spool_free(s);
	s = spool_new(path, 1 << 20);
	ck_assert_int_eq(spool_pending(s), 0);
	spool_free(s);
	buf_free(&names);
}
END_TEST

START_TEST(test_spool_torn_tail)
{
	char		 path[512];
	struct spool	*s;
	struct spool_rec recs[2];
	struct buf	 names = BUF_INIT;
	int		 fd;
	int64_t		 whole;
	static const char torn[] = "MKS1\x40\x00\x00\x00\x0c\x00audit_re";

	snprintf(path, sizeof(path), "%s/w.spool", dir);
	s = spool_new(path, 1 << 20);
	recs[0] = rec("audit_record", "c1", "x");
	recs[1] = rec("audit_record", "c2", "y");
	ck_assert_int_eq(spool_append(s, recs, 2), SPOOL_OK);
	whole = spool_pending(s);
	spool_free(s);
	/* A writer killed mid-record. */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, torn, sizeof(torn) - 1), (ssize_t)sizeof(torn) - 1);
	close(fd);

	s = spool_new(path, 1 << 20);
	ck_assert_int_eq(spool_pending(s), whole);	/* the tail was cut off */
	recs[0] = rec("audit_record", "c3", "z");
	ck_assert_int_eq(spool_append(s, recs, 1), SPOOL_OK);
	ck_assert_int_eq(read_all(s, &names), 3);
	ck_assert_str_eq(buf_cstr(&names),
	    "audit_record(c1,x)audit_record(c2,y)audit_record(c3,z)");
	spool_free(s);
	buf_free(&names);
}
END_TEST

START_TEST(test_spool_full)
{
	char		 path[512], big[600];
	struct spool	*s;
	struct spool_rec r;
	int		 i, ok = 0;

	snprintf(path, sizeof(path), "%s/w.spool", dir);
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = spool_new(path, 2048);
	r = rec("audit_record", "c", big);
	for (i = 0; i < 10; i++)
		if (spool_append(s, &r, 1) == SPOOL_OK)
			ok++;
	ck_assert_int_eq(ok, 3);	/* 3 × ~640 bytes fit in 2048 */
	ck_assert_int_le(spool_pending(s), 2048);
	spool_free(s);
}
END_TEST

START_TEST(test_spool_adopt)
{
	char		 own_path[512], other_path[512];
	struct spool	*own, *other, *got;
	struct spool_rec r = rec("audit_record", "c9", "v");
	struct buf	 names = BUF_INIT;

	snprintf(own_path, sizeof(own_path), "%s/worker-0.spool", dir);
	snprintf(other_path, sizeof(other_path), "%s/worker-5.spool", dir);
	own = spool_new(own_path, 1 << 20);
	ck_assert_int_eq(spool_pending(own), 0);
	other = spool_new(other_path, 1 << 20);
	ck_assert_int_eq(spool_append(other, &r, 1), SPOOL_OK);
	/* Its worker lives (holds the lock): not adopted. */
	ck_assert_ptr_null(spool_adopt(own));
	spool_free(other);
	/* Gone: adopted, its record read back. */
	got = spool_adopt(own);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(spool_path(got), other_path);
	ck_assert_int_eq(read_all(got, &names), 1);
	ck_assert_str_eq(buf_cstr(&names), "audit_record(c9,v)");
	spool_done(got, spool_pending(got));
	spool_free(got);
	/* Empty now: nothing to adopt. */
	ck_assert_ptr_null(spool_adopt(own));
	spool_free(own);
	buf_free(&names);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("store", &tc);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_conn_error_lines, 0,
	    (int)(sizeof(err_cases) / sizeof(err_cases[0])));
	tcase_add_loop_test(tc, test_array_text, 0, (int)NELEM(array_cases));
	tcase_add_test(tc, test_array_nested);
	tcase_add_test(tc, test_spool_round_trip);
	tcase_add_test(tc, test_spool_torn_tail);
	tcase_add_test(tc, test_spool_full);
	tcase_add_test(tc, test_spool_adopt);
	return unit_run(s);
}

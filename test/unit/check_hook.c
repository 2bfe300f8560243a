/*
 * check_hook.c: the provisioning hook runner against real scripts: input
 * and output, exit status and stderr, the deadline, exec failures, and a
 * megabyte each way without deadlock.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jobs/hook.h"
#include "unit.h"

static char	dir[512];

static void
setup(void)
{
	unit_tmpdir(dir, sizeof(dir), "check_hook");
}

static void
teardown(void)
{
	unit_tmpdir_remove(dir);
}

/* Writes an executable script named name with body; returns its path. */
static const char *
script(const char *name, const char *body, mode_t mode)
{
	static char	path[700];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

static const struct {
	const char	*body;
	const char	*input;
	int64_t		 timeout_ms;
	bool		 ok;
	int		 exit_status;
	bool		 timed_out;
	const char	*out;
	const char	*err;
	const char	*why;
} cases[] = {
	{ "cat", "{\"event\":\"create\"}", 5000, true, 0, false,
	  "{\"event\":\"create\"}", "", "" },
	{ "echo \"$1 $MKPD_EVENT\"", "", 5000, true, 0, false, "create create\n", "", "" },
	{ "echo boom >&2; exit 3", "x", 5000, false, 3, false, "", "boom\n", "exit status 3" },
	{ "exec sleep 10", "x", 200, false, -1, true, "", "", "killed after 200 ms" },
	{ "cat >/dev/null; echo '{\"frontEndUrl\":\"u\"}'", "ignored", 5000, true, 0, false,
	  "{\"frontEndUrl\":\"u\"}\n", "", "" },
	{ "exit 0", "input the hook never reads", 5000, true, 0, false, "", "", "" },
};

START_TEST(test_hook_cases)
{
	struct hook_result	 res;
	char			 why[256];
	const char		*path = script("hook", cases[_i].body, 0755);
	bool			 ok;

	ok = hook_run(path, "create", cases[_i].input, strlen(cases[_i].input),
	    cases[_i].timeout_ms, &res, why, sizeof(why));
	ck_assert_msg(ok == cases[_i].ok, "case %d: %s", _i, why);
	ck_assert_int_eq(res.exit_status, cases[_i].exit_status);
	ck_assert(res.timed_out == cases[_i].timed_out);
	ck_assert_str_eq(buf_cstr(&res.out), cases[_i].out);
	ck_assert_str_eq(buf_cstr(&res.err), cases[_i].err);
	ck_assert_str_eq(why, cases[_i].why);
	hook_result_free(&res);
}
END_TEST

START_TEST(test_hook_cannot_execute)
{
	struct hook_result	 res;
	char			 why[256], missing[600];
	const char		*plain = script("plain", "exit 0", 0644);

	ck_assert(!hook_run(plain, "create", "", 0, 1000, &res, why, sizeof(why)));
	ck_assert_msg(strstr(why, "cannot execute") && strstr(why, "Permission denied"), "%s", why);
	hook_result_free(&res);
	snprintf(missing, sizeof(missing), "%s/nothing-here", dir);
	ck_assert(!hook_run(missing, "create", "", 0, 1000, &res, why, sizeof(why)));
	ck_assert_msg(strstr(why, "No such file"), "%s", why);
	hook_result_free(&res);
}
END_TEST

START_TEST(test_hook_megabyte_both_ways)
{
	struct hook_result	 res;
	char			 why[256];
	size_t			 n = 1000 * 1000, i;
	char			*in = malloc(n);
	const char		*path = script("cat", "cat", 0755);

	for (i = 0; i < n; i++)
		in[i] = (char)('a' + i % 26);
	ck_assert_msg(hook_run(path, "create", in, n, 10000, &res, why, sizeof(why)), "%s", why);
	ck_assert_uint_eq(res.out.len, n);
	ck_assert(memcmp(res.out.data, in, n) == 0);
	hook_result_free(&res);
	free(in);
}
END_TEST

/* A hook that exits without reading a large input: EPIPE, not SIGPIPE. */
START_TEST(test_hook_ignores_its_input)
{
	struct hook_result	 res;
	char			 why[256];
	size_t			 n = 4 * 1000 * 1000;
	char			*in = calloc(1, n);
	const char		*path = script("quick", "exit 0", 0755);

	ck_assert_msg(hook_run(path, "freeze", in, n, 10000, &res, why, sizeof(why)), "%s", why);
	ck_assert_int_eq(res.exit_status, 0);
	hook_result_free(&res);
	free(in);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("hook", &tc);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_hook_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_hook_cannot_execute);
	tcase_add_test(tc, test_hook_megabyte_both_ways);
	tcase_add_test(tc, test_hook_ignores_its_input);
	return unit_run(s);
}

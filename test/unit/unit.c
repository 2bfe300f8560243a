/*
 * unit.c: the shared main() steps and temporary directories of the unit
 * tests (see unit.h).
 */
#define _XOPEN_SOURCE 700	/* nftw */

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"

Suite *
unit_suite(const char *name, TCase **tc)
{
	Suite	*s = suite_create(name);

	*tc = tcase_create(name);
	suite_add_tcase(s, *tc);
	return s;
}

int
unit_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void
unit_tmpdir(char *dir, size_t dirsz, const char *name)
{
	const char	*base = getenv("TMPDIR");
	int		 n;

	n = snprintf(dir, dirsz, "%s/%s.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp", name);
	ck_assert_msg(n > 0 && (size_t)n < dirsz, "temporary directory path too long");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)remove(path);
	return 0;
}

void
unit_tmpdir_remove(const char *dir)
{
	(void)nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

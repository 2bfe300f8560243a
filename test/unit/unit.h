/*
 * unit.h: what every Check program under test/unit shares.
 *
 * A program is one suite holding one test case of the same name:
 *
 *	int
 *	main(void)
 *	{
 *		TCase	*tc;
 *		Suite	*s = unit_suite("json", &tc);
 *
 *		tcase_add_test(tc, test_something);
 *		return unit_run(s);
 *	}
 */
#ifndef MKP_UNIT_H
#define MKP_UNIT_H

#include <check.h>
#include <stddef.h>

/* A suite named name holding one test case, also named name, set in *tc. */
Suite	*unit_suite(const char *name, TCase **tc);

/* Runs s (CK_NORMAL) and frees it: EXIT_SUCCESS when no test failed. */
int	 unit_run(Suite *s);

/*
 * Makes a fresh directory name.XXXXXX under $TMPDIR (or /tmp when that is
 * unset or empty) with mkdtemp(3) and writes its path to dir; fails the
 * test when it cannot. For a checked fixture's setup.
 */
void	 unit_tmpdir(char *dir, size_t dirsz, const char *name);

/* Removes dir and everything in it, errors ignored. For the teardown. */
void	 unit_tmpdir_remove(const char *dir);

#endif

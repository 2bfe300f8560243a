/*
 * check_jobs.c: the pure parts of the job runner: the back-off between
 * attempts (doubling, cap, jitter bounds) and what a failure makes of a job.
 */
#include <check.h>
#include <stdint.h>

#include "jobs/runner.h"
#include "unit.h"

/* rnd 0 gives the lower bound (half), UINT32_MAX the upper (all). */
static const struct {
	int		 attempts;
	int64_t		 base, max;
	uint32_t	 rnd;
	int64_t		 want;
} backoff_cases[] = {
	{ 1, 10000, 3600000, UINT32_MAX, 10000 },
	{ 1, 10000, 3600000, 0, 5000 },
	{ 2, 10000, 3600000, UINT32_MAX, 20000 },
	{ 2, 10000, 3600000, 0, 10000 },
	{ 3, 10000, 3600000, UINT32_MAX, 40000 },
	{ 4, 10000, 3600000, 0, 40000 },
	{ 9, 10000, 3600000, UINT32_MAX, 2560000 },
	{ 10, 10000, 3600000, UINT32_MAX, 3600000 },	/* capped */
	{ 10, 10000, 3600000, 0, 1800000 },
	{ 1000, 10000, 3600000, UINT32_MAX, 3600000 },	/* no overflow */
	{ 2147483647, 1000, 604800000, UINT32_MAX, 604800000 },
	{ 1, 1000, 500, UINT32_MAX, 500 },		/* cap below base */
	{ 1, 1, 1, 0, 1 },				/* never 0 */
	{ 0, 1000, 60000, UINT32_MAX, 1000 },		/* nonsense attempts: base */
	{ 1, 1000, 60000, UINT32_MAX / 2, 749 },	/* jitter in the middle (floor) */
};

START_TEST(test_backoff)
{
	int64_t	got = job_backoff_ms(backoff_cases[_i].attempts, backoff_cases[_i].base,
	    backoff_cases[_i].max, backoff_cases[_i].rnd);

	ck_assert_msg(got == backoff_cases[_i].want, "case %d: got %lld, want %lld", _i,
	    (long long)got, (long long)backoff_cases[_i].want);
}
END_TEST

/* Whatever rnd is, the wait stays within [half, all] and never shrinks by attempt. */
START_TEST(test_backoff_bounds)
{
	static const uint32_t rnds[] = { 0, 1, 12345, 0x7fffffff, 0x80000000, UINT32_MAX };
	int64_t	lo_prev = 0;
	int	a;
	size_t	r;

	for (a = 1; a <= 20; a++) {
		int64_t	full = 1000, lo = INT64_MAX;

		for (int i = 1; i < a; i++)
			full = full * 2 > 60000 ? 60000 : full * 2;
		for (r = 0; r < sizeof(rnds) / sizeof(rnds[0]); r++) {
			int64_t	d = job_backoff_ms(a, 1000, 60000, rnds[r]);

			ck_assert_msg(d >= full - full / 2 && d <= full,
			    "attempt %d rnd %u: %lld not in [%lld, %lld]", a, rnds[r],
			    (long long)d, (long long)(full - full / 2), (long long)full);
			if (d < lo)
				lo = d;
		}
		ck_assert_int_ge(lo, lo_prev);
		lo_prev = lo;
	}
}
END_TEST

static const struct {
	enum job_outcome said;
	int		 attempts, max;
	enum job_outcome want;
} failure_cases[] = {
	{ JOB_RETRY, 1, 5, JOB_RETRY },
	{ JOB_RETRY, 4, 5, JOB_RETRY },
	{ JOB_RETRY, 5, 5, JOB_DEAD },		/* the last attempt */
	{ JOB_RETRY, 6, 5, JOB_DEAD },		/* past it (a lease ran out) */
	{ JOB_RETRY, 1, 1, JOB_DEAD },
	{ JOB_DEAD, 1, 5, JOB_DEAD },		/* the handler knows better */
};

START_TEST(test_after_failure)
{
	ck_assert_int_eq(job_after_failure(failure_cases[_i].said, failure_cases[_i].attempts,
	    failure_cases[_i].max), failure_cases[_i].want);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("jobs", &tc);

	tcase_add_loop_test(tc, test_backoff, 0,
	    (int)(sizeof(backoff_cases) / sizeof(backoff_cases[0])));
	tcase_add_test(tc, test_backoff_bounds);
	tcase_add_loop_test(tc, test_after_failure, 0,
	    (int)(sizeof(failure_cases) / sizeof(failure_cases[0])));
	return unit_run(s);
}

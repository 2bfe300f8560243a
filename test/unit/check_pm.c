/*
 * check_pm.c: the pool's size (pool/pm.c), one row per situation: what
 * each pm starts with, starts, retires, and when the master watches the
 * listening socket.
 */
#include <check.h>
#include <string.h>

#include "common/conf.h"
#include "pool/pm.h"
#include "unit.h"

static void
limits(struct config *cfg, enum pm_mode pm)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pm = pm;
	cfg->max_children = 10;
	cfg->start_servers = 3;
	cfg->min_spare_servers = 2;
	cfg->max_spare_servers = 4;
}

START_TEST(test_initial)
{
	struct config	cfg;

	limits(&cfg, PM_STATIC);
	ck_assert_int_eq(pm_initial(&cfg), 10);
	limits(&cfg, PM_DYNAMIC);
	ck_assert_int_eq(pm_initial(&cfg), 3);
	limits(&cfg, PM_ONDEMAND);
	ck_assert_int_eq(pm_initial(&cfg), 0);
}
END_TEST

static const struct {
	enum pm_mode		pm;
	struct pm_counts	c;		/* total, starting, idle, busy */
	bool			waiting;	/* connections in the queue */
	int			start;
	bool			retire;
	bool			watch;
} cases[] = {
	/* static: max_children, whatever the load; none watched */
	{ PM_STATIC, { 0, 0, 0, 0 }, false, 10, false, false },
	{ PM_STATIC, { 7, 1, 2, 4 }, true, 3, false, false },
	{ PM_STATIC, { 10, 0, 0, 10 }, true, 0, false, false },
	{ PM_STATIC, { 12, 0, 12, 0 }, false, 0, false, false },	/* lowered by a reload */
	/* dynamic: the spare floor, counting those starting */
	{ PM_DYNAMIC, { 3, 0, 0, 3 }, false, 2, false, true },
	{ PM_DYNAMIC, { 3, 1, 0, 2 }, false, 1, false, false },
	{ PM_DYNAMIC, { 9, 0, 0, 9 }, false, 1, false, true },		/* room for one */
	{ PM_DYNAMIC, { 10, 0, 0, 10 }, true, 0, false, false },	/* max_children */
	/* dynamic: a burst with the floor met still starts one */
	{ PM_DYNAMIC, { 4, 2, 0, 2 }, true, 0, false, false },
	{ PM_DYNAMIC, { 5, 0, 2, 3 }, true, 0, false, false },
	/* dynamic: above max_spare idle, retire one */
	{ PM_DYNAMIC, { 6, 0, 5, 1 }, false, 0, true, false },
	{ PM_DYNAMIC, { 6, 0, 4, 2 }, false, 0, false, false },
	/* ondemand: one when a connection waits and nobody can take it */
	{ PM_ONDEMAND, { 0, 0, 0, 0 }, false, 0, false, true },
	{ PM_ONDEMAND, { 0, 0, 0, 0 }, true, 1, false, true },
	{ PM_ONDEMAND, { 2, 1, 0, 1 }, true, 0, false, false },
	{ PM_ONDEMAND, { 2, 0, 1, 1 }, true, 0, false, false },
	{ PM_ONDEMAND, { 10, 0, 0, 10 }, true, 0, false, false },
};

START_TEST(test_decide)
{
	struct config		cfg;
	struct pm_decision	d;

	limits(&cfg, cases[_i].pm);
	d = pm_decide(&cfg, &cases[_i].c, cases[_i].waiting);
	ck_assert_msg(d.start == cases[_i].start, "case %d: start %d, not %d", _i, d.start,
	    cases[_i].start);
	ck_assert_msg(d.retire == cases[_i].retire, "case %d: retire", _i);
	ck_assert_msg(pm_watch(&cfg, &cases[_i].c) == cases[_i].watch, "case %d: watch", _i);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("pm", &tc);

	tcase_add_test(tc, test_initial);
	tcase_add_loop_test(tc, test_decide, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	return unit_run(s);
}

/*
 * pm.c: the pool's size (see pm.h).
 */
#include "common/conf.h"
#include "pool/pm.h"

int
pm_initial(const struct config *cfg)
{
	switch (cfg->pm) {
	case PM_STATIC:
		return (int)cfg->max_children;
	case PM_DYNAMIC:
		return (int)cfg->start_servers;
	case PM_ONDEMAND:
		return 0;
	}
	return 0;
}

struct pm_decision
pm_decide(const struct config *cfg, const struct pm_counts *c, bool waiting)
{
	struct pm_decision	d = { 0, false };
	int			room = (int)cfg->max_children - c->total;

	switch (cfg->pm) {
	case PM_STATIC:
		d.start = room;
		break;
	case PM_DYNAMIC:
		if (c->idle + c->starting < cfg->min_spare_servers)
			d.start = (int)cfg->min_spare_servers - c->idle - c->starting;
		else if (waiting && c->idle == 0 && c->starting == 0)
			d.start = 1;	/* a burst: connections wait, none idle */
		else if (c->idle > cfg->max_spare_servers)
			d.retire = true;
		break;
	case PM_ONDEMAND:
		if (waiting && c->idle == 0 && c->starting == 0)
			d.start = 1;
		break;
	}
	if (d.start > room)
		d.start = room;
	if (d.start < 0)
		d.start = 0;
	return d;
}

bool
pm_watch(const struct config *cfg, const struct pm_counts *c)
{
	return cfg->pm != PM_STATIC && c->idle == 0 && c->starting == 0 &&
	    c->total < cfg->max_children;
}

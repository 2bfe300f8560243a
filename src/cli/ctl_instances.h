/* ctl_instances.h: mkpctl instances (list, show, history). */
#ifndef MKP_CTL_INSTANCES_H
#define MKP_CTL_INSTANCES_H
struct ctl;
int	 ctl_instances(struct ctl *, int argc, char **argv);
#endif

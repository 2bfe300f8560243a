/* ctl_jobs.h: mkpctl jobs (list, retry). */
#ifndef MKP_CTL_JOBS_H
#define MKP_CTL_JOBS_H
struct ctl;
int	 ctl_jobs(struct ctl *, int argc, char **argv);
#endif

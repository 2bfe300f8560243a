/* ctl_purge.h: mkpctl purge (test data, old audit rows, expired nonces). */
#ifndef MKP_CTL_PURGE_H
#define MKP_CTL_PURGE_H
struct ctl;
int	 ctl_purge(struct ctl *, int argc, char **argv);
#endif

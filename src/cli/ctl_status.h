/* ctl_status.h: mkpctl status and mkpctl reload, through mkpd's control socket. */
#ifndef MKP_CTL_STATUS_H
#define MKP_CTL_STATUS_H
struct ctl;
int	 ctl_status(struct ctl *, int argc, char **argv);
int	 ctl_reload(struct ctl *, int argc, char **argv);
#endif

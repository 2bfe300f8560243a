/* ctl_callbacks.h: mkpctl callbacks (tail, search, show the audit log). */
#ifndef MKP_CTL_CALLBACKS_H
#define MKP_CTL_CALLBACKS_H
struct ctl;
int	 ctl_callbacks(struct ctl *, int argc, char **argv);
#endif

/* ctl_keys.h: mkpctl keys (generate rsa|master, rotate, status). */
#ifndef MKP_CTL_KEYS_H
#define MKP_CTL_KEYS_H
struct ctl;
int	 ctl_keys(struct ctl *, int argc, char **argv);
#endif

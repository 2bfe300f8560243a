/* ctl_config.h: mkpctl config check. */
#ifndef MKP_CTL_CONFIG_H
#define MKP_CTL_CONFIG_H
struct ctl;
int	 ctl_config_verb(struct ctl *, int argc, char **argv);
#endif

/* ctl_kit.h: mkpctl tenants, users, orgs (the Kit sync's tables). */
#ifndef MKP_CTL_KIT_H
#define MKP_CTL_KIT_H
struct ctl;
int	 ctl_tenants(struct ctl *, int argc, char **argv);
int	 ctl_users(struct ctl *, int argc, char **argv);
int	 ctl_orgs(struct ctl *, int argc, char **argv);
#endif

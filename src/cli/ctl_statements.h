/* ctl_statements.h: mkpctl statements (the SQL mkpd prepares). */
#ifndef MKP_CTL_STATEMENTS_H
#define MKP_CTL_STATEMENTS_H
struct ctl;
int	 ctl_statements(struct ctl *, int argc, char **argv);
#endif

/* The C half of the cgo fixture (cgo.c); see main.go. */
#ifndef GP_CGO_FIXTURE_H
#define GP_CGO_FIXTURE_H

void gp_block_in_c(void);
int gp_blocked_in_c(void);
void gp_call_back(int i);
void gp_start_c_threads(int n);
void gp_crash(void);

#endif

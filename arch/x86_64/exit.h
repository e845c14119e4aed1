/*
 * exit.h - the x86 end of a run (exit.c): exit=auto|debug-exit|reset|halt.
 */
#ifndef ARCH_X86_64_EXIT_H
#define ARCH_X86_64_EXIT_H

struct cmdline;

/* Reads exit= (default auto).  Before it runs, a run ends as auto. */
void exit_configure(struct cmdline *cl);

#endif /* ARCH_X86_64_EXIT_H */

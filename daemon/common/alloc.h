/*
 * alloc.h — the daemons' one out-of-memory policy: allocation never fails
 * quietly.  When memory runs out the process says so and aborts, like
 * pgbouncer's "usual" wrappers; systemd (or make run) starts it again, and
 * the outbox and the webhook inbox make that safe.  Nothing is half-done:
 * a request being answered is simply not answered.
 */
#ifndef REFLEXO_ALLOC_H
#define REFLEXO_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

extern void *xmalloc(size_t size);
extern void *xcalloc(size_t count, size_t size);
extern void *xrealloc(void *pointer, size_t size);
extern char *xstrdup(const char *text);
extern char *xstrndup(const char *text, size_t length);
extern char *xasprintf(const char *format,...) __attribute__((format(printf, 1, 2)));
extern char *xvasprintf(const char *format, va_list args) __attribute__((format(printf, 1, 0)));

/* Makes jansson allocate through the same policy; call once at start. */
extern void alloc_init(void);

#endif							/* REFLEXO_ALLOC_H */

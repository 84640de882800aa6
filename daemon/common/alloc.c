/*
 * alloc.c — see alloc.h.
 */
#include "common/alloc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
out_of_memory(size_t size)
{
	char		message[96];
	int			n = snprintf(message, sizeof(message), "out of memory (%zu bytes): aborting\n", size);

	/* no stdio buffers, no allocation: this must get out */
	if (n > 0 && write(STDERR_FILENO, message, (size_t) n) < 0)
		abort();
	abort();
}

void *
xmalloc(size_t size)
{
	void	   *pointer = malloc(size ? size : 1);

	if (pointer == NULL)
		out_of_memory(size);
	return pointer;
}

void *
xcalloc(size_t count, size_t size)
{
	void	   *pointer = calloc(count ? count : 1, size ? size : 1);

	if (pointer == NULL)
		out_of_memory(count * size);
	return pointer;
}

void *
xrealloc(void *pointer, size_t size)
{
	void	   *moved = realloc(pointer, size ? size : 1);

	if (moved == NULL)
		out_of_memory(size);
	return moved;
}

char *
xstrdup(const char *text)
{
	return xstrndup(text, strlen(text));
}

char *
xstrndup(const char *text, size_t length)
{
	char	   *copy = strndup(text, length);

	if (copy == NULL)
		out_of_memory(length + 1);
	return copy;
}

char *
xvasprintf(const char *format, va_list args)
{
	char	   *text;

	if (vasprintf(&text, format, args) < 0)
		out_of_memory(0);
	return text;
}

char *
xasprintf(const char *format,...)
{
	va_list		args;
	char	   *text;

	va_start(args, format);
	text = xvasprintf(format, args);
	va_end(args);
	return text;
}

void
alloc_init(void)
{
	json_set_alloc_funcs(xmalloc, free);
}

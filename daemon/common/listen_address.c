/*
 * listen_address.c — resolve a numeric listen address with getaddrinfo.
 */
#include "common/listen_address.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
listen_address_parse(const char *text, struct sockaddr_storage *address, socklen_t *length,
					 char *error, size_t error_size)
{
	char		host[256];
	const char *colon = strrchr(text, ':');
	size_t		host_len;
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
	.ai_socktype = SOCK_STREAM};
	struct addrinfo *found;
	int			rc;

	if (colon == NULL || colon[1] == '\0')
	{
		snprintf(error, error_size, "\"%s\" is not host:port", text);
		return false;
	}
	host_len = (size_t) (colon - text);
	if (host_len >= 2 && text[0] == '[' && text[host_len - 1] == ']')
	{
		text++;
		host_len -= 2;
	}
	if (host_len == 0 || host_len >= sizeof(host))
	{
		snprintf(error, error_size, "\"%s\" has no host", text);
		return false;
	}
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	rc = getaddrinfo(host, colon + 1, &hints, &found);
	if (rc != 0)
	{
		snprintf(error, error_size, "cannot listen on \"%s\": %s (use a numeric address)", text, gai_strerror(rc));
		return false;
	}
	memcpy(address, found->ai_addr, found->ai_addrlen);
	*length = found->ai_addrlen;
	freeaddrinfo(found);
	return true;
}

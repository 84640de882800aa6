/*
 * listen_address.h — "host:port" (or "[v6]:port") to a socket address.
 */
#ifndef REFLEXO_LISTEN_ADDRESS_H
#define REFLEXO_LISTEN_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

extern bool listen_address_parse(const char *text, struct sockaddr_storage *address, socklen_t *length,
								 char *error, size_t error_size);

#endif							/* REFLEXO_LISTEN_ADDRESS_H */

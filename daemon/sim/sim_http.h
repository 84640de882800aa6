/*
 * sim_http.h — the simulator's HTTP server.
 */
#ifndef REFLEXO_SIM_HTTP_H
#define REFLEXO_SIM_HTTP_H

#include <signal.h>
#include <stddef.h>

#include "common/http_server.h"
#include "sim.h"

extern volatile sig_atomic_t sim_stopping;
/* Listens on host:port; NULL (with a message in error) if it cannot. */
extern HttpServer *sim_http_start(const char *address, char *error, size_t error_size);

#endif							/* REFLEXO_SIM_HTTP_H */

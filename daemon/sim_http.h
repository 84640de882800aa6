/*
 * sim_http.h — the simulator's HTTP server.
 */
#ifndef REFLEXO_SIM_HTTP_H
#define REFLEXO_SIM_HTTP_H

#include <signal.h>
#include <sys/socket.h>

#include "sim.h"

struct MHD_Daemon;

extern volatile sig_atomic_t sim_stopping;
extern struct MHD_Daemon *sim_http_start(const struct sockaddr *address);

#endif							/* REFLEXO_SIM_HTTP_H */

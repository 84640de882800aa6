/*
 * sim_route.c — which part of the simulator answers a request.
 */
#include "sim.h"
#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGMENTS 8

void
sim_route(const SimRequest *request, SimResponse *response)
{
	char	   *path = xstrdup(request->path);
	char	   *segments[MAX_SEGMENTS];
	int			n = 0;
	char	   *save = NULL;

	for (char *seg = strtok_r(path, "/", &save); seg; seg = strtok_r(NULL, "/", &save))
	{
		if (n == MAX_SEGMENTS)
		{
			n = -1;
			break;
		}
		segments[n++] = seg;
	}

	if (n > 0 && strcmp(segments[0], "calendars") == 0)
		api_calendars(request, response, segments, n);
	else if (n == 2 && strcmp(segments[0], "oauth") == 0 && strcmp(segments[1], "token") == 0 &&
			 strcmp(request->method, "POST") == 0)
		oauth_token(request, response);
	else if (strcmp(request->method, "GET") == 0 &&
			 ((n == 2 && strcmp(segments[0], "oauth") == 0 && strcmp(segments[1], "chooselocation") == 0) ||
			  (n == 3 && strcmp(segments[0], "v2") == 0 && strcmp(segments[1], "oauth") == 0 &&
			   strcmp(segments[2], "chooselocation") == 0)))
		oauth_choose_location(request, response);
	else if (n > 0 && strcmp(segments[0], "_sim") == 0)
		control_route(request, response, segments, n);
	else
		respond_no_route(response, request);
	free(path);
}

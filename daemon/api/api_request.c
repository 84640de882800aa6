/*
 * api_request.c — what a request owns, freed when it ends.
 */
#include <stdlib.h>

#include "api.h"

void *
api_keep(ApiRequest *request, void *pointer)
{
	if (pointer == NULL)
		return NULL;
	if (request->nowned == API_MAX_OWNED)
		abort();				/* a bug: no request keeps this much */
	request->owned[request->nowned++] = pointer;
	return pointer;
}

void
api_request_free(ApiRequest *request)
{
	for (int i = 0; i < request->nowned; i++)
		free(request->owned[i]);
	request->nowned = 0;
	json_decref(request->body);
	request->body = NULL;
}

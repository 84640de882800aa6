/*
 * Unit tests of reflexo-api's bearer tokens (daemon/api/api_auth.c), and of
 * what each thread remembers of the tokens it verified: a remembered token
 * must be refused exactly as a fresh one would be.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "api/api.h"
#include "common/alloc.h"

static const char *secret = "unit-test-secret-that-is-longer-than-32-characters";
static const char *other_secret = "another-secret-that-is-also-longer-than-32-chars";

static char *
token_of(const char *role, const char *typ, time_t exp, const char *with_secret)
{
	json_t	   *claims = json_pack("{s:s, s:s, s:s, s:I}", "sub", "ana", "role", role, "typ", typ,
								   "exp", (json_int_t) exp);
	char	   *token = api_sign_token(claims, with_secret);

	json_decref(claims);
	return token;
}

/* Verifies "Bearer <token>" under key; the request's role or NULL. */
static const char *
verify(const char *token, const char *key)
{
	ApiRequest	request = {0};
	const char *why = NULL;
	char	   *header = xasprintf("Bearer %s", token);
	bool		ok = api_verify_token(header, key, &request, &why);
	const char *role = ok ? request.role : NULL;

	if (ok && (request.claims == NULL || strstr(request.claims, "\"sub\":\"ana\"") == NULL ||
			   strcmp(request.subject, "ana") != 0))
		role = "claims lost";
	api_request_free(&request);
	free(header);
	return role;
}

int
main(void)
{
	char	   *staff = token_of("reflexo_staff", "access", time(NULL) + 3600, secret);
	char	   *soon = token_of("reflexo_admin", "access", time(NULL) + 2, secret);
	char	   *refresh = token_of("reflexo_staff", "refresh", time(NULL) + 3600, secret);
	char	   *tampered = xstrdup(staff);
	const char *role;

	role = verify(staff, secret);
	tap_ok(role && strcmp(role, "reflexo_staff") == 0, "a token signed with the secret is accepted, with its claims");
	role = verify(staff, secret);
	tap_ok(role && strcmp(role, "reflexo_staff") == 0, "and again, remembered, with the same claims");
	tap_ok(verify(staff, other_secret) == NULL, "a remembered token is refused under another secret");

	tampered[strlen(tampered) - 2] = tampered[strlen(tampered) - 2] == 'A' ? 'B' : 'A';
	tap_ok(verify(tampered, secret) == NULL, "a token one character away from a remembered one is refused");
	tampered[strlen(tampered) - 2] = '\0';
	tap_ok(verify(tampered, secret) == NULL, "and so is a prefix of it");

	tap_ok(verify(refresh, secret) == NULL, "a refresh token is no access token");
	tap_ok(verify(refresh, secret) == NULL, "nor the second time");

	role = verify(soon, secret);
	tap_ok(role && strcmp(role, "reflexo_admin") == 0, "a token about to expire is accepted");
	sleep(3);
	tap_ok(verify(soon, secret) == NULL, "and refused once it has expired, though remembered");

	/* more tokens than a thread remembers: each still verifies */
	for (int i = 0; i < 10; i++)
	{
		char	   *t = token_of("reflexo_staff", "access", time(NULL) + 3600 + i, secret);

		role = verify(t, secret);
		free(t);
		if (!tap_ok(role && strcmp(role, "reflexo_staff") == 0, "token %d of 10 accepted", i + 1))
			break;
	}
	role = verify(staff, secret);
	tap_ok(role && strcmp(role, "reflexo_staff") == 0, "the first one too, after it was forgotten");

	free(staff);
	free(soon);
	free(refresh);
	free(tampered);
	return tap_done();
}

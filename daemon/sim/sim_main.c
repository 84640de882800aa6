/*
 * sim_main.c — ghl-sim: command line, start, stop.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/iso_time.h"
#include "common/log.h"
#include "sim.h"
#include "sim_http.h"
#include "common/alloc.h"
#include "common/version.h"

static const char usage[] =
	"Usage: ghl-sim [OPTION]...\n"
	"A local GoHighLevel for tests and demos: calendars, appointments, OAuth,\n"
	"rate limits, signed webhooks and injected faults, on one HTTP port.\n"
	"\n"
	"  --listen HOST:PORT        where to listen (default 127.0.0.1:8090)\n"
	"  --seed FILE               locations, calendars and tokens to start with (JSON)\n"
	"  --location ID             without --seed: the demo location's id\n"
	"                            (default SimLocation000000001)\n"
	"  --client-id ID            OAuth client id (default sim-client-id)\n"
	"  --client-secret SECRET    OAuth client secret (default sim-client-secret)\n"
	"  --access-token TOKEN      accept this OAuth access token for the first location\n"
	"  --refresh-token TOKEN     accept this refresh token for the first location\n"
	"  --private-token TOKEN     accept this Private Integration Token for it\n"
	"  --token-ttl SECONDS       access token lifetime (default 86399)\n"
	"  --rate-limit N            requests per interval per location (default 100)\n"
	"  --rate-interval-ms MS     the interval (default 10000)\n"
	"  --daily-limit N           requests per day per location (default 200000)\n"
	"  --webhook-url URL         where to deliver webhooks\n"
	"  --no-api-webhooks         changes made through the API send no webhooks\n"
	"  --keys-dir DIR            signing keys; created if missing (default ./ghl-sim-keys)\n"
	"  --faults JSON             initial faults, as for POST /_sim/faults\n"
	"  --max-body BYTES          largest request body (default 1048576)\n"
	"  --random-seed N           seed of the fault dice\n"
	"  --log-level LEVEL         debug, info, warn or error (default info)\n"
	"  --help                    show this help and exit\n"
	"  --version                 show the version and exit\n"
	"\n"
	"Control API: GET /_sim/state, POST /_sim/reset, GET|POST /_sim/faults,\n"
	"GET|POST /_sim/webhooks, POST /_sim/webhooks/release, GET /_sim/keys,\n"
	"POST /_sim/tokens, POST /_sim/tokens/expire, POST /_sim/locations/ID,\n"
	"POST|DELETE /_sim/calendars, POST|PUT|DELETE /_sim/ghl/appointments[/ID],\n"
	"GET|POST|DELETE /_sim/inbox (a webhook receiver).  See sim_control.c.\n"
	"Logs are JSON lines on stderr.\n";

static void
on_signal(int signo)
{
	(void) signo;
	sim_stopping = 1;
}

static int
fail(const char *message, const char *detail)
{
	log_error("SIM", message, detail ? json_pack("{s:s}", "detail", detail) : NULL);
	return 2;
}

static bool
parse_int(const char *text, long min, long max, long *value)
{
	char	   *end;

	*value = strtol(text, &end, 10);
	return *text && *end == '\0' && *value >= min && *value <= max;
}

int
main(int argc, char **argv)
{
	enum
	{
		OPT_LISTEN = 1000, OPT_SEED, OPT_LOCATION, OPT_CLIENT_ID, OPT_CLIENT_SECRET, OPT_ACCESS,
		OPT_REFRESH, OPT_PRIVATE, OPT_TTL, OPT_RATE, OPT_INTERVAL, OPT_DAILY, OPT_WEBHOOK, OPT_NO_API_HOOKS,
		OPT_KEYS, OPT_FAULTS, OPT_MAX_BODY, OPT_RANDOM, OPT_LOG, OPT_HELP, OPT_VERSION
	};
	static const struct option options[] = {
		{"listen", required_argument, NULL, OPT_LISTEN}, {"seed", required_argument, NULL, OPT_SEED},
		{"location", required_argument, NULL, OPT_LOCATION},
		{"client-id", required_argument, NULL, OPT_CLIENT_ID},
		{"client-secret", required_argument, NULL, OPT_CLIENT_SECRET},
		{"access-token", required_argument, NULL, OPT_ACCESS},
		{"refresh-token", required_argument, NULL, OPT_REFRESH},
		{"private-token", required_argument, NULL, OPT_PRIVATE},
		{"token-ttl", required_argument, NULL, OPT_TTL}, {"rate-limit", required_argument, NULL, OPT_RATE},
		{"rate-interval-ms", required_argument, NULL, OPT_INTERVAL},
		{"daily-limit", required_argument, NULL, OPT_DAILY},
		{"webhook-url", required_argument, NULL, OPT_WEBHOOK},
		{"no-api-webhooks", no_argument, NULL, OPT_NO_API_HOOKS},
		{"keys-dir", required_argument, NULL, OPT_KEYS}, {"faults", required_argument, NULL, OPT_FAULTS},
		{"max-body", required_argument, NULL, OPT_MAX_BODY},
		{"random-seed", required_argument, NULL, OPT_RANDOM},
		{"log-level", required_argument, NULL, OPT_LOG}, {"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION}, {NULL, 0, NULL, 0}
	};
	const char *listen_at = "127.0.0.1:8090";
	const char *seed_file = NULL;
	const char *location_id = "SimLocation000000001";
	const char *access = NULL,
			   *refresh = NULL,
			   *private_token = NULL,
			   *faults_text = NULL;
	const char *keys_dir = "ghl-sim-keys";
	long		value;
	int			opt;
	json_t	   *seed;
	json_error_t json_error;
	char		error[256];
	HttpServer *http;
	struct sigaction action = {.sa_handler = on_signal};

	alloc_init();
	store.config = (SimConfig) {
		.client_id = "sim-client-id", .client_secret = "sim-client-secret", .token_ttl_s = 86399,
			.rate_max = 100, .rate_interval_ms = 10000, .daily_limit = 200000, .max_body = 1 << 20,
			.webhooks_for_api = true
	};
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
	{
		switch (opt)
		{
			case OPT_LISTEN:
				listen_at = optarg;
				break;
			case OPT_SEED:
				seed_file = optarg;
				break;
			case OPT_LOCATION:
				location_id = optarg;
				break;
			case OPT_CLIENT_ID:
				store.config.client_id = optarg;
				break;
			case OPT_CLIENT_SECRET:
				store.config.client_secret = optarg;
				break;
			case OPT_ACCESS:
				access = optarg;
				break;
			case OPT_REFRESH:
				refresh = optarg;
				break;
			case OPT_PRIVATE:
				private_token = optarg;
				break;
			case OPT_TTL:
				if (!parse_int(optarg, 1, 365L * 86400, &value))
					return fail("--token-ttl must be 1 to 31536000 seconds", optarg);
				store.config.token_ttl_s = (int) value;
				break;
			case OPT_RATE:
				if (!parse_int(optarg, 1, 1000000, &value))
					return fail("--rate-limit must be 1 to 1000000", optarg);
				store.config.rate_max = (int) value;
				break;
			case OPT_INTERVAL:
				if (!parse_int(optarg, 1, 3600000, &value))
					return fail("--rate-interval-ms must be 1 to 3600000", optarg);
				store.config.rate_interval_ms = (int) value;
				break;
			case OPT_DAILY:
				if (!parse_int(optarg, 1, 100000000, &value))
					return fail("--daily-limit must be 1 to 100000000", optarg);
				store.config.daily_limit = (int) value;
				break;
			case OPT_WEBHOOK:
				store.config.webhook_url = optarg;
				break;
			case OPT_NO_API_HOOKS:
				store.config.webhooks_for_api = false;
				break;
			case OPT_KEYS:
				keys_dir = optarg;
				break;
			case OPT_FAULTS:
				faults_text = optarg;
				break;
			case OPT_MAX_BODY:
				if (!parse_int(optarg, 1024, 64L << 20, &value))
					return fail("--max-body must be 1024 to 67108864 bytes", optarg);
				store.config.max_body = (size_t) value;
				break;
			case OPT_RANDOM:
				if (!parse_int(optarg, 0, LONG_MAX, &value))
					return fail("--random-seed must be a whole number", optarg);
				sim_random_seed((uint64_t) value);
				break;
			case OPT_LOG:
				{
					LogLevel	level;

					if (!log_parse_level(optarg, &level))
						return fail("--log-level must be debug, info, warn or error", optarg);
					log_set_level(level);
					break;
				}
			case OPT_HELP:
				fputs(usage, stdout);
				return 0;
			case OPT_VERSION:
				printf("ghl-sim %s\n", REFLEXO_VERSION);
				return 0;
			default:
				fputs(usage, stderr);
				return 2;
		}
	}
	if (optind < argc)
		return fail("unexpected argument", argv[optind]);

	seed = seed_file ? json_load_file(seed_file, 0, &json_error) : default_seed(location_id);
	if (seed == NULL)
		return fail("cannot read the seed", json_error.text);
	if (access || refresh || private_token)
	{
		json_t	   *first = json_array_get(json_object_get(seed, "locations"), 0);
		json_t	   *tokens = json_object_get(first, "tokens");

		if (tokens == NULL)
			json_object_set_new(first, "tokens", tokens = json_array());
		if (access || refresh)
			json_array_append_new(tokens, json_pack("{s:s?, s:s?, s:i}", "access_token", access,
													"refresh_token", refresh, "expires_in", store.config.token_ttl_s));
		if (private_token)
			json_array_append_new(tokens, json_pack("{s:s, s:s}", "access_token", private_token, "kind", "pit"));
	}
	if (!store_load(seed, error, sizeof(error)))
		return fail("bad seed", error);
	json_decref(seed);
	if (faults_text)
	{
		json_t	   *faults = json_loads(faults_text, 0, &json_error);

		if (faults == NULL || !faults_set(faults, error, sizeof(error)))
			return fail("bad --faults", faults ? error : json_error.text);
		json_decref(faults);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!webhooks_start(keys_dir))
		return fail("cannot create or read the signing keys", keys_dir);
	http = sim_http_start(listen_at, error, sizeof(error));
	if (http == NULL)
	{
		webhooks_stop();
		return fail("cannot listen", error);
	}
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		json_t	   *ids = json_array();

		for (int i = 0; i < store.nlocations; i++)
			json_array_append_new(ids, json_string(store.locations[i].id));
		log_info("SIM", "listening",
				 json_pack("{s:s, s:o, s:s, s:s, s:s?}", "listen", listen_at, "locations", ids,
						   "ed25519_public_key", webhooks_public_key_path(false),
						   "rsa_public_key", webhooks_public_key_path(true),
						   "webhook_url", store.config.webhook_url));
	}
	while (!sim_stopping)
		usleep(100 * 1000);
	log_info("SIM", "stopping", NULL);
	http_server_stop(http);
	webhooks_stop();
	curl_global_cleanup();
	return 0;
}

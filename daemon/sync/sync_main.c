/*
 * sync_main.c — reflexo-sync: command line, signals and the main loop.
 *
 * Signals become events: they are blocked and read from a signalfd that the
 * loop waits on with the GHL sockets and the LISTEN connection.  SIGTERM or
 * SIGINT stops claiming, gives back rows not yet sent, lets requests in
 * flight finish (each has a deadline) and writes their results; a second
 * one exits at once.  SIGHUP reloads the configuration, keeping the old one
 * if the new one is bad.  Every wait has a timeout of at most a second.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/iso_time.h"
#include "common/alloc.h"
#include "common/log.h"
#include "doorbells.h"
#include "sync.h"
#include "sync_http.h"
#include "sync_stats.h"
#include "common/version.h"

static const char usage[] =
	"Usage: reflexo-sync [OPTION]...\n"
	"Keeps PostgreSQL (the reflexo extension) and GoHighLevel in sync: pushes the\n"
	"outbox to GHL, receives GHL's webhooks, syncs calendars, reconciles, keeps\n"
	"OAuth tokens fresh, respects GHL's rate limits, and serves health, metrics\n"
	"and a status page over HTTP.\n"
	"\n"
	"  --env-file FILE   read settings from FILE (KEY=VALUE lines) where the\n"
	"                    environment does not set them\n"
	"  --once            push everything due, then exit\n"
	"  --check-config    check the settings, the database, the stored GHL\n"
	"                    credentials against GHL, the webhook keys and the\n"
	"                    HTTP address, one line each, then exit (0: all ok)\n"
	"  --store-token     store GHL_ACCESS_TOKEN (and GHL_REFRESH_TOKEN) for\n"
	"                    GHL_LOCATION_ID, encrypted, replacing what is stored\n"
	"                    (e.g. a rotated Private Integration Token), then exit\n"
	"  --env-example     print every setting as an env file, then exit\n"
	"  --help            show this help and exit\n"
	"  --version         show the version and exit\n"
	"\n"
	"Settings (environment variables):\n";

typedef struct Options
{
	const char *env_file;
	bool		once;
	bool		store_token;
	bool		check_config;
} Options;

static int
parse_options(int argc, char **argv, Options *options)
{
	enum
	{
		OPT_ENV_FILE = 1000, OPT_ONCE, OPT_STORE_TOKEN, OPT_CHECK_CONFIG, OPT_ENV_EXAMPLE, OPT_HELP, OPT_VERSION
	};
	static const struct option longopts[] = {
		{"env-file", required_argument, NULL, OPT_ENV_FILE}, {"once", no_argument, NULL, OPT_ONCE},
		{"store-token", no_argument, NULL, OPT_STORE_TOKEN}, {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
		{"env-example", no_argument, NULL, OPT_ENV_EXAMPLE}, {"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION}, {NULL, 0, NULL, 0}
	};
	int			opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (opt)
		{
			case OPT_ENV_FILE:
				options->env_file = optarg;
				break;
			case OPT_ONCE:
				options->once = true;
				break;
			case OPT_STORE_TOKEN:
				options->store_token = true;
				break;
			case OPT_CHECK_CONFIG:
				options->check_config = true;
				break;
			case OPT_ENV_EXAMPLE:
				settings_env_example(config_table(), stdout);
				return 0;
			case OPT_HELP:
				fputs(usage, stdout);
				settings_help(config_table(), stdout);
				return 0;
			case OPT_VERSION:
				printf("reflexo-sync %s\n", REFLEXO_VERSION);
				return 0;
			default:
				fprintf(stderr, "%s", usage);
				return 2;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "reflexo-sync: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	return -1;
}

static int
open_signals(void)
{
	sigset_t	mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	/* blocked before any thread starts, so only the signalfd sees them */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void
reload(Daemon *d, const Options *options)
{
	char		error[512];
	Config	   *next = config_load(options->env_file, error, sizeof(error));

	if (next == NULL)
	{
		log_error("CONFIG", "configuration not reloaded; keeping the running one",
				  json_pack("{s:s}", "error", error));
		return;
	}
	if (strcmp(next->database_url, d->config->database_url) != 0 ||
		strcmp(next->http_addr, d->config->http_addr) != 0)
		log_warn("CONFIG", "DATABASE_URL and REFLEXO_HTTP_ADDR take effect at the next start", NULL);
	/* settings that only the loop reads take effect now; connections keep their targets */
	free(next->database_url);
	next->database_url = xstrdup(d->config->database_url);
	free(next->http_addr);
	next->http_addr = xstrdup(d->config->http_addr);
	config_free(d->config);
	d->config = next;
	log_set_level(next->log_level);
	log_info("CONFIG", "configuration reloaded", NULL);
}

/* Reads pending signals; returns false when the loop must end at once. */
static bool
handle_signals(Daemon *d, int fd, const Options *options)
{
	struct signalfd_siginfo info;

	while (read(fd, &info, sizeof(info)) == sizeof(info))
	{
		if (info.ssi_signo == SIGHUP)
			reload(d, options);
		else if (d->draining)
		{
			log_warn("SYNC", "second stop signal: exiting now", NULL);
			return false;
		}
		else
		{
			d->draining = true;
			log_info("SYNC", "stopping: finishing requests in flight",
					 json_pack("{s:i, s:i}", "in_flight", d->sending, "waiting", d->queued));
			push_release_queued(d);
		}
	}
	return true;
}

static void
prepare_listen(Daemon *d)
{
	if (db_ready(&d->listen) && d->listen.fresh)
	{
		/* LISTEN again after every reconnect, then look: a NOTIFY may have been missed */
		if (db_command(&d->listen, "LISTEN " DOORBELL_OUTBOX, 0, NULL) &&
			db_command(&d->listen, "LISTEN " DOORBELL_CALENDARS, 0, NULL) &&
			db_command(&d->listen, "LISTEN " DOORBELL_CREDENTIALS, 0, NULL) &&
			db_command(&d->listen, "LISTEN " DOORBELL_RECONCILE, 0, NULL))
		{
			d->listen.fresh = false;
			d->sweep = true;
		}
	}
	if (db_ready(&d->worker) && d->worker.fresh)
	{
		d->worker.fresh = false;
		for (Location *loc = d->locations; loc; loc = loc->next)
			loc->holds_lock = false;	/* session locks died with the old connection */
		location_bootstrap(d, false);
		d->sweep = true;
	}
}

/* --store-token: one connection, one write, an exit status that says how it went. */
static int
store_token(Daemon *d)
{
	bool		ok;

	if (*d->config->ghl_location_id == '\0' || *d->config->ghl_access_token == '\0')
	{
		log_error("CONFIG", "--store-token needs GHL_LOCATION_ID and GHL_ACCESS_TOKEN", NULL);
		config_free(d->config);
		return 2;
	}
	db_init(&d->worker, d->config->database_url, "worker");
	ok = location_bootstrap(d, true);
	db_close(&d->worker);
	free(d->worker.conninfo);
	config_free(d->config);
	return ok ? 0 : 1;
}

static void
on_notify(void *context, const char *channel, const char *payload)
{
	Daemon	   *d = context;

	if (strcmp(channel, DOORBELL_OUTBOX) == 0)
		d->sweep = true;
	else if (strcmp(channel, DOORBELL_CALENDARS) == 0)
	{
		/* one location, or all of them if asked for several */
		bool		same = d->calendars_for && strcmp(d->calendars_for, payload) == 0;

		if (!same)
		{
			free(d->calendars_for);
			d->calendars_for = xstrdup(d->calendars_for ? "" : payload);
		}
	}
	else if (strcmp(channel, DOORBELL_RECONCILE) == 0)
		d->reconcile_now = true;
	else if (strcmp(channel, DOORBELL_CREDENTIALS) == 0)
		location_credentials_changed(d, payload);
}

/* What /healthz and /readyz read: the loop turned, and the state of the locations. */
static void
publish_loop_state(const Daemon *d)
{
	LoopState	state = {.turned_ms = monotonic_ms(), .database = d->worker.conn != NULL,
	.results_unrecorded = d->nfinished};

	for (Location *loc = d->locations; loc; loc = loc->next)
	{
		state.locations++;
		state.locations_broken += loc->auth == AUTH_BROKEN;
	}
	stats_loop(&state);
}

static bool
idle(const Daemon *d)
{
	return d->sending == 0 && d->queued == 0 && d->nfinished == 0;
}

int
main(int argc, char **argv)
{
	Options		options = {0};
	Daemon		daemon = {0};
	Daemon	   *d = &daemon;
	char		error[512];
	int			signal_fd;
	int64_t		next_poll = 0;
	int			rc = parse_options(argc, argv, &options);
	unsigned char session[4];
	SyncHttp   *http = NULL;

	alloc_init();
	db_set_program("reflexo-sync");
	if (rc >= 0)
		return rc;
	d->config = config_load(options.env_file, error, sizeof(error));
	if (d->config == NULL)
	{
		if (options.check_config)
			printf("FAIL %-16s %s\n", "settings", error);
		else
			log_error("CONFIG", "invalid configuration", json_pack("{s:s}", "error", error));
		return 2;
	}
	if (options.check_config)
	{
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = check_config(d->config);
		config_free(d->config);
		curl_global_cleanup();
		return rc;
	}
	log_set_level(d->config->log_level);
	if (options.store_token)
		return store_token(d);
	signal_fd = open_signals();
	{
		/* a stop signal ends any wait for the database (never read: the loop reads signal_fd) */
		sigset_t	stop;

		sigemptyset(&stop);
		sigaddset(&stop, SIGTERM);
		sigaddset(&stop, SIGINT);
		db_set_interrupt(signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC));
	}
	if (RAND_bytes(session, sizeof(session)) != 1)
		memset(session, 0, sizeof(session));
	snprintf(d->session_id, sizeof(d->session_id), "%02x%02x%02x%02x", session[0], session[1], session[2], session[3]);
	srandom((unsigned) (now_ms() ^ getpid()));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	d->ghl = ghl_client_new(d->config->request_timeout_ms, d->config->max_inflight);
	d->operations = json_array();
	d->once = options.once;
	if (!d->once)
	{
		/* the HTTP side keeps its own copy of the settings: they change only at restart */
		Config	   *http_config = config_load(options.env_file, error, sizeof(error));

		http = http_config ? sync_http_start(http_config, error, sizeof(error)) : NULL;
		if (http == NULL)
		{
			log_error("HTTP", "cannot start the HTTP server", json_pack("{s:s}", "error", error));
			ghl_client_free(d->ghl);
			json_decref(d->operations);
			config_free(d->config);
			return 1;
		}
	}
	db_init(&d->listen, d->config->database_url, "listen");
	db_init(&d->worker, d->config->database_url, "worker");
	db_init(&d->reconciler, d->config->database_url, "reconcile");
	log_info("SYNC", "started",
			 json_pack("{s:s, s:s, s:s, s:s, s:b}", "session_id", d->session_id, "version", REFLEXO_VERSION,
					   "daemon_id", d->config->daemon_id, "ghl_api_base", d->config->ghl_api_base, "once", d->once));

	for (;;)
	{
		int64_t		now;
		struct curl_waitfd extra[3];
		unsigned int nextra = 0;
		int			timeout;

		if (!handle_signals(d, signal_fd, &options))
			break;
		prepare_listen(d);
		db_notifications(&d->listen, on_notify, d);
		now = monotonic_ms();
		if (now >= next_poll)
		{
			/* the polling floor: NOTIFY is only a doorbell */
			d->sweep = true;
			next_poll = now + d->config->poll_ms;
		}
		if (d->sweep && !d->draining)
		{
			d->sweep = false;
			push_claim(d);
		}
		location_tick(d);
		if (!d->draining)
			housekeeping_tick(d);
		reconcile_tick(d);
		if (d->draining)
			push_release_queued(d);	/* e.g. resends after a 401 */
		push_dispatch(d);
		push_flush(d);
		publish_loop_state(d);

		if (d->draining && idle(d))
			break;
		if (d->once && idle(d) && d->last_claimed == 0 && !d->sweep)
			break;

		now = monotonic_ms();
		timeout = (int) (next_poll - now);
		if (push_wants_claim(d))
			timeout = d->next_claim_ms > now ? (int) (d->next_claim_ms - now) : 0;
		if (d->queued > 0 && timeout > 50)
			timeout = 50;		/* jobs wait for a rate-limit token: look again soon */
		if (d->nfinished > 0 && timeout > 250)
			timeout = 250;		/* results wait for a lock another transaction holds */
		if (timeout > 1000)
			timeout = 1000;
		if (timeout < 0)
			timeout = 0;
		extra[nextra++] = (struct curl_waitfd) {.fd = signal_fd, .events = CURL_WAIT_POLLIN};
		if (db_socket(&d->listen) >= 0)
			extra[nextra++] = (struct curl_waitfd) {.fd = db_socket(&d->listen), .events = CURL_WAIT_POLLIN};
		if (reconcile_socket(d) >= 0)
			extra[nextra++] = (struct curl_waitfd) {.fd = reconcile_socket(d), .events = CURL_WAIT_POLLIN};
		ghl_client_wait(d->ghl, extra, nextra, timeout);
		ghl_client_dispatch(d->ghl);
	}

	push_release_queued(d);
	for (int tries = 0; tries < 3 && !push_flush(d); tries++)
		usleep(200 * 1000);
	sync_http_stop(http);
	log_info("SYNC", "stopped", json_pack("{s:s}", "session_id", d->session_id));
	ghl_client_free(d->ghl);
	fetches_free(d);
	reconcile_free(d);
	locations_free(d);
	while (d->finished)
	{
		Job		   *job = d->finished;

		d->finished = job->next;
		job_free(job);
	}
	json_decref(d->operations);
	free(d->calendars_for);
	db_close(&d->listen);
	db_close(&d->worker);
	db_close(&d->reconciler);
	free(d->listen.conninfo);
	free(d->worker.conninfo);
	free(d->reconciler.conninfo);
	config_free(d->config);
	curl_global_cleanup();
	close(signal_fd);
	return 0;
}

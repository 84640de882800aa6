/*
 * sim_webhooks.c — delivering GHL's appointment webhooks.
 *
 * A change made in the simulator (by the API or as a GHL user) enqueues
 * {type, locationId, appointment, timestamp, webhookId}, serialized once and
 * signed over those exact bytes: Ed25519 in x-ghl-signature and RSA-SHA256
 * in x-wh-signature, with the simulator's own keys (their public halves are
 * written to the keys directory for the daemon).  One thread posts them
 * with libcurl and retries non-2xx answers like GHL (every
 * retry_interval_ms, at most max_retries times, same webhookId and body).
 * Options duplicate, delay, hold (then release in order or reversed) and
 * retry only on 429 let tests exercise the receiver.
 */
#include "sim.h"
#include "common/alloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/iso_time.h"
#include "common/log.h"
#include "common/webhook_signature.h"

typedef struct Delivery
{
	struct Delivery *next;
	char	   *webhook_id;
	char	   *type;
	char	   *body;
	char	   *ed25519;
	char	   *rsa;
	int			attempts;
	int64_t		due_ms;
	int64_t		seq;
	bool		held;
} Delivery;

typedef struct WebhookConfig
{
	char	   *url;
	double		duplicate_rate;
	int			delay_ms;
	bool		hold;
	int			retry_interval_ms;
	int			max_retries;
	bool		retry_only_429;
	bool		sign_rsa;
} WebhookConfig;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static bool running = false;
static bool stopping = false;
static Delivery *queue = NULL;
static int64_t next_seq = 0;
static WebhookConfig config;
static WebhookConfig startup_config;
static int64_t sent,
			failed,
			retried,
			undeliverable;
static json_t *recent;
static EVP_PKEY *ed25519_key;
static EVP_PKEY *rsa_key;
static char *public_paths[2];

static void
free_delivery(Delivery *d)
{
	free(d->webhook_id);
	free(d->type);
	free(d->body);
	free(d->ed25519);
	free(d->rsa);
	free(d);
}

static Delivery *
copy_delivery(const Delivery *d)
{
	Delivery   *c = xcalloc(1, sizeof(*c));

	c->webhook_id = xstrdup(d->webhook_id);
	c->type = xstrdup(d->type);
	c->body = xstrdup(d->body);
	c->ed25519 = d->ed25519 ? xstrdup(d->ed25519) : NULL;
	c->rsa = d->rsa ? xstrdup(d->rsa) : NULL;
	c->due_ms = d->due_ms;
	c->held = d->held;
	c->seq = next_seq++;
	return c;
}

/* Inserts keeping the queue ordered by due time, then by sequence. */
static void
enqueue(Delivery *d)
{
	Delivery  **p = &queue;

	while (*p && ((*p)->due_ms < d->due_ms || ((*p)->due_ms == d->due_ms && (*p)->seq < d->seq)))
		p = &(*p)->next;
	d->next = *p;
	*p = d;
	pthread_cond_signal(&wake);
}

static void
remember(const Delivery *d, long status)
{
	json_array_append_new(recent, json_pack("{s:s, s:s, s:i, s:i}", "webhookId", d->webhook_id,
											"type", d->type, "attempts", d->attempts, "status", (int) status));
	while (json_array_size(recent) > 500)
		json_array_remove(recent, 0);
}

static size_t
discard(char *data, size_t size, size_t n, void *user)
{
	(void) data;
	(void) user;
	return size * n;
}

static long
post(const Delivery *d, const char *url)
{
	CURL	   *curl = curl_easy_init();
	struct curl_slist *headers = NULL;
	char	   *header;
	long		status = 0;

	if (curl == NULL)
		return 0;
	headers = curl_slist_append(headers, "Content-Type: application/json");
	if (d->ed25519)
	{
		header = xasprintf("x-ghl-signature: %s", d->ed25519);
		headers = curl_slist_append(headers, header);
		free(header);
	}
	if (d->rsa)
	{
		header = xasprintf("x-wh-signature: %s", d->rsa);
		headers = curl_slist_append(headers, header);
		free(header);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(d->body));
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return status;
}

static void *
deliver_loop(void *arg)
{
	(void) arg;
	pthread_mutex_lock(&lock);
	while (!stopping)
	{
		Delivery   *d = queue;
		int64_t		now = monotonic_ms();
		char	   *url;
		long		status;

		while (d && d->held)
			d = d->next;
		if (d == NULL || d->due_ms > now)
		{
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;	/* every wait has a timeout */
			pthread_cond_timedwait(&wake, &lock, &until);
			continue;
		}
		/* unlink d */
		for (Delivery **p = &queue; *p; p = &(*p)->next)
			if (*p == d)
			{
				*p = d->next;
				break;
			}
		url = config.url ? xstrdup(config.url) : NULL;
		pthread_mutex_unlock(&lock);

		d->attempts++;
		status = url ? post(d, url) : 0;
		free(url);

		pthread_mutex_lock(&lock);
		remember(d, status);
		if (status >= 200 && status < 300)
		{
			sent++;
			free_delivery(d);
		}
		else if (d->attempts <= config.max_retries && (!config.retry_only_429 || status == 429))
		{
			retried++;
			d->due_ms = monotonic_ms() + config.retry_interval_ms;
			enqueue(d);
		}
		else
		{
			failed++;
			log_warn("WEBHOOK", "webhook delivery given up",
					 json_pack("{s:s, s:s, s:i, s:i}", "webhook_id", d->webhook_id, "type", d->type,
							   "attempts", d->attempts, "status", (int) status));
			free_delivery(d);
		}
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static char *
uuid4(void)
{
	unsigned char b[16];
	char	   *s = xmalloc(37);

	if (RAND_bytes(b, sizeof(b)) != 1)
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char) (sim_random() * 256);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(s, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return s;
}

/* The appointment as GHL's Appointment* webhooks carry it. */
static json_t *
webhook_appointment(json_t *event)
{
	const char *fields[] = {"id", "address", "title", "calendarId", "contactId", "groupId", "appointmentStatus",
		"assignedUserId", "users", "notes", "startTime", "endTime", "dateAdded", "dateUpdated"};
	json_t	   *out = json_object();

	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
	{
		json_t	   *value = json_object_get(event, fields[i]);

		json_object_set_new(out, fields[i], value ? json_incref(value) : json_string(""));
	}
	json_object_set_new(out, "source",
						json_incref(json_object_get(json_object_get(event, "createdBy"), "source")) ?: json_string("api"));
	return out;
}

void
webhooks_emit(const char *type, const char *location_id, json_t *event)
{
	char		stamp[40];
	char	   *id = uuid4();
	json_t	   *body;
	Delivery   *d;

	iso_time_format_utc(now_ms(), stamp, sizeof(stamp));
	body = json_pack("{s:s, s:s, s:o, s:s, s:s}", "type", type, "locationId", location_id,
					 "appointment", webhook_appointment(event), "timestamp", stamp, "webhookId", id);
	d = xcalloc(1, sizeof(*d));
	d->webhook_id = id;
	d->type = xstrdup(type);
	d->body = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	d->ed25519 = signature_sign(ed25519_key, SIGNATURE_ED25519, (unsigned char *) d->body, strlen(d->body));

	pthread_mutex_lock(&lock);
	if (config.sign_rsa)
		d->rsa = signature_sign(rsa_key, SIGNATURE_RSA_SHA256, (unsigned char *) d->body, strlen(d->body));
	if (config.url == NULL)
	{
		undeliverable++;
		free_delivery(d);
		pthread_mutex_unlock(&lock);
		return;
	}
	d->due_ms = monotonic_ms() + config.delay_ms;
	d->held = config.hold;
	d->seq = next_seq++;
	if (sim_random() < config.duplicate_rate)
		enqueue(copy_delivery(d));
	enqueue(d);
	pthread_mutex_unlock(&lock);
}

static int
by_seq(const void *a, const void *b)
{
	const Delivery *x = *(Delivery *const *) a;
	const Delivery *y = *(Delivery *const *) b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Delivers held webhooks now: in the order they were made, or reversed. */
void
webhooks_release(bool reverse)
{
	Delivery   *held[1024];
	int			n = 0;
	int64_t		now = monotonic_ms();

	pthread_mutex_lock(&lock);
	for (Delivery **p = &queue; *p;)
	{
		if ((*p)->held && n < (int) (sizeof(held) / sizeof(*held)))
		{
			held[n++] = *p;
			*p = (*p)->next;
		}
		else
			p = &(*p)->next;
	}
	qsort(held, n, sizeof(*held), by_seq);
	for (int i = 0; i < n; i++)
	{
		Delivery   *d = held[reverse ? n - 1 - i : i];

		d->held = false;
		d->due_ms = now;
		d->seq = next_seq++;
		enqueue(d);
	}
	pthread_mutex_unlock(&lock);
}

static bool
write_file(const char *path, const char *text, mode_t mode)
{
	FILE	   *f;
	int			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		return false;
	fputs(text, f);
	return fclose(f) == 0;
}

static EVP_PKEY *
load_or_create_key(const char *dir, const char *name, SignatureKind kind, int index)
{
	char		private_path[4096],
				public_path[4096];
	EVP_PKEY   *key;
	char	   *pem;

	snprintf(private_path, sizeof(private_path), "%s/ghl-sim-%s.key.pem", dir, name);
	snprintf(public_path, sizeof(public_path), "%s/ghl-sim-%s.pub.pem", dir, name);
	key = key_from_file(private_path, true);
	if (key == NULL)
	{
		key = key_generate(kind);
		pem = key ? key_to_pem(key, true) : NULL;
		if (pem == NULL || !write_file(private_path, pem, 0600))
		{
			free(pem);
			EVP_PKEY_free(key);
			return NULL;
		}
		free(pem);
	}
	pem = key_to_pem(key, false);
	if (pem == NULL || !write_file(public_path, pem, 0644))
	{
		free(pem);
		EVP_PKEY_free(key);
		return NULL;
	}
	free(pem);
	public_paths[index] = xstrdup(public_path);
	return key;
}

const char *
webhooks_public_key_path(bool rsa)
{
	return public_paths[rsa ? 1 : 0];
}

bool
webhooks_start(const char *keys_dir)
{
	if (mkdir(keys_dir, 0700) != 0 && errno != EEXIST)
		return false;
	ed25519_key = load_or_create_key(keys_dir, "ed25519", SIGNATURE_ED25519, 0);
	rsa_key = load_or_create_key(keys_dir, "rsa", SIGNATURE_RSA_SHA256, 1);
	if (ed25519_key == NULL || rsa_key == NULL)
		return false;
	recent = json_array();
	config.url = store.config.webhook_url ? xstrdup(store.config.webhook_url) : NULL;
	config.retry_interval_ms = 600000;	/* GHL: every 10 minutes */
	config.max_retries = 6;
	config.sign_rsa = true;
	startup_config = config;
	startup_config.url = config.url ? xstrdup(config.url) : NULL;
	running = pthread_create(&thread, NULL, deliver_loop, NULL) == 0;
	return running;
}

void
webhooks_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = false;
	while (queue)
	{
		Delivery   *d = queue;

		queue = d->next;
		free_delivery(d);
	}
	free(config.url);
	free(startup_config.url);
	config.url = startup_config.url = NULL;
	json_decref(recent);
	EVP_PKEY_free(ed25519_key);
	EVP_PKEY_free(rsa_key);
	free(public_paths[0]);
	free(public_paths[1]);
}

void
webhooks_reset(void)
{
	pthread_mutex_lock(&lock);
	while (queue)
	{
		Delivery   *d = queue;

		queue = d->next;
		free_delivery(d);
	}
	free(config.url);
	config = startup_config;
	config.url = startup_config.url ? xstrdup(startup_config.url) : NULL;
	sent = failed = retried = undeliverable = 0;
	json_array_clear(recent);
	pthread_mutex_unlock(&lock);
}

json_t *
webhooks_config(void)
{
	json_t	   *result;

	pthread_mutex_lock(&lock);
	result = json_pack("{s:s?, s:f, s:i, s:b, s:i, s:i, s:s, s:b, s:b}",
					   "url", config.url, "duplicate_rate", config.duplicate_rate, "delay_ms", config.delay_ms,
					   "hold", config.hold, "retry_interval_ms", config.retry_interval_ms,
					   "max_retries", config.max_retries, "retry_on", config.retry_only_429 ? "429" : "all",
					   "sign_rsa", config.sign_rsa, "for_api_changes", store.config.webhooks_for_api);
	pthread_mutex_unlock(&lock);
	return result;
}

bool
webhooks_configure(json_t *settings, char *error, size_t size)
{
	const char *key;
	json_t	   *value;
	WebhookConfig next;
	bool		for_api = store.config.webhooks_for_api;

	if (!json_is_object(settings))
	{
		snprintf(error, size, "webhook settings must be a JSON object");
		return false;
	}
	pthread_mutex_lock(&lock);
	next = config;
	next.url = config.url ? xstrdup(config.url) : NULL;
	json_object_foreach(settings, key, value)
	{
		const char *problem = NULL;

		if (strcmp(key, "url") == 0)
		{
			if (json_is_null(value) || (json_is_string(value) && strncmp(json_string_value(value), "http", 4) == 0))
			{
				free(next.url);
				next.url = json_is_null(value) ? NULL : xstrdup(json_string_value(value));
			}
			else
				problem = "url must be an http(s) URL or null";
		}
		else if (strcmp(key, "duplicate_rate") == 0 && json_is_number(value) &&
				 json_number_value(value) >= 0 && json_number_value(value) <= 1)
			next.duplicate_rate = json_number_value(value);
		else if (strcmp(key, "delay_ms") == 0 && json_is_integer(value) &&
				 json_integer_value(value) >= 0 && json_integer_value(value) <= 3600000)
			next.delay_ms = (int) json_integer_value(value);
		else if (strcmp(key, "retry_interval_ms") == 0 && json_is_integer(value) &&
				 json_integer_value(value) >= 0 && json_integer_value(value) <= 86400000)
			next.retry_interval_ms = (int) json_integer_value(value);
		else if (strcmp(key, "max_retries") == 0 && json_is_integer(value) &&
				 json_integer_value(value) >= 0 && json_integer_value(value) <= 100)
			next.max_retries = (int) json_integer_value(value);
		else if (strcmp(key, "hold") == 0 && json_is_boolean(value))
			next.hold = json_is_true(value);
		else if (strcmp(key, "sign_rsa") == 0 && json_is_boolean(value))
			next.sign_rsa = json_is_true(value);
		else if (strcmp(key, "for_api_changes") == 0 && json_is_boolean(value))
			for_api = json_is_true(value);
		else if (strcmp(key, "retry_on") == 0 && json_is_string(value) &&
				 (strcmp(json_string_value(value), "all") == 0 || strcmp(json_string_value(value), "429") == 0))
			next.retry_only_429 = strcmp(json_string_value(value), "429") == 0;
		else
			problem = "unknown or invalid webhook setting";
		if (problem)
		{
			snprintf(error, size, "%s: \"%.64s\"", problem, key);
			free(next.url);
			pthread_mutex_unlock(&lock);
			return false;
		}
	}
	free(config.url);
	config = next;
	store.config.webhooks_for_api = for_api;
	pthread_mutex_unlock(&lock);
	return true;
}

json_t *
webhooks_state(void)
{
	json_t	   *result;
	int			queued = 0,
				held = 0;

	pthread_mutex_lock(&lock);
	for (Delivery *d = queue; d; d = d->next)
	{
		queued++;
		held += d->held;
	}
	result = json_pack("{s:s?, s:I, s:I, s:I, s:I, s:i, s:i, s:O}",
					   "url", config.url, "sent", (json_int_t) sent, "failed", (json_int_t) failed,
					   "retried", (json_int_t) retried, "undeliverable", (json_int_t) undeliverable,
					   "queued", queued, "held", held, "deliveries", recent);
	pthread_mutex_unlock(&lock);
	return result;
}

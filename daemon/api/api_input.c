/*
 * api_input.c — what a request says, checked before the database sees it:
 * the JSON body (jansson; duplicate keys refused), its fields by kind, the
 * page and the query parameters.  Every problem of a body is reported at
 * once, per field, as DRF does; the database then judges the rules.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "common/alloc.h"
#include "common/iso_time.h"

bool
api_read_body(ApiRequest *request)
{
	const char *type = http_header(request->http, "Content-Type");
	json_error_t error;

	if (request->http->len == 0)
	{
		request->body = json_object();
		return true;
	}
	if (type == NULL || strncasecmp(type, "application/json", 16) != 0)
	{
		char		text[160];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(text, sizeof(text), api_message(request->language, "Unsupported media type \"%s\" in request."),
				 type ? type : "");
#pragma GCC diagnostic pop
		http_reply_json(request->reply, 415, json_pack("{s:s}", "detail", text));
		return false;
	}
	request->body = json_loadb(request->http->body, request->http->len, JSON_REJECT_DUPLICATES, &error);
	if (request->body == NULL)
	{
		char		text[300];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(text, sizeof(text), api_message(request->language, "JSON parse error - %s"), error.text);
#pragma GCC diagnostic pop
		http_reply_json(request->reply, 400, json_pack("{s:s}", "detail", text));
		return false;
	}
	if (!json_is_object(request->body))
	{
		http_reply_json(request->reply, 400, json_pack("{s:[s]}", "non_field_errors",
													   api_message(request->language, "Expected a JSON object.")));
		return false;
	}
	return true;
}

/* Characters, not bytes: jansson has checked the string is UTF-8. */
static size_t
utf8_length(const char *text)
{
	size_t		n = 0;

	for (; *text; text++)
		n += ((unsigned char) *text & 0xC0) != 0x80;
	return n;
}

static bool
is_date(const char *text)
{
	int64_t		ms;
	char		noon[40];

	if (strlen(text) != 10 || text[4] != '-' || text[7] != '-')
		return false;
	snprintf(noon, sizeof(noon), "%sT12:00:00Z", text);
	return iso_time_parse(noon, &ms, NULL);
}

/* An ISO 8601 time with its offset; seconds may be left out, as DRF allows. */
static bool
is_time(const char *text)
{
	int64_t		ms;
	char		with_seconds[64];
	size_t		len = strlen(text);

	if (iso_time_parse(text, &ms, NULL))
		return true;
	if (len < 17 || len > 40 || text[13] != ':' || !isdigit((unsigned char) text[15]) ||
		isdigit((unsigned char) text[16]) || text[16] == ':')
		return false;
	snprintf(with_seconds, sizeof(with_seconds), "%.16s:00%s", text, text + 16);
	return iso_time_parse(with_seconds, &ms, NULL);
}

/* "[D ]HH:MM:SS" as DRF writes durations, to PostgreSQL's interval text; NULL if not one. */
static char *
duration_text(const char *text)
{
	long		days = 0;
	int			hours,
				minutes,
				seconds,
				used = 0;

	if (sscanf(text, "%ld %d:%d:%d%n", &days, &hours, &minutes, &seconds, &used) == 4 && text[used] == '\0')
		;
	else if (days = 0, used = 0, sscanf(text, "%d:%d:%d%n", &hours, &minutes, &seconds, &used) == 3 &&
			 text[used] == '\0')
		;
	else
		return NULL;
	if (days < 0 || days > 365 || hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59)
		return NULL;
	return xasprintf("%ld days %02d:%02d:%02d", days, hours, minutes, seconds);
}

static bool
is_boolean(json_t *value, bool *truth)
{
	const char *text = json_string_value(value);

	if (json_is_boolean(value))
		return *truth = json_is_true(value), true;
	if (text && (strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0))
		return *truth = true, true;
	if (text && (strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0))
		return *truth = false, true;
	return false;
}

static void
add_error(json_t *errors, const char *field, const char *text)
{
	json_object_set_new(errors, field, json_pack("[s]", text));
}

/* A value of a kind, as text for a parameter; NULL with the message in error. */
static char *
checked(ApiRequest *request, const Field *field, json_t *value, char *error, size_t size)
{
	const char *text = json_string_value(value);
	Language	l = request->language;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	switch (field->kind)
	{
		case FIELD_TEXT:
			if (text == NULL || json_string_length(value) != strlen(text))
				snprintf(error, size, "%s", api_message(l, "Not a valid string."));
			else if (field->max_length > 0 && utf8_length(text) > (size_t) field->max_length)
				snprintf(error, size, api_message(l, "Ensure this field has no more than %d characters."),
						 field->max_length);
			else
				return xstrdup(text);
			return NULL;
		case FIELD_TIME:
			if (text && is_time(text))
				return xstrdup(text);
			snprintf(error, size, "%s", api_message(l, "Datetime has wrong format. Use one of these formats instead: "
													 "YYYY-MM-DDThh:mm[:ss][+HH:MM|-HH:MM|Z]."));
			return NULL;
		case FIELD_DATE:
			if (text && is_date(text))
				return xstrdup(text);
			snprintf(error, size, "%s", api_message(l, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."));
			return NULL;
		case FIELD_BOOL:
			{
				bool		truth;

				if (is_boolean(value, &truth))
					return xstrdup(truth ? "true" : "false");
				snprintf(error, size, "%s", api_message(l, "Must be a valid boolean."));
				return NULL;
			}
		case FIELD_DURATION:
			{
				char	   *interval = text ? duration_text(text) : NULL;

				if (interval == NULL)
					snprintf(error, size, "%s", api_message(l, "Duration has wrong format. Use one of these formats "
															 "instead: [DD] [HH:[MM:]]ss[.uuuuuu]."));
				return interval;
			}
		case FIELD_CHOICE:
			for (int i = 0; text && field->choices[i]; i++)
				if (strcmp(text, field->choices[i]) == 0)
					return xstrdup(text);
			snprintf(error, size, api_message(l, "\"%s\" is not a valid choice."), text ? text : "?");
			return NULL;
		case FIELD_ID:
			if (json_is_integer(value) && json_integer_value(value) > 0)
				return xasprintf("%lld", (long long) json_integer_value(value));
			if (text && *text && strspn(text, "0123456789") == strlen(text) && strlen(text) <= 18 && atoll(text) > 0)
				return xstrdup(text);
			snprintf(error, size, "%s", api_message(l, "A valid integer is required."));
			return NULL;
	}
#pragma GCC diagnostic pop
	return NULL;
}

static const Field *
field_named(const Field *fields, int nfields, const char *name)
{
	for (int i = 0; i < nfields; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

json_t *
api_validate(ApiRequest *request, const Field *fields, int nfields, bool complete)
{
	json_t	   *errors = json_object();
	json_t	   *values = json_object();
	const char *key;
	json_t	   *value;

	json_object_foreach(request->body, key, value)
	{
		if (field_named(fields, nfields, key) == NULL)
			add_error(errors, key, api_message(request->language, "Unknown field."));
	}
	for (int i = 0; i < nfields; i++)
	{
		const Field *field = &fields[i];
		char		error[300];
		char	   *text;

		value = json_object_get(request->body, field->name);
		if (value == NULL)
		{
			if (complete && field->required)
				add_error(errors, field->name, api_message(request->language, "This field is required."));
			continue;
		}
		if (json_is_null(value))
		{
			if (field->nullable)
				json_object_set_new(values, field->name, json_null());
			else
				add_error(errors, field->name, api_message(request->language, "This field may not be null."));
			continue;
		}
		text = checked(request, field, value, error, sizeof(error));
		if (text == NULL)
			add_error(errors, field->name, error);
		else
			json_object_set_new(values, field->name, json_string(text));
		free(text);
	}
	if (json_object_size(errors) > 0)
	{
		http_reply_json(request->reply, 400, errors);
		json_decref(values);
		return NULL;
	}
	json_decref(errors);
	return values;
}

bool
api_page(ApiRequest *request, const ApiSettings *settings, ApiPlan *plan)
{
	const char *page = http_query(request->http, "page");
	const char *size = http_query(request->http, "page_size");
	long		n;
	char	   *end;

	plan->paged = true;
	plan->page = 1;
	plan->page_size = settings->page_size;
	if (page && strcmp(page, "last") != 0)
	{
		n = strtol(page, &end, 10);
		if (*page == '\0' || *end != '\0' || n < 1 || n > 1000000)
		{
			api_reply_detail(request, 404, "Invalid page.");
			return false;
		}
		plan->page = (int) n;
	}
	/* as DRF's PageNumberPagination: a bad page_size means the default, a big one the maximum */
	if (size)
	{
		n = strtol(size, &end, 10);
		if (*size != '\0' && *end == '\0' && n > 0)
			plan->page_size = n > settings->max_page_size ? settings->max_page_size : (int) n;
	}
	return true;
}

const char *
api_query_value(ApiRequest *request, const Field *field, bool *bad)
{
	const char *text = http_query(request->http, field->name);
	json_t	   *value;
	char		error[300];
	char	   *checked_text;

	*bad = false;
	if (text == NULL || *text == '\0')
		return NULL;
	value = json_string(text);
	checked_text = value ? checked(request, field, value, error, sizeof(error)) : NULL;
	json_decref(value);
	if (checked_text == NULL)
	{
		http_reply_json(request->reply, 400, json_pack("{s:[s]}", field->name, value ? error : "?"));
		*bad = true;
		return NULL;
	}
	return api_keep(request, checked_text);
}

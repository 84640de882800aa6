/*
 * settings.c — see settings.h.
 */
#include "common/settings.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/webhook_signature.h"

typedef struct FileValues
{
	int			count;
	char	   *keys[256];
	char	   *values[256];
} FileValues;

static void
free_file_values(FileValues *values)
{
	for (int i = 0; i < values->count; i++)
	{
		free(values->keys[i]);
		free(values->values[i]);
	}
}

static char *
trim(char *s)
{
	char	   *end;

	while (isspace((unsigned char) *s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char) end[-1]))
		*--end = '\0';
	return s;
}

/* KEY=VALUE lines, as in .env files: # comments, optional export and quotes. */
static bool
read_env_file(const char *path, FileValues *values, char *error, size_t size)
{
	FILE	   *f = fopen(path, "r");
	char		line[4096];
	int			number = 0;

	if (f == NULL)
	{
		snprintf(error, size, "cannot read env file %s: %s", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *text = trim(line);
		char	   *eq;
		char	   *value;
		size_t		len;

		number++;
		if (*text == '\0' || *text == '#')
			continue;
		if (strncmp(text, "export ", 7) == 0)
			text = trim(text + 7);
		eq = strchr(text, '=');
		if (eq == NULL || eq == text)
		{
			snprintf(error, size, "%s:%d: expected KEY=VALUE", path, number);
			fclose(f);
			return false;
		}
		*eq = '\0';
		value = trim(eq + 1);
		len = strlen(value);
		if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0])
		{
			value[len - 1] = '\0';
			value++;
		}
		if (values->count == 256)
			break;
		values->keys[values->count] = xstrdup(trim(text));
		values->values[values->count] = xstrdup(value);
		values->count++;
	}
	fclose(f);
	return true;
}

static const char *
lookup(const FileValues *file, const char *name)
{
	const char *value = getenv(name);

	if (value)
		return value;
	for (int i = file->count - 1; i >= 0; i--)
		if (strcmp(file->keys[i], name) == 0)
			return file->values[i];
	return NULL;
}

static bool
decode_key(const char *text, unsigned char key[32])
{
	size_t		len = strlen(text);
	size_t		n;
	unsigned char *bytes;
	bool		ok;

	if (len == 64)
	{
		for (int i = 0; i < 32; i++)
		{
			unsigned int byte;

			if (!isxdigit((unsigned char) text[2 * i]) || !isxdigit((unsigned char) text[2 * i + 1]) ||
				sscanf(text + 2 * i, "%2x", &byte) != 1)
				return false;
			key[i] = (unsigned char) byte;
		}
		return true;
	}
	bytes = base64_decode(text, &n);
	ok = bytes && n == 32;
	if (ok)
		memcpy(key, bytes, 32);
	free(bytes);
	return ok;
}

static bool
parse_bool(const char *text, bool *value)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
	{
		if (strcasecmp(text, yes[i]) == 0)
			return *value = true, true;
		if (strcasecmp(text, no[i]) == 0)
			return *value = false, true;
	}
	return false;
}

/* Stores one value; false with the problem in error. */
static bool
set_one(const Setting *s, const char *value, char *field, char *error, size_t size)
{
	switch (s->kind)
	{
		case SETTING_TEXT:
			*(char **) field = xstrdup(value);
			return true;
		case SETTING_NUMBER:
			{
				char	   *end;
				long		n;

				errno = 0;
				n = strtol(value, &end, 10);
				if (*value == '\0' || *end != '\0' || errno != 0 || n < s->min || n > s->max)
				{
					snprintf(error, size, "%s must be a whole number from %ld to %ld, not \"%.40s\"",
							 s->name, s->min, s->max, value);
					return false;
				}
				*(int *) field = (int) n;
				return true;
			}
		case SETTING_KEY:
			if (decode_key(value, (unsigned char *) field))
				return true;
			snprintf(error, size, "%s must be 32 bytes in base64 (44 characters) or hex (64)", s->name);
			return false;
		case SETTING_LEVEL:
			if (log_parse_level(value, (LogLevel *) field))
				return true;
			snprintf(error, size, "%s must be debug, info, warn or error, not \"%.40s\"", s->name, value);
			return false;
		case SETTING_BOOL:
			if (parse_bool(value, (bool *) field))
				return true;
			snprintf(error, size, "%s must be True or False, not \"%.40s\"", s->name, value);
			return false;
	}
	return false;
}

void *
settings_load(const SettingsTable *table, const char *env_file, char *error, size_t size)
{
	FileValues	file = {0};
	char	   *settings = xcalloc(1, table->size);

	if (env_file && !read_env_file(env_file, &file, error, size))
	{
		free(settings);
		free_file_values(&file);
		return NULL;
	}
	for (size_t i = 0; i < table->count; i++)
	{
		const Setting *s = &table->settings[i];
		const char *value = lookup(&file, s->name);

		if (value == NULL || (*value == '\0' && s->kind != SETTING_TEXT))
			value = s->fallback;
		if (value == NULL)
		{
			snprintf(error, size, "%s is not set: %s", s->name, s->help);
			break;
		}
		if (!set_one(s, value, settings + s->offset, error, size))
			break;
		if (i + 1 == table->count)
		{
			free_file_values(&file);
			return settings;
		}
	}
	free_file_values(&file);
	settings_free(table, settings);
	return NULL;
}

void
settings_free(const SettingsTable *table, void *settings)
{
	if (settings == NULL)
		return;
	for (size_t i = 0; i < table->count; i++)
	{
		const Setting *s = &table->settings[i];
		char	   *field = (char *) settings + s->offset;

		if (s->kind == SETTING_TEXT)
			free(*(char **) field);
		else if (s->kind == SETTING_KEY)
			memset(field, 0, 32);
	}
	free(settings);
}

void
settings_help(const SettingsTable *table, FILE *out)
{
	for (size_t i = 0; i < table->count; i++)
	{
		const Setting *s = &table->settings[i];
		bool		shown = s->fallback && *s->fallback;

		fprintf(out, "  %-32s %s%s%s%s\n", s->name, s->help, shown ? " (default " : "",
				shown ? s->fallback : "", shown ? ")" : "");
	}
}

/* text as "# " lines of at most 78 characters, broken between words */
static void
print_comment(FILE *out, const char *text)
{
	const int	width = 76;

	while (*text)
	{
		int			length = (int) strlen(text);

		if (length > width)
		{
			length = width;
			while (length > 0 && text[length] != ' ')
				length--;
			if (length == 0)	/* one long word */
				length = (int) strcspn(text, " ");
		}
		fprintf(out, "# %.*s\n", length, text);
		text += length;
		while (*text == ' ')
			text++;
	}
}

void
settings_env_example(const SettingsTable *table, FILE *out)
{
	char		header[256];

	snprintf(header, sizeof(header), "%s settings, generated by %s --env-example (%s --help describes "
			 "the same).  The environment wins over this file.  Empty values take the default.",
			 table->program, table->program, table->program);
	print_comment(out, header);
	for (size_t i = 0; i < table->count; i++)
	{
		const Setting *s = &table->settings[i];

		char		comment[1024];

		snprintf(comment, sizeof(comment), "%s%s", s->help, s->fallback ? "" : " (required)");
		fputc('\n', out);
		print_comment(out, comment);
		fprintf(out, "%s=%s\n", s->name, s->secret || s->fallback == NULL ? "" : s->fallback);
	}
}

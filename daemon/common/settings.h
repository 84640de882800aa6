/*
 * settings.h — a program's settings as one table: each row names an
 * environment variable (the Django service's names where it had them), its
 * kind, default, range and meaning, and where it goes in the program's
 * settings struct.  Loading reads the environment, then an optional env
 * file for what the environment does not set, validates everything and
 * reports the first problem precisely; nothing is half-applied.  --help
 * and .env.example are generated from the same table.
 */
#ifndef REFLEXO_SETTINGS_H
#define REFLEXO_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum SettingKind
{
	SETTING_TEXT,				/* char * (malloc'd) */
	SETTING_NUMBER,				/* int, within [min, max] */
	SETTING_KEY,				/* unsigned char[32], base64 or hex */
	SETTING_LEVEL,				/* LogLevel: debug, info, warn, error */
	SETTING_BOOL				/* bool: true/false, yes/no, on/off, 1/0 (any case) */
} SettingKind;

typedef struct Setting
{
	const char *name;
	SettingKind kind;
	size_t		offset;			/* in the settings struct */
	const char *fallback;		/* NULL: required */
	long		min,
				max;
	const char *help;
	bool		secret;			/* never shown, left blank in .env.example */
} Setting;

typedef struct SettingsTable
{
	const char *program;
	const Setting *settings;
	size_t		count;
	size_t		size;			/* of the settings struct */
} SettingsTable;

/* A new settings struct, or NULL with the problem in error. */
extern void *settings_load(const SettingsTable *table, const char *env_file, char *error, size_t error_size);
extern void settings_free(const SettingsTable *table, void *settings);

/* One line per setting, for --help. */
extern void settings_help(const SettingsTable *table, FILE *out);

/* The settings as an env file: each one commented, defaults as values. */
extern void settings_env_example(const SettingsTable *table, FILE *out);

#endif							/* REFLEXO_SETTINGS_H */

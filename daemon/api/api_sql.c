/*
 * api_sql.c — INSERT and UPDATE statements for the fields a request gave.
 * Only column names and casts from the endpoint's own field table go into
 * the SQL text; every value travels in one jsonb parameter.  Leaving a
 * column out lets its default apply (INSERT) or keeps it (UPDATE, as DRF's
 * PUT and PATCH both keep what they are not given).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "common/alloc.h"

const char *
api_sql(ApiRequest *request, const char *format,...)
{
	va_list		args;
	char	   *text;

	va_start(args, format);
	text = xvasprintf(format, args);
	va_end(args);
	return api_keep(request, text);
}

const char *
api_id_text(ApiRequest *request)
{
	return api_keep(request, xasprintf("%lld", (long long) request->id));
}

/* A field given that is a column (not an option of the request, which has no SQL type). */
static bool
is_column(const Field *field, json_t *values)
{
	return field->sql_type && json_object_get(values, field->name);
}

char *
api_insert_sql(const char *relation, const Field *fields, int nfields, json_t *values, int param)
{
	char	   *text = NULL;
	size_t		len = 0;
	FILE	   *out = open_memstream(&text, &len);
	const char *comma = "";

	fprintf(out, "INSERT INTO %s (", relation);
	for (int i = 0; i < nfields; i++)
		if (is_column(&fields[i], values))
		{
			fprintf(out, "%s%s", comma, fields[i].name);
			comma = ", ";
		}
	fputs(") SELECT ", out);
	comma = "";
	for (int i = 0; i < nfields; i++)
		if (is_column(&fields[i], values))
		{
			fprintf(out, "%s(x.v ->> '%s')::%s", comma, fields[i].name, fields[i].sql_type);
			comma = ", ";
		}
	fprintf(out, " FROM (SELECT $%d::pg_catalog.jsonb AS v) x RETURNING *", param);
	fclose(out);
	return text;
}

char *
api_update_sql(const char *relation, const Field *fields, int nfields, json_t *values, int id_param,
			   int values_param)
{
	char	   *text = NULL;
	size_t		len = 0;
	FILE	   *out = open_memstream(&text, &len);
	const char *comma = "";

	int			ncolumns = 0;

	for (int i = 0; i < nfields; i++)
		ncolumns += is_column(&fields[i], values);
	if (ncolumns == 0)
		fprintf(out, "SELECT t.* FROM %s t WHERE t.id = $%d AND $%d::pg_catalog.jsonb IS NOT NULL",
				relation, id_param, values_param);
	else
	{
		fprintf(out, "UPDATE %s AS t SET ", relation);
		for (int i = 0; i < nfields; i++)
			if (is_column(&fields[i], values))
			{
				fprintf(out, "%s%s = (x.v ->> '%s')::%s", comma, fields[i].name, fields[i].name, fields[i].sql_type);
				comma = ", ";
			}
		fprintf(out, " FROM (SELECT $%d::pg_catalog.jsonb AS v) x WHERE t.id = $%d RETURNING t.*",
				values_param, id_param);
	}
	fclose(out);
	return text;
}

/*
 * open_hours.c — the reflexo.open_hours type: text and binary I/O,
 * equality, the cast from GHL's openHours JSON, and within_open_hours().
 */
#include "open_hours.h"
#include "reflexo.h"

#include "libpq/pqformat.h"
#include "local_time.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/rangetypes.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(open_hours_in);
PG_FUNCTION_INFO_V1(open_hours_out);
PG_FUNCTION_INFO_V1(open_hours_recv);
PG_FUNCTION_INFO_V1(open_hours_send);
PG_FUNCTION_INFO_V1(open_hours_eq);
PG_FUNCTION_INFO_V1(open_hours_ne);
PG_FUNCTION_INFO_V1(open_hours_from_ghl);
PG_FUNCTION_INFO_V1(within_open_hours);

static OpenHours *
open_hours_from_week(const WeekSchedule *week)
{
	int			pairs = ws_total_intervals(week);
	Size		size = offsetof(OpenHours, minutes) + sizeof(int16) * 2 * pairs;
	OpenHours  *result = palloc0(size);
	int			k = 0;

	SET_VARSIZE(result, size);
	for (int d = 0; d < WS_DAYS; d++)
	{
		result->count[d] = week->count[d];
		for (int i = 0; i < week->count[d]; i++)
		{
			result->minutes[k++] = week->intervals[d][i].open;
			result->minutes[k++] = week->intervals[d][i].close;
		}
	}
	return result;
}

void
open_hours_to_week(const OpenHours *hours, WeekSchedule *week)
{
	int			k = 0;

	ws_clear(week);
	for (int d = 0; d < WS_DAYS; d++)
	{
		week->count[d] = hours->count[d];
		for (int i = 0; i < hours->count[d]; i++)
		{
			week->intervals[d][i].open = hours->minutes[k++];
			week->intervals[d][i].close = hours->minutes[k++];
		}
	}
}

/* A short quote of the input from where parsing stopped, for the error detail. */
static char *
text_near(const char *text, size_t position)
{
	size_t		len = strlen(text);
	size_t		n;

	if (position >= len)
		return pstrdup(_("the end of the input"));
	n = pg_mbcliplen(text + position, len - position, 24);
	return psprintf("\"%s%s\"", pnstrdup(text + position, n), n < len - position ? "..." : "");
}

Datum
open_hours_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);
	WeekSchedule week;
	WsError		err;

	if (!ws_parse(text, strlen(text), &week, &err))
	{
#if PG_VERSION_NUM >= 160000
		ereturn(fcinfo->context, (Datum) 0,
#else
		ereport(ERROR,
#endif
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"", "open_hours", text),
				 errdetail("At character %d, near %s: %s.",
						   (int) err.position + 1, text_near(text, err.position), _(err.message)),
				 errhint("Write a schedule like \"mon-fri 08:00-13:00,14:00-20:00; sat 09:00-13:00\", "
						 "or \"08:00-20:00\" for every day.")));
	}
	PG_RETURN_POINTER(open_hours_from_week(&week));
}

Datum
open_hours_out(PG_FUNCTION_ARGS)
{
	OpenHours  *hours = PG_GETARG_OPEN_HOURS_P(0);
	WeekSchedule week;
	char		buf[WS_TEXT_MAX];

	open_hours_to_week(hours, &week);
	ws_format(&week, buf, sizeof(buf));
	PG_RETURN_CSTRING(pstrdup(buf));
}

/* Binary form: per day a count byte, then int16 open/close minute pairs. */
Datum
open_hours_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	WeekSchedule week;
	int			counts[WS_DAYS];
	WsError		err;

	ws_clear(&week);
	for (int d = 0; d < WS_DAYS; d++)
		counts[d] = pq_getmsgbyte(buf);
	for (int d = 0; d < WS_DAYS; d++)
	{
		if (counts[d] > WS_MAX_INTERVALS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid external open_hours value"),
					 errdetail("Day %d has %d intervals; at most %d are allowed.",
							   d + 1, counts[d], WS_MAX_INTERVALS)));
		for (int i = 0; i < counts[d]; i++)
		{
			int			open = (int16) pq_getmsgint(buf, 2);
			int			close = (int16) pq_getmsgint(buf, 2);

			if (!ws_add(&week, d, open, close, &err))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						 errmsg("invalid external open_hours value"),
						 errdetail("Interval %d of day %d: %s.", i + 1, d + 1, _(err.message))));
		}
	}
	PG_RETURN_POINTER(open_hours_from_week(&week));
}

Datum
open_hours_send(PG_FUNCTION_ARGS)
{
	OpenHours  *hours = PG_GETARG_OPEN_HOURS_P(0);
	StringInfoData buf;
	int			pairs = 0;

	pq_begintypsend(&buf);
	for (int d = 0; d < WS_DAYS; d++)
	{
		pq_sendbyte(&buf, hours->count[d]);
		pairs += hours->count[d];
	}
	for (int k = 0; k < 2 * pairs; k++)
		pq_sendint16(&buf, hours->minutes[k]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static bool
open_hours_equal(OpenHours *a, OpenHours *b)
{
	return VARSIZE(a) == VARSIZE(b) &&
		memcmp(VARDATA(a), VARDATA(b), VARSIZE(a) - VARHDRSZ) == 0;
}

Datum
open_hours_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(open_hours_equal(PG_GETARG_OPEN_HOURS_P(0), PG_GETARG_OPEN_HOURS_P(1)));
}

Datum
open_hours_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!open_hours_equal(PG_GETARG_OPEN_HOURS_P(0), PG_GETARG_OPEN_HOURS_P(1)));
}

static void
ghl_hours_error(const char *detail_fmt, int entry, const char *field)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid GHL openHours value"),
			 errdetail(detail_fmt, entry, field),
			 errhint("GHL sends openHours as [{\"daysOfTheWeek\": [1,2,3,4,5], \"hours\": "
					 "[{\"openHour\": 8, \"openMinute\": 0, \"closeHour\": 20, \"closeMinute\": 0}]}].")));
}

static JsonbValue *
ghl_field(JsonbContainer *object, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(object, JB_FOBJECT, &k);
}

static JsonbContainer *
ghl_container(JsonbValue *value, bool want_array)
{
	if (value == NULL || value->type != jbvBinary)
		return NULL;
	if (want_array ? !JsonContainerIsArray(value->val.binary.data)
		: !JsonContainerIsObject(value->val.binary.data))
		return NULL;
	return value->val.binary.data;
}

/* A whole number in [0, max], or an error naming the entry and field. */
static int
ghl_whole_number(Numeric value, int max, int entry, const char *field)
{
	Numeric		rounded = DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(value),
															  Int32GetDatum(0)));

	if (DatumGetBool(DirectFunctionCall2(numeric_ne, NumericGetDatum(rounded), NumericGetDatum(value))))
		ghl_hours_error(gettext_noop("Entry %d: \"%s\" must be a whole number."), entry, field);
	if (DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(rounded),
										 NumericGetDatum(int64_to_numeric(0)))) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(rounded),
										 NumericGetDatum(int64_to_numeric(max)))))
		ghl_hours_error(gettext_noop("Entry %d: \"%s\" is out of range."), entry, field);
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(rounded)));
}

static int
ghl_int(JsonbContainer *object, const char *key, int entry, int max)
{
	JsonbValue *v = ghl_field(object, key);

	if (v == NULL || v->type != jbvNumeric)
		ghl_hours_error(gettext_noop("Entry %d: \"%s\" must be a number."), entry, key);
	return ghl_whole_number(v->val.numeric, max, entry, key);
}

static int
ghl_day_number(Numeric value, int entry)
{
	return ghl_whole_number(value, 6, entry, "daysOfTheWeek");
}

/*
 * Cast from GHL's calendar openHours array.  GHL numbers days from 0 =
 * Sunday; a closing time of 00:00 (or 23:60) means midnight at the end of
 * the day.  JSON null or [] is a closed schedule.
 */
Datum
open_hours_from_ghl(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	WeekSchedule week;
	int			entries;

	ws_clear(&week);
	if (JB_ROOT_IS_SCALAR(jb))
	{
		JsonbValue	scalar;

		if (JsonbExtractScalar(&jb->root, &scalar) && scalar.type == jbvNull)
			PG_RETURN_POINTER(open_hours_from_week(&week));
		ghl_hours_error(gettext_noop("Entry %d: %s must be an array."), 0, "openHours");
	}
	if (!JB_ROOT_IS_ARRAY(jb))
		ghl_hours_error(gettext_noop("Entry %d: %s must be an array."), 0, "openHours");

	entries = JB_ROOT_COUNT(jb);
	for (int e = 0; e < entries; e++)
	{
		JsonbContainer *entry = ghl_container(getIthJsonbValueFromContainer(&jb->root, e), false);
		JsonbContainer *days,
				   *hours;
		int			ndays,
					nhours;
		bool		on_day[WS_DAYS] = {false};

		if (entry == NULL)
			ghl_hours_error(gettext_noop("Entry %d: %s must be an object."), e + 1, "the entry");
		days = ghl_container(ghl_field(entry, "daysOfTheWeek"), true);
		hours = ghl_container(ghl_field(entry, "hours"), true);
		if (days == NULL)
			ghl_hours_error(gettext_noop("Entry %d: \"%s\" must be an array."), e + 1, "daysOfTheWeek");
		if (hours == NULL)
			ghl_hours_error(gettext_noop("Entry %d: \"%s\" must be an array."), e + 1, "hours");
		ndays = JsonContainerSize(days);
		nhours = JsonContainerSize(hours);
		for (int i = 0; i < ndays; i++)
		{
			JsonbValue *dv = getIthJsonbValueFromContainer(days, i);
			int			ghl_day;

			if (dv == NULL || dv->type != jbvNumeric)
				ghl_hours_error(gettext_noop("Entry %d: \"%s\" must hold numbers 0 to 6."), e + 1, "daysOfTheWeek");
			ghl_day = ghl_day_number(dv->val.numeric, e + 1);
			/* GHL counts from 0 = Sunday; open_hours from 0 = Monday */
			on_day[(ghl_day + 6) % 7] = true;
		}
		for (int h = 0; h < nhours; h++)
		{
			JsonbContainer *hour = ghl_container(getIthJsonbValueFromContainer(hours, h), false);
			int			open,
						close;

			if (hour == NULL)
				ghl_hours_error(gettext_noop("Entry %d: each of \"%s\" must be an object."), e + 1, "hours");
			open = ghl_int(hour, "openHour", e + 1, 23) * 60 + ghl_int(hour, "openMinute", e + 1, 59);
			close = ghl_int(hour, "closeHour", e + 1, 24) * 60 + ghl_int(hour, "closeMinute", e + 1, 60);
			if (close == 0)
				close = WS_MINUTES_PER_DAY;
			if (close > WS_MINUTES_PER_DAY || close <= open)
				ghl_hours_error(gettext_noop("Entry %d: \"%s\" closes before it opens."), e + 1, "hours");
			for (int d = 0; d < WS_DAYS; d++)
			{
				WsError		err;

				if (on_day[d] && !ws_add(&week, d, open, close, &err))
					ghl_hours_error(gettext_noop("Entry %d: too many intervals in one day (\"%s\")."), e + 1, "hours");
			}
		}
	}
	PG_RETURN_POINTER(open_hours_from_week(&week));
}

/*
 * within_open_hours(hours, during, zone): is every instant of the range
 * inside the schedule, read on the wall clock of the zone?  Empty ranges
 * are trivially within; unbounded ones never are.
 */
Datum
within_open_hours(PG_FUNCTION_ARGS)
{
	OpenHours  *hours = PG_GETARG_OPEN_HOURS_P(0);
	RangeType  *during = PG_GETARG_RANGE_P(1);
	pg_tz	   *tz = find_time_zone(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	TypeCacheEntry *typcache = range_get_typcache(fcinfo, RangeTypeGetOid(during));
	RangeBound	lower,
				upper;
	bool		empty;
	WeekSchedule week;
	WallWalker	walker;
	WallSpan	span;
	TimestampTz start,
				end;

	range_deserialize(typcache, during, &lower, &upper, &empty);
	if (empty)
		PG_RETURN_BOOL(true);
	if (lower.infinite || upper.infinite)
		PG_RETURN_BOOL(false);
	start = DatumGetTimestampTz(lower.val);
	end = DatumGetTimestampTz(upper.val);
	if (TIMESTAMP_NOT_FINITE(start) || TIMESTAMP_NOT_FINITE(end))
		PG_RETURN_BOOL(false);
	/* discrete steps do not exist for tstzrange; treat bounds as half-open */
	if (!lower.inclusive)
		start += 1;
	if (upper.inclusive)
		end += 1;

	open_hours_to_week(hours, &week);
	wall_walker_init(&walker, start, end, tz);
	while (wall_walker_next(&walker, &span))
	{
		Timestamp	gap;

		if (!week_covers(&week, &span, &gap))
			PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}

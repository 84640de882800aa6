/*
 * sign — writes n GHL AppointmentCreate webhooks for the webhook benchmark,
 * one per line: the Ed25519 signature (base64), a tab, the exact body.
 * Each books its own 30-minute slot on one of two calendars, so every
 * webhook is a new appointment that breaks no rule.
 *
 *   sign PRIVATE_KEY.pem N LOCATION CALENDAR_A CALENDAR_B > requests.tsv
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/iso_time.h"
#include "common/webhook_signature.h"

int
main(int argc, char **argv)
{
	EVP_PKEY   *key;
	long		n;
	char		now[40];
	int64_t		monday = 1799038800000LL;	/* 2027-01-04T00:00:00-05:00 */

	if (argc != 6 || (key = key_from_file(argv[1], true)) == NULL || (n = strtol(argv[2], NULL, 10)) <= 0)
	{
		fprintf(stderr, "usage: sign PRIVATE_KEY.pem N LOCATION CALENDAR_A CALENDAR_B\n");
		return 2;
	}
	iso_time_format_utc((int64_t) time(NULL) * 1000, now, sizeof(now));
	for (long k = 0; k < n; k++)
	{
		/* ten slots a weekday per calendar, 08-12 and 14-18 Lima */
		long		slot = k / 2,
					day = slot / 10 / 5 * 7 + slot / 10 % 5,
					hour = 8 + slot % 10 + (slot % 10 >= 5);
		int64_t		start = monday + (int64_t) day * 86400000 + (int64_t) hour * 3600000;
		char		starts[40],
					ends[40];
		char	   *body,
				   *signature;

		iso_time_format(start, -18000, starts, sizeof(starts));
		iso_time_format(start + 1800000, -18000, ends, sizeof(ends));
		if (asprintf(&body, "{\"type\":\"AppointmentCreate\",\"locationId\":\"%s\",\"webhookId\":\"bench-%ld\","
					 "\"timestamp\":\"%s\",\"appointment\":{\"id\":\"BenchEvent%010ld\",\"calendarId\":\"%s\","
					 "\"locationId\":\"%s\",\"contactId\":\"bench-contact-%ld\",\"title\":\"Cita %ld\","
					 "\"appointmentStatus\":\"confirmed\",\"startTime\":\"%s\",\"endTime\":\"%s\","
					 "\"dateUpdated\":\"%s\"}}",
					 argv[3], k, now, k, k % 2 ? argv[5] : argv[4], argv[3], k, k, starts, ends, now) < 0)
			return 1;
		signature = signature_sign(key, SIGNATURE_ED25519, (const unsigned char *) body, strlen(body));
		if (signature == NULL)
			return 1;
		printf("%s\t%s\n", signature, body);
		free(signature);
		free(body);
	}
	EVP_PKEY_free(key);
	return 0;
}

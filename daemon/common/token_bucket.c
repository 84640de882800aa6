/*
 * token_bucket.c — continuous-refill token bucket.
 */
#include "common/token_bucket.h"

void
token_bucket_init(TokenBucket *bucket, double capacity, double interval_ms, int64_t now)
{
	bucket->capacity = capacity;
	bucket->interval_ms = interval_ms;
	bucket->tokens = capacity;
	bucket->updated_ms = now;
}

static void
refill(TokenBucket *bucket, int64_t now)
{
	if (now > bucket->updated_ms)
	{
		bucket->tokens += (double) (now - bucket->updated_ms) * bucket->capacity / bucket->interval_ms;
		if (bucket->tokens > bucket->capacity)
			bucket->tokens = bucket->capacity;
		bucket->updated_ms = now;
	}
}

double
token_bucket_available(TokenBucket *bucket, int64_t now)
{
	refill(bucket, now);
	return bucket->tokens;
}

bool
token_bucket_take(TokenBucket *bucket, int64_t now)
{
	refill(bucket, now);
	if (bucket->tokens < 1.0)
		return false;
	bucket->tokens -= 1.0;
	return true;
}

/* Milliseconds until one token is available (0 if one is). */
int64_t
token_bucket_wait_ms(TokenBucket *bucket, int64_t now)
{
	refill(bucket, now);
	if (bucket->tokens >= 1.0)
		return 0;
	return (int64_t) ((1.0 - bucket->tokens) * bucket->interval_ms / bucket->capacity) + 1;
}

/* Lowers the bucket to what the server says is left (never raises it). */
void
token_bucket_set(TokenBucket *bucket, double tokens, int64_t now)
{
	refill(bucket, now);
	if (tokens < bucket->tokens)
		bucket->tokens = tokens < 0 ? 0 : tokens;
}

/*
 * token_bucket.h — a rate limiter: capacity tokens, refilled continuously
 * so that capacity tokens come back every interval.  Not thread-safe.
 */
#ifndef REFLEXO_TOKEN_BUCKET_H
#define REFLEXO_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct TokenBucket
{
	double		capacity;
	double		interval_ms;
	double		tokens;
	int64_t		updated_ms;
} TokenBucket;

extern void token_bucket_init(TokenBucket *bucket, double capacity, double interval_ms, int64_t now);
extern bool token_bucket_take(TokenBucket *bucket, int64_t now);
extern double token_bucket_available(TokenBucket *bucket, int64_t now);
extern int64_t token_bucket_wait_ms(TokenBucket *bucket, int64_t now);
extern void token_bucket_set(TokenBucket *bucket, double tokens, int64_t now);

#endif							/* REFLEXO_TOKEN_BUCKET_H */

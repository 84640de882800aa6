# Rate limits and outages: the daemon stays under GHL's limit proactively
# (no 429 at all), obeys a 429 by pausing the location, and drains its
# backlog once an outage ends, with nothing lost or doubled.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;
use Time::HiRes qw(time);

my $sim = start_sim(options => ['--rate-limit', '20', '--rate-interval-ms', '2000']);
my $node = new_node('limits');
load_sim_calendars($node, $sim);
my $tokens = $sim->token();
my $daemon = start_daemon(node => $node, sim => $sim,
	env => { GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token},
		REFLEXO_RATE_LIMIT => 20, REFLEXO_RATE_INTERVAL_MS => 2000 });
my $synced = q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'};

# 100 pushes against 20 requests per 2 s
my $start = time();
book($node, 100);
is(wait_for_value($node, $synced, '100', 60), '100', 'a backlog of 100 is pushed');
my $elapsed = time() - $start;
ok($elapsed >= 6, sprintf('at the pace GHL allows (%.1f s for 100 at 10/s after a burst of 20)', $elapsed));
is($sim->control('GET', 'state')->{json}{rate_limited}{SimLocation000000001}, 0,
	'without a single 429: the bucket keeps the daemon under the limit');

# GHL answers 429 anyway
$sim->control('POST', 'faults', { burst_429 => 3 });
book($node, 10, skip => 100);
is(wait_for_value($node, $synced, '110', 60), '110', 'after 429s, every push still arrives');
like(slurp_file($daemon->log_file), qr/"tag":"RATE_LIMIT","message":"GHL answered 429: pausing the location"/,
	'the location was paused');
is($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.outbox WHERE attempts > 1}), '0',
	'a 429 does not spend an attempt: the row is given back untried');
is(wait_for_value($node, q{SELECT sum((v ->> 'rate_limited_count')::int) FROM jsonb_each(reflexo.metrics_ghl()) e(k, v)},
		'3', 10), '3', 'metrics_ghl counts the three 429s');
my $lowest = $node->safe_psql('postgres',
	q{SELECT min((v ->> 'min_rate_limit_remaining')::int) FROM jsonb_each(reflexo.metrics_ghl()) e(k, v)});
ok($lowest =~ /^\d+$/ && $lowest < 20, "and the lowest X-RateLimit-Remaining GHL reported ($lowest of 20)");

# an outage
$sim->control('POST', 'faults', { outage_seconds => 4 });
book($node, 20, skip => 110);
ok(wait_until(sub { $node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.outbox WHERE attempts > 1}) > 0 }, 10),
	'during the outage pushes fail and are retried');
is(wait_for_value($node, $synced, '130', 90), '130', 'after the outage the backlog drains');
is($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.outbox WHERE state = 'dead'}), '0', 'nothing died');
my $state = $sim->control('GET', 'state')->{json};
is($state->{appointment_count}, 130, 'GHL has every appointment');
is_deeply($state->{duplicate_creates}, [], 'once');

is($daemon->stop('TERM'), 0, 'the daemon stops cleanly');
ok(sanitizer_clean($daemon->log_file), 'with no sanitizer report');
$sim->stop;
done_testing();

# Credentials: stored encrypted, one refresh for many concurrent 401s (and
# across two daemons), the rotated refresh token kept, scope errors never
# refreshed, and a rejected Private Integration Token raised as an alert.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $sim = start_sim();
my $node = new_node('auth');
load_sim_calendars($node, $sim);
my $tokens = $sim->token();

my %env = (GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token},
	REFLEXO_CLAIM_BATCH => 64, REFLEXO_MAX_INFLIGHT => 64);
my @daemons;

# first make sure the credentials are stored and work, and that each daemon
# has pushed once (a daemon probes one request at a time until GHL's rate-limit
# headers tell it its budget); the other daemon is paused meanwhile
my $synced = 0;
for my $i (0 .. 1)
{
	push @daemons, start_daemon(node => $node, sim => $sim, env => \%env);
	kill 'STOP', $daemons[0]->{pid} if $i == 1;
	book($node, 1, skip => $i);
	$synced++;
	is(wait_for_value($node, q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'}, $synced),
		$synced, "daemon $i: the configured token works");
	kill 'CONT', $daemons[0]->{pid} if $i == 1;
}
my $stored = $node->safe_psql('postgres', q{SELECT encode(access_token, 'escape') FROM reflexo.ghl_tokens});
unlike($stored, qr/\Q$tokens->{access_token}\E/, 'tokens are stored encrypted');

# 50 pushes in flight (slowed down), all answered 401 Invalid JWT
$sim->control('POST', 'faults', { latency_ms => 300 });
$sim->control('POST', 'tokens/expire', { location_id => 'SimLocation000000001' });
book($node, 50, skip => 2);
is(wait_for_value($node, q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'}, '52', 60), '52',
	'after the token expires, every push still arrives');
my $state = $sim->control('GET', 'state')->{json};
is($state->{oauth}{refresh_grants}, 1, 'with exactly one refresh, across 50 pushes and two daemons');
ok($state->{unauthorized} >= 20, "although many requests were refused ($state->{unauthorized})");
is_deeply($state->{duplicate_creates}, [], 'and nothing was created twice');
is($node->safe_psql('postgres', q{SELECT refreshed_at IS NOT NULL FROM reflexo.ghl_tokens}), 't',
	'the rotated tokens are stored');
$sim->control('POST', 'faults', { latency_ms => 0 });

# a refresh token is single-use: the daemons use the rotated one next time
$sim->control('POST', 'tokens/expire', { location_id => 'SimLocation000000001' });
book($node, 1, skip => 52);
is(wait_for_value($node, q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'}, '53'), '53',
	'a second expiry is handled with the rotated refresh token');
is($sim->control('GET', 'state')->{json}{oauth}{refresh_grants}, 2, 'one more refresh');

# storing a refreshed pair fails for a while (GHL's refresh tokens are
# single-use): the pair is kept, stored once the database takes it, and the
# spent refresh token is never used again
$node->safe_psql('postgres', q{
CREATE FUNCTION public.refuse_tokens() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'no space left on device (a test)'; END $$;
CREATE TRIGGER refuse_tokens BEFORE INSERT OR UPDATE ON reflexo.ghl_tokens
  FOR EACH ROW EXECUTE FUNCTION public.refuse_tokens()});
$sim->control('POST', 'tokens/expire', { location_id => 'SimLocation000000001' });
book($node, 1, skip => 53);
ok(wait_until(sub { join('', map { slurp_file($_->log_file) } @daemons) =~ /"alert":"token_save_pending"/ }, 30),
	'a refreshed pair the database refuses is kept, and storing it is retried');
is($sim->control('GET', 'state')->{json}{oauth}{refresh_grants}, 3, 'after one refresh');
$node->safe_psql('postgres', 'DROP TRIGGER refuse_tokens ON reflexo.ghl_tokens');
is(wait_for_value($node, q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'}, '54', 60), '54',
	'once the database takes it, the waiting push goes out');
is($sim->control('GET', 'state')->{json}{oauth}{refresh_grants}, 3, 'with no other refresh');
unlike(join('', map { slurp_file($_->log_file) } @daemons), qr/"alert":"ghl_credentials"/,
	'and the location never needed re-authorizing');

$_->stop('TERM') for @daemons;
my $logs = join('', map { slurp_file($_->log_file) } @daemons);
like($logs, qr/"tag":"ALERT","message":"GHL token refreshed"/, 'a refresh is logged as an alert');
unlike($logs, qr/\Q$tokens->{refresh_token}\E|sim-refresh-|sim-SimLocation/, 'no token ever reaches the logs');
ok(sanitizer_clean($_->log_file), 'no sanitizer report') for @daemons;

# a Private Integration Token that GHL rejects is an alert, not a refresh
my $pit_node = new_node('pit');
load_sim_calendars($pit_node, $sim);
my $daemon = start_daemon(node => $pit_node, sim => $sim, env => { GHL_ACCESS_TOKEN => 'pit-revoked-token' });
$pit_node->safe_psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, contact_id, starts_at, ends_at)
SELECT id, 'c', '2026-05-04 09:00-05', '2026-05-04 10:00-05' FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001'});
ok(wait_until(sub { slurp_file($daemon->log_file) =~ /"alert":"ghl_credentials"/ }, 20),
	'a rejected private integration token raises an alert');
is($sim->control('GET', 'state')->{json}{oauth}{refresh_grants}, 3, 'and is never refreshed');
is($pit_node->safe_psql('postgres', q{SELECT state FROM reflexo.outbox}), 'pending', 'the change waits, not lost');

# the operator stores a new token; the running daemon takes it at once
my $pit = $sim->token(kind => 'pit');
my $store = start_daemon(node => $pit_node, sim => $sim, env => { GHL_ACCESS_TOKEN => $pit->{access_token} },
	options => ['--store-token']);
is($store->wait_exit(30), 0, 'reflexo-sync --store-token stores the rotated token');
is(wait_for_value($pit_node, q{SELECT state FROM reflexo.outbox}, 'done', 20), 'done',
	'and the waiting change is pushed without a restart');
is($pit_node->safe_psql('postgres', q{SELECT kind FROM reflexo.ghl_tokens}), 'private', 'as a private token');
# the Django service's way of rotating (a new token in .env) is not how it works here: say so
my $stale_env = start_daemon(node => $pit_node, sim => $sim, env => { GHL_ACCESS_TOKEN => 'pit-revoked-token' });
ok(wait_until(sub { slurp_file($stale_env->log_file) =~ /"alert":"ghl_token_ignored"/ }, 20),
	'a daemon started with another token in GHL_ACCESS_TOKEN than the stored one says it is not used');
like(slurp_file($stale_env->log_file), qr/reflexo-sync --store-token/, 'and how to store it');
unlike(slurp_file($stale_env->log_file), qr/pit-revoked-token/, 'without printing it');
is($stale_env->stop('TERM'), 0, 'that daemon stops cleanly');
unlike(slurp_file($store->log_file), qr/\Q$pit->{access_token}\E/, 'the token is not logged');
my $refused = start_daemon(node => $pit_node, sim => $sim, env => { GHL_LOCATION_ID => '' },
	options => ['--store-token']);
is($refused->wait_exit(30), 2, '--store-token without a location is a configuration error');
is($daemon->stop('TERM'), 0, 'the daemon stops cleanly');

# a scope error is permanent and never refreshes
my $scoped = $sim->token(scope => 'calendars.readonly');
my $scope_node = new_node('scope');
load_sim_calendars($scope_node, $sim);
$daemon = start_daemon(node => $scope_node, sim => $sim,
	env => { GHL_ACCESS_TOKEN => $scoped->{access_token}, GHL_REFRESH_TOKEN => $scoped->{refresh_token} });
$scope_node->safe_psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, contact_id, starts_at, ends_at)
SELECT id, 'c', '2026-05-05 09:00-05', '2026-05-05 10:00-05' FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001'});
is(wait_for_value($scope_node, q{SELECT state FROM reflexo.outbox}, 'dead'), 'dead', 'a scope error makes the row dead');
like($scope_node->safe_psql('postgres', q{SELECT last_error FROM reflexo.outbox}), qr/not authorized for this scope/,
	'with GHL\'s message');
is($sim->control('GET', 'state')->{json}{oauth}{refresh_grants}, 3, 'without a refresh');
is($daemon->stop('TERM'), 0, 'the daemon stops cleanly');
ok(sanitizer_clean($daemon->log_file), 'no sanitizer report');
$sim->stop;
done_testing();

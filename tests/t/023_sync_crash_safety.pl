# Nothing lost, nothing doubled: reflexo-sync is SIGKILLed again and again
# during 2,000 pushes while GHL fails 5% of calls with a 5xx and loses 5% of
# its answers after acting; PostgreSQL restarts under it; two daemons share
# the outbox.  Every appointment must reach GHL exactly once.
# REFLEXO_CRASH_PUSHES changes the size (default 2000).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;
use Time::HiRes qw(sleep time);

my $pushes = $ENV{REFLEXO_CRASH_PUSHES} // 2000;
my $sim = start_sim(options => ['--rate-limit', '1000000', '--rate-interval-ms', '1000', '--random-seed', '42',
	'--no-api-webhooks']);
my $tokens = $sim->token();
my %env = (GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token},
	REFLEXO_LEASE_SECONDS => 10, REFLEXO_REQUEST_TIMEOUT_MS => 5000, REFLEXO_RATE_LIMIT => 100000, REFLEXO_RATE_INTERVAL_MS => 1000,
	REFLEXO_MAX_INFLIGHT => 32, REFLEXO_LOG_LEVEL => 'warn');
my $synced = q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'};

sub exactly_once
{
	my ($node, $n, $what) = @_;
	my $state = $sim->control('GET', 'state')->{json};
	is($state->{appointment_count}, $n, "$what: GHL holds every appointment");
	is_deeply($state->{duplicate_creates}, [], "$what: none twice");
	is($node->safe_psql('postgres', q{SELECT count(DISTINCT ghl_appointment_id) FROM reflexo.appointments}), $n,
		"$what: each local appointment has its own GHL id");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.outbox WHERE state <> 'done'}), '0',
		"$what: the outbox is drained");
}

# 1. SIGKILL storm with faults
my $node = new_node('crash');
load_sim_calendars($node, $sim);
$sim->control('POST', 'faults', { error_rate => 0.05, error_status => 503, lost_response_rate => 0.05 });
book($node, $pushes);
my $kills = 0;
my $deadline = time() + 240;
my @logs;
while ($node->safe_psql('postgres', $synced) < $pushes && time() < $deadline)
{
	my $daemon = start_daemon(node => $node, sim => $sim, env => \%env);
	push @logs, $daemon->log_file;
	sleep(0.5 + rand(1.5));
	BAIL_OUT('the daemon exited by itself: ' . slurp_file($daemon->log_file)) unless $daemon->running;
	$daemon->stop('KILL');
	$kills++;
}
$sim->control('POST', 'faults', { error_rate => 0, lost_response_rate => 0 });
my $last = start_daemon(node => $node, sim => $sim, env => \%env);
is(wait_for_value($node, $synced, $pushes, 120), $pushes, "all $pushes appointments are synced after $kills SIGKILLs");
exactly_once($node, $pushes, 'after the kills');
ok($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.outbox WHERE attempts > 1}) > 0,
	'some pushes needed several attempts (faults and kills did happen)');
ok($node->safe_psql('postgres',
	q{SELECT coalesce(sum(success_count), 0) FROM reflexo.ghl_operation_stats WHERE operation = 'find_appointment'}) > 0,
	'ambiguous creates were looked up in GHL before being retried');
is($last->stop('TERM'), 0, 'the last daemon stops cleanly');
ok(sanitizer_clean($_), 'no sanitizer report') for @logs[0 .. 2], $last->log_file;

# 2. PostgreSQL restarts under the daemon
$sim->control('POST', 'reset');
$tokens = $sim->token();
my $node2 = new_node('restart');
load_sim_calendars($node2, $sim);
my $daemon = start_daemon(node => $node2, sim => $sim,
	env => { %env, GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token},
		REFLEXO_LOG_LEVEL => 'info' });
book($node2, 300);
sleep(0.5);
$node2->restart;
book($node2, 100, skip => 300);
is(wait_for_value($node2, $synced, '400', 60), '400', 'after a PostgreSQL restart every push arrives');
exactly_once($node2, 400, 'across the restart');
like(slurp_file($daemon->log_file), qr/"message":"database connection lost"/, 'the daemon saw the connection go');
is($daemon->stop('TERM'), 0, 'and stops cleanly');
ok(sanitizer_clean($daemon->log_file), 'no sanitizer report');

# 3. two daemons at once
$sim->control('POST', 'reset');
$tokens = $sim->token();
my $node3 = new_node('pair');
load_sim_calendars($node3, $sim);
my %pair_env = (%env, GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token});
my @pair = map { start_daemon(node => $node3, sim => $sim, env => \%pair_env) } 1 .. 2;
book($node3, 500);
is(wait_for_value($node3, $synced, '500', 60), '500', 'two daemons push 500 appointments');
exactly_once($node3, 500, 'with two daemons');
is($node3->safe_psql('postgres', q{SELECT count(*) FROM reflexo.outbox WHERE attempts <> 1}), '0',
	'every row was claimed once: no double push');
is($_->stop('TERM'), 0, 'a daemon of the pair stops cleanly') for @pair;
$sim->stop;
done_testing();

# reflexo-api runs at most as many requests at once as it has database
# connections, on one thread more than that, and answers probes without
# waiting for the database: while every running request waits on it,
# /healthz, /metrics and CORS preflights on new connections still answer at
# once, and the queued request is answered when the database lets them go
# on.  The binary is the AddressSanitizer build.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX ();
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;
use Time::HiRes qw(time usleep);

my $secret = 'workers-tap-secret-that-is-longer-than-32-characters';
my $node = new_node('api_workers');
$node->safe_psql('postgres', qq{
SELECT reflexo.set_jwt_secret('$secret');
SET reflexo.password_iterations = 1000;
INSERT INTO reflexo.locations (ghl_location_id, name, timezone) VALUES ('loc-lima', 'Reflexo Lima', 'America/Lima');
SELECT api.create_user('admin', 'admin-password-1', 'admin');
});
my $api = start_api(node => $node, secret => $secret,
	env => { REFLEXO_API_DB_CONNECTIONS => 1, CORS_ALLOWED_ORIGINS => 'http://front.example' });
my $r = http_request('POST', $api->url . '/api/architect/login/',
	json => { username => 'admin', password => 'admin-password-1' });
my $token = $r->{json}{access};
ok($token, 'logged in');

# the one place is taken by a listing that needs the locations, locked by another session
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE reflexo.locations IN ACCESS EXCLUSIVE MODE;');
my @children;
for my $n (1 .. 2)
{
	my $pid = fork() // die;
	if ($pid == 0)
	{
		my $got = http_request('GET', $api->url . '/api/locations/settings/',
			headers => { Authorization => "Bearer $token" }, timeout => 60);
		POSIX::_exit($got->{status} == 200 ? 0 : 1);
	}
	push @children, $pid;
	usleep(200_000);
}
ok(wait_until(sub {
	$node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'}) == 1 }),
	'the running request waits on the lock; the second one waits in the queue');

for my $probe ([ 'GET', '/healthz' ], [ 'GET', '/metrics' ], [ 'OPTIONS', '/api/ghl/citas/' ])
{
	my $started = time();
	my $got = http_request($probe->[0], $api->url . $probe->[1], timeout => 10,
		headers => { Origin => 'http://front.example', 'Access-Control-Request-Method' => 'GET' });
	my $took = time() - $started;
	ok($got->{status} >= 200 && $got->{status} < 300 && $took < 2,
		sprintf('%s %s answers while every running request waits (%d in %.2f s)', @$probe, $got->{status}, $took));
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'}), 1,
	'and the listing still waits');

$locker->query_safe('ROLLBACK;');
$locker->quit;
my $answered = 0;
for my $pid (@children)
{
	waitpid($pid, 0);
	$answered++ if $? == 0;
}
is($answered, 2, 'both waiting requests are answered 200 once the lock is gone');

is($api->stop('TERM'), 0, 'reflexo-api stops cleanly');
ok(sanitizer_clean($api->log_file), 'with no sanitizer report');
$node->stop;
done_testing();

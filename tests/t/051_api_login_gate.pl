# Logins cannot exhaust the database's CPU: each costs a PBKDF2 hash, so
# reflexo-api hashes at most REFLEXO_API_LOGINS_AT_ONCE at a time and lets
# a client address try REFLEXO_API_LOGINS_PER_MINUTE; beyond that, 429 with
# Retry-After, while bookings go on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use POSIX ();
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;
use Time::HiRes qw(time usleep);

my $secret = 'gate-tap-secret-that-is-longer-than-32-characters';
my $node = new_node('api_gate');
$node->safe_psql('postgres', qq{
SELECT reflexo.set_jwt_secret('$secret');
SET reflexo.password_iterations = 1000;
SELECT api.create_user('admin', 'admin-password-1', 'admin');
-- a costly hash, as in production (600,000 iterations)
ALTER DATABASE postgres SET reflexo.password_iterations = 600000;
});
my $api = start_api(node => $node, secret => $secret,
	env => { REFLEXO_API_LOGINS_AT_ONCE => 2, REFLEXO_API_LOGINS_PER_MINUTE => 4 });

sub login_from
{
	my ($address, $password) = @_;
	my $http = HTTP::Tiny->new(local_address => $address, timeout => 30);
	my $r = $http->request('POST', $api->url . '/api/architect/login/',
		{ headers => { 'Content-Type' => 'application/json' },
		  content => encode_json({ username => 'admin', password => $password // 'wrong-password-0' }) });
	return $r;
}

# one address: four tries a minute, then 429 with Retry-After
my @statuses = map { login_from('127.0.0.2')->{status} } 1 .. 5;
is_deeply(\@statuses, [ 401, 401, 401, 401, 429 ], 'a client address gets four tries a minute, then 429');
my $r = login_from('127.0.0.2');
ok($r->{headers}{'retry-after'} > 0 && $r->{headers}{'retry-after'} <= 60, 'with Retry-After');
like(decode_json($r->{content})->{detail}, qr/^Solicitud fue regulada \(throttled\)/, 'and DRF\'s throttle message');
is(login_from('127.0.0.3', 'admin-password-1')->{status}, 200, 'other addresses still log in');

# many addresses at once: never more than two hashes in the database at a
# time, as many waiting, and the rest refused at once (a hash here lasts
# about two seconds, so the eight arrive while the first two still hash)
$node->safe_psql('postgres', 'ALTER DATABASE postgres SET reflexo.password_iterations = 8000000');
# a setting of the database applies to new sessions only: a reflexo-api whose pool
# kept a session from before would hash some logins at the old, cheap cost
my $first_log = $api->log_file;
is($api->stop('TERM'), 0, 'reflexo-api stops cleanly');
$api = start_api(node => $node, secret => $secret,
	env => { REFLEXO_API_LOGINS_AT_ONCE => 2, REFLEXO_API_LOGINS_PER_MINUTE => 4 });
my @children;
for my $n (10 .. 17)
{
	my $pid = fork() // die;
	if ($pid == 0)
	{
		my $started = time();
		my $status = login_from("127.0.0.$n")->{status};
		my $at_once = time() - $started < 1.0;   # well before a hash ends
		# not exit: the cluster's END blocks stay with the parent
		POSIX::_exit($status == 401 ? 0 : $status == 429 ? ($at_once ? 3 : 1) : 2);
	}
	push @children, $pid;
}
# each child's exit status is kept when it is reaped (a second waitpid would find nothing)
my (%status_of, $most);
$most = 0;
my $deadline = time() + 30;
while (time() < $deadline && keys %status_of < @children)
{
	my $busy = $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%api.login%' AND pid <> pg_backend_pid()});
	$most = $busy if $busy > $most;
	for my $pid (grep { !exists $status_of{$_} } @children)
	{
		$status_of{$pid} = $? >> 8 if waitpid($pid, POSIX::WNOHANG()) == $pid;
	}
	usleep(20_000);
}
for my $pid (grep { !exists $status_of{$_} } @children)
{
	waitpid($pid, 0);
	$status_of{$pid} = $? >> 8;
}
my %outcomes;
$outcomes{$_}++ for values %status_of;
cmp_ok($most, '>=', 1, "logins were seen hashing ($most at most)");
cmp_ok($most, '<=', 2, 'never more than REFLEXO_API_LOGINS_AT_ONCE at a time');
is(($outcomes{0} // 0) + ($outcomes{1} // 0) + ($outcomes{3} // 0), 8, 'every login was answered 401 or 429, none failed');
cmp_ok($outcomes{3} // 0, '>=', 1,
	sprintf('logins beyond two hashing and two waiting get 429 at once (%d of 8)', $outcomes{3} // 0));
cmp_ok(($outcomes{0} // 0) + ($outcomes{1} // 0), '>=', 2, 'while the first ones are answered');

is($api->stop('TERM'), 0, 'and the second one too');
ok(sanitizer_clean($first_log) && sanitizer_clean($api->log_file), 'with no sanitizer report');
$node->stop;
done_testing();

# The database stops answering without closing anything (a network
# partition, a hung server): TCP may not notice for many minutes, and a
# daemon blocked on it would push nothing, honour no signal and let its
# leases lapse (issue 13, item 9).  Through a proxy that swallows every byte
# once told to, reflexo-sync must stop on SIGTERM at once, and on its own
# give the silent connections up (after DB_ANSWER_MS, 45 s), reconnect and
# go on once the database answers again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = new_node('blackhole');
my $sim = start_sim();
load_sim_calendars($node, $sim);
my $tokens = $sim->token();
my $flag = PostgreSQL::Test::Utils::tempdir() . '/swallow';

# the proxy: relays bytes both ways, or swallows them while $flag exists
my $proxy_port = PostgreSQL::Test::Cluster::get_free_port();
my $listener = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$proxy_port", Listen => 64, ReuseAddr => 1)
  or die "proxy: $!";
my $proxy = fork() // die "fork: $!";
if ($proxy == 0)
{
	my $select = IO::Select->new($listener);
	my %peer;
	while (1)
	{
		for my $s ($select->can_read(0.2))
		{
			if ($s == $listener)
			{
				my $client = $listener->accept or next;
				my $server = IO::Socket::UNIX->new(Peer => $node->host . '/.s.PGSQL.' . $node->port) or next;
				@peer{ $client, $server } = ($server, $client);
				$select->add($client, $server);
				next;
			}
			my $n = sysread($s, my $buf, 65536);
			if (!$n)
			{
				my $other = delete $peer{$s};
				delete $peer{$other} if $other;
				$select->remove($s, $other // ());
				close $s;
				close $other if $other;
				next;
			}
			syswrite($peer{$s}, $buf) unless -e $flag;
		}
	}
}
close $listener;

my $daemon = start_daemon(node => $node, sim => $sim,
	env => { DATABASE_URL => "host=127.0.0.1 port=$proxy_port dbname=postgres user=" . getpwuid($<),
		GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token},
		REFLEXO_LOG_LEVEL => 'info' });
book($node, 1);
is(wait_for_value($node, q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'}, '1'), '1',
	'through the proxy, a booking is pushed');

# 1. silence, then SIGTERM: the daemon stops at once instead of waiting on the database
PostgreSQL::Test::Utils::append_to_file($flag, '');
book($node, 1, skip => 1);
sleep 3;   # the daemon is now waiting on the database
my $t0 = time();
kill 'TERM', $daemon->pid;
kill 'TERM', $daemon->pid if !wait_until(sub { !$daemon->running }, 5);   # a second one exits at once
ok(wait_until(sub { !$daemon->running }, 15), 'SIGTERM stops the daemon while the database is silent');
cmp_ok(time() - $t0, '<', 15, 'promptly');

# 2. silence the daemon has to notice by itself: it gives the silent
# connection up, and pushes once the database answers again
unlink $flag;
$daemon = start_daemon(node => $node, sim => $sim,
	env => { DATABASE_URL => "host=127.0.0.1 port=$proxy_port dbname=postgres user=" . getpwuid($<),
		REFLEXO_LOG_LEVEL => 'info' });
is(wait_for_value($node, q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'}, '2', 30), '2',
	'a new daemon pushes what waited');
PostgreSQL::Test::Utils::append_to_file($flag, '');
$t0 = time();
book($node, 1, skip => 2);
ok(wait_until(sub { slurp_file($daemon->log_file) =~ /the database did not answer in time/ }, 70),
	'a database that stops answering is given up');
cmp_ok(time() - $t0, '<', 65, 'within the bound (45 s a wait)');
unlink $flag;
is(wait_for_value($node, q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'}, '3', 90), '3',
	'and once it answers again, the waiting booking is pushed');
ok($daemon->running, 'by the same daemon, which never stopped');
is($daemon->stop('TERM'), 0, 'it stops cleanly');
ok(sanitizer_clean($daemon->log_file), 'no sanitizer report');

kill 'KILL', $proxy;
waitpid($proxy, 0);
$sim->stop;
done_testing();

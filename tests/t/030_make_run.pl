# make run as a newcomer uses it: started in the background, ready, a cita
# booked through SQL reaches ghl-sim, and Ctrl-C (SIGINT) stops everything;
# a second run reuses the data.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ":sys_wait_h";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $root = repo_root();
my $state = PostgreSQL::Test::Utils::tempdir();
my %ports = map { $_ => PostgreSQL::Test::Cluster::get_free_port() } qw(pg http sim);
my $output = "$state.out";

# one `make run`, in its own process group, as a terminal would run it
sub start_run
{
	unlink $output;
	my $pid = fork() // die "fork: $!";
	if ($pid == 0)
	{
		POSIX::setpgid(0, 0);
		$SIG{INT} = 'DEFAULT';
		# the private server of make check must not stand in for the system's
		$ENV{PATH} = join(':', grep { !/tmp_install/ } split /:/, $ENV{PATH});
		delete @ENV{qw(PG_CONFIG PGHOST PGPORT PGUSER PGDATABASE MAKEFLAGS MAKELEVEL MFLAGS)};
		@ENV{qw(REFLEXO_STATE_DIR REFLEXO_PG_PORT REFLEXO_HTTP_PORT GHL_SIM_PORT)} =
		  ($state, $ports{pg}, $ports{http}, $ports{sim});
		open(STDOUT, '>', $output) or die;
		open(STDERR, '>&', \*STDOUT) or die;
		chdir $root or die;
		exec('make', 'run') or die "exec: $!";
	}
	return $pid;
}

sub output { -e $output ? PostgreSQL::Test::Utils::slurp_file($output) : '' }

sub stop_run
{
	my ($pid) = @_;
	kill 'INT', -$pid;
	my $gone = wait_until(sub { waitpid($pid, WNOHANG) == $pid }, 60);
	kill 'KILL', -$pid unless $gone;
	return $gone;
}

my $pid = start_run();
ok(wait_until(sub { output() =~ /Press Ctrl-C to stop/ || output() =~ /^reflexo: /m }, 600), 'make run says it is ready')
  or diag(output());
my $out = output();
like($out, qr/==> Starting PostgreSQL.*==> Starting ghl-sim.*==> Starting reflexo-sync/s, 'it shows its progress');
my ($db) = $out =~ /psql "(postgresql:[^"]+)"/;
ok($db, 'it prints the psql connection string');
like($out, qr{status page +http://127\.0\.0\.1:$ports{http}/}, 'and the status page URL');
is(http_request('GET', "http://127.0.0.1:$ports{http}/readyz")->{status}, 200, 'reflexo-sync is ready');

my $monday = `date -d 'next monday' +%F`;
chomp $monday;
my ($rc, $stdout, $stderr) = run_psql($db, "INSERT INTO api.citas (title, contact_id, ghl_calendar_id, start_time, end_time)
  SELECT 'Desde make run', 'contact-run', ghl_calendar_id, '$monday 10:00-05', '$monday 10:30-05'
    FROM reflexo.calendars WHERE is_active ORDER BY id LIMIT 1");
is($rc, 0, 'a cita is booked through SQL') or diag($stderr);
ok(wait_until(sub {
	my $state = http_request('GET', "http://127.0.0.1:$ports{sim}/_sim/state")->{content} // '';
	$state =~ /Desde make run/ }), 'and arrives in ghl-sim');

ok(stop_run($pid), 'Ctrl-C stops make run');
like(output(), qr/==> Stopping.*stopped; the data stays/s, 'saying so');
for my $name (sort keys %ports)
{
	ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ports{$name}, Timeout => 1),
		"nothing listens on the $name port any more");
}

# again: the same data, no new cluster
$pid = start_run();
ok(wait_until(sub { output() =~ /Press Ctrl-C to stop/ || output() =~ /^reflexo: /m }, 600), 'make run starts again');
unlike(output(), qr/Creating a PostgreSQL cluster/, 'on the existing cluster');
($rc, $stdout) = run_psql($db, q{SELECT count(*) FROM reflexo.appointments WHERE title = 'Desde make run'});
is($stdout, '1', 'with the cita booked before');
ok(stop_run($pid), 'and stops again');

done_testing();

sub run_psql
{
	my ($conninfo, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-qAt', '-d', $conninfo, '-c', $sql ], '>', \$out, '2>', \$err);
	chomp $out;
	return ($? >> 8, $out, $err);
}

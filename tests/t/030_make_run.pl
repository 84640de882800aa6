# make run as a newcomer uses it: started in the background, ready at one
# base URL where the Django service's guide's own curl commands ("Flujos
# Principales") work as written; a cita booked there reaches ghl-sim, and
# ghl-sim's signed webhooks come back through the same URL; Ctrl-C (SIGINT)
# stops everything; a second run reuses the data, and every runnable code
# block of the README and docs/ works against it as documented.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ":sys_wait_h";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use DocsBlocks;
use ReflexoTest;
use Test::More;

my $root = repo_root();
my $state = PostgreSQL::Test::Utils::tempdir();
my %ports = map { $_ => PostgreSQL::Test::Cluster::get_free_port() } qw(pg http sync sim);
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
		@ENV{qw(REFLEXO_STATE_DIR REFLEXO_PG_PORT REFLEXO_HTTP_PORT REFLEXO_SYNC_PORT GHL_SIM_PORT)} =
		  ($state, $ports{pg}, $ports{http}, $ports{sync}, $ports{sim});
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
like($out, qr/==> Starting PostgreSQL.*==> Starting ghl-sim.*==> Starting reflexo-sync.*==> Starting reflexo-api/s,
	'it shows its progress');
my ($db) = $out =~ /psql "(postgresql:[^"]+)"/;
ok($db, 'it prints the psql connection string');
my $base = "http://127.0.0.1:$ports{http}";
like($out, qr{API +\Q$base\E/api/}, 'and one base URL for the API');
my ($password) = $out =~ m{API user +admin / (\S+)};
ok($password, 'and the admin\'s password');
is(http_request('GET', "$base/readyz")->{status}, 200, 'reflexo-api is ready');
is(http_request('GET', "http://127.0.0.1:$ports{sync}/readyz")->{status}, 200, 'and reflexo-sync');

# The guide's "Flujos Principales", as written there: only the host, the
# token and the ids the guide leaves to the reader are filled in.
sub curl
{
	my ($command, %fill) = @_;
	$command =~ s{http://localhost:8000}{$base}g;
	$command =~ s/\Q$_\E/$fill{$_}/g for keys %fill;
	$command =~ s/\\\n\s*/ /g;
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([ 'bash', '-c', "$command -s -w '\\n%{http_code}'" ], '>', \$stdout, '2>', \$stderr);
	my ($body, $status) = $stdout =~ /^(.*)\n(\d+)$/s;
	return { status => $status // 0, json => eval { decode_json($body) }, body => $body };
}
my $login = curl(q{curl -X POST "http://localhost:8000/api/architect/login/" -H "Content-Type: application/json" -d '{"username": "admin", "password": "password"}'},
	'"password": "password"' => qq{"password": "$password"});
is($login->{status}, 200, 'POST /api/architect/login/ with the guide\'s body');
my $token = $login->{json}{access};
my %auth = (YOUR_JWT_TOKEN => $token);

# Flujo 1: crear cita en RV3 y sincronizar a GHL
my $r = curl(q{curl -X GET "http://localhost:8000/api/ghl/calendars/" \
  -H "Authorization: Bearer YOUR_JWT_TOKEN"}, %auth);
is_deeply([ $r->{status}, sort map { $_->{id} } @{ $r->{json}{calendars} } ], [ 200, 'cal_123', 'cal_456' ],
	'Flujo 1.1: the calendars, with the guide\'s ids');
$r = curl(q{curl -X POST "http://localhost:8000/api/ghl/citas/" \
  -H "Authorization: Bearer YOUR_JWT_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{
    "title": "Consulta Fisioterapia",
    "contact_id": "ghl_contact_123",
    "ghl_calendar_id": "cal_456",
    "start_time": "2025-12-25T14:00:00-05:00",
    "end_time": "2025-12-25T15:00:00-05:00",
    "notes": "Primera consulta"
  }'}, %auth);
is($r->{status}, 201, 'Flujo 1.2: the cita is created') or diag($r->{body});
my $cita = $r->{json}{id};
is_deeply(http_request('GET', "$base/api/ghl/citas/999999/", headers => { Authorization => "Bearer $token" })->{json},
	{ detail => 'No encontrado.' }, 'the API answers in Spanish, as the Django service did');
ok(wait_until(sub {
	my $state = http_request('GET', "http://127.0.0.1:$ports{sim}/_sim/state")->{content} // '';
	$state =~ /Consulta Fisioterapia/ }), 'and reaches ghl-sim');
ok(wait_until(sub { curl(q{curl -X GET "http://localhost:8000/api/ghl/citas/{cita_id}/" \
  -H "Authorization: Bearer YOUR_JWT_TOKEN"}, %auth, '{cita_id}' => $cita)->{json}{sync_state} eq 'synced' }),
	'Flujo 1.3: and reads back synced, with its GHL id');

# Flujo 2: webhook GHL → actualizar RV3 (ghl-sim signs and sends it to the same base URL)
my $ghl_id = curl(qq{curl "$base/api/ghl/citas/$cita/" -H "Authorization: Bearer $token"})->{json}{ghl_appointment_id};
http_request('PUT', "http://127.0.0.1:$ports{sim}/_sim/ghl/appointments/$ghl_id",
	json => { startTime => '2025-12-25T16:00:00-05:00', endTime => '2025-12-25T17:00:00-05:00' });
ok(wait_until(sub { curl(qq{curl "$base/api/ghl/citas/$cita/" -H "Authorization: Bearer $token"})->{json}{start_time}
	  eq '2025-12-25T16:00:00-05:00' }), 'Flujo 2: a change made in GHL comes back through /api/webhooks/ghl/');
$r = curl(q{curl -X GET "http://localhost:8000/api/ghl/metrics/webhooks/" \
  -H "Authorization: Bearer YOUR_JWT_TOKEN"}, %auth);
ok($r->{status} == 200 && $r->{json}{AppointmentUpdate}{success_count} >= 1, 'and counts in the webhook metrics');

# Flujo 3: configurar location y calendario por defecto (make run has made it already)
$r = curl(q{curl -X POST "http://localhost:8000/api/locations/settings/" \
  -H "Authorization: Bearer YOUR_JWT_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{
    "ghl_location_id": "CRlTCqv7ASS9xOpPQ59O",
    "name": "Reflexo Peru - Principal",
    "timezone": "America/Lima",
    "is_active": true
  }'}, %auth);
ok($r->{status} == 400 && $r->{json}{ghl_location_id}, 'Flujo 3.1: the location exists already: 400 on its id');
my ($location) = map { $_->{id} } grep { $_->{ghl_location_id} eq 'CRlTCqv7ASS9xOpPQ59O' }
  @{ curl(qq{curl "$base/api/locations/settings/" -H "Authorization: Bearer $token"})->{json}{results} };
$r = curl(q{curl -X POST "http://localhost:8000/api/locations/settings/{location_id}/set_default_calendar/" \
  -H "Authorization: Bearer YOUR_JWT_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"calendar_id": "cal_123"}'}, %auth, '{location_id}' => $location);
is_deeply([ $r->{status}, $r->{json}{default_calendar_id} ], [ 200, 'cal_123' ], 'Flujo 3.2: the default calendar is set');

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
my ($rc, $stdout) = run_psql($db, q{SELECT count(*) FROM reflexo.appointments WHERE title = 'Consulta Fisioterapia'});
is($stdout, '1', 'with the cita booked before');

# the docs' code blocks (tests/t/lib/DocsBlocks.pm), each file's SQL in a
# database of its own on this server, its shell against this stack's URLs
my %fill = ('http://localhost:8000' => $base, 'http://localhost:8001' => "http://127.0.0.1:$ports{sync}",
	'http://localhost:8090' => "http://127.0.0.1:$ports{sim}");
my $documents = 0;
{
	local $ENV{ADMIN_PASSWORD} = $password;
	for my $file ("$root/README.md", sort glob("$root/docs/*.md"))
	{
		my $blocks = docs_blocks($file);
		(my $name = $file) =~ s{^\Q$root\E/}{};
		$documents++ if %$blocks;
		if ($blocks->{sql})
		{
			(my $scratch = "docs_$name") =~ s/\W/_/g;
			run_psql($db, "CREATE DATABASE " . lc $scratch);
			(my $conninfo = $db) =~ s{/reflexo$}{'/' . lc $scratch}e;
			my ($ok, $why) = run_sql_blocks($conninfo, $name, @{ $blocks->{sql} });
			ok($ok, "$name: its SQL runs as documented") or diag($why);
		}
		if ($blocks->{sh})
		{
			my ($ok, $why) = run_sh_blocks(\%fill, $name, @{ $blocks->{sh} });
			ok($ok, "$name: its shell commands run as documented") or diag($why);
		}
	}
}
cmp_ok($documents, '>=', 5, 'the README and the guides have runnable examples');
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

# PostgreSQL fails over mid-sync, and nothing is lost or doubled.  A
# pg_auto_failover formation (monitor, primary, synchronous standby) serves
# reflexo-sync and reflexo-api through libpq multi-host URLs
# (target_session_attrs=read-write), while bookings arrive through SQL and
# HTTP, pushes go to ghl-sim (with faults), and ghl-sim delivers signed
# webhooks for changes made in GHL.  Two failovers happen: pg_autoctl perform
# failover, then the primary's machine dies (kill -9 of its postmaster and
# pg_autoctl).  Afterwards: every acknowledged booking is there, none
# overlaps, every appointment is in GHL once, every GHL change is applied
# once, the outbox is drained, and each failover's recovery time (the
# failure to the first push recorded on the new primary) is reported.
# FAILOVER_SOAK_SECONDS lengthens the traffic around each failover.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX ':sys_wait_h';
use PostgreSQL::Test::Utils;
use ReflexoFormation;
use ReflexoTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $soak = $ENV{FAILOVER_SOAK_SECONDS} // 4;
my $secret = 'failover-secret-that-is-longer-than-32-chars';
my $sim = start_sim();
my $f = ReflexoFormation->new('failover');
is($f->states, 'primary secondary', 'a formation: a primary and a standby');
ok($f->safe_psql('postgres', 'SHOW synchronous_standby_names') ne '',
	'replicating synchronously: a commit acknowledged to a client is on the standby too');

load_sim_calendars($f, $sim);
$f->safe_psql('postgres', qq{SELECT reflexo.set_jwt_secret('$secret');
SET reflexo.password_iterations = 1000;
SELECT api.create_user('recepcion', 'recepcion-password', 'staff', ARRAY(SELECT id FROM reflexo.locations));});
my $tokens = $sim->token();
$sim->control('POST', 'faults', { error_rate => 0.05, error_status => 503, lost_response_rate => 0.03 });
my $daemon = start_daemon(node => $f, sim => $sim, env => { DATABASE_URL => $f->connstr,
	GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token},
	REFLEXO_LOG_LEVEL => 'info' });
my $api = start_api(node => $f, secret => $secret,
	env => { DATABASE_URL => $f->connstr . ' user=reflexo_authenticator', REFLEXO_LOG_LEVEL => 'info' });
# GHL retries a webhook it could not deliver six times, ten minutes apart: here seconds apart
$sim->control('POST', 'webhooks', { url => $daemon->url . '/webhooks/ghl', retry_interval_ms => 5000, max_retries => 12 });
ok(wait_until(sub { $f->safe_psql('postgres', 'SELECT count(*) FROM reflexo.connected_locations()') == 1 }, 20),
	'reflexo-sync stored its credentials through the formation');

# ---------------------------------------------------------------- traffic
my $dir = PostgreSQL::Test::Utils::tempdir();

# a child process doing something until the stop file appears
sub traffic
{
	my ($name, $step) = @_;
	my $pid = fork() // die;
	return $pid if $pid;
	open(my $log, '>>', "$dir/$name") or die;
	$log->autoflush(1);
	for (my $k = 0; !-e "$dir/stop"; $k++)
	{
		my $line = eval { $step->($k) };
		print {$log} "$line\n" if defined $line;
		sleep(0.02);
	}
	POSIX::_exit(0);
}

# bookings through SQL: each slot once, and now and then a second booking of a
# slot of the one-patient calendar taken just before, which the guard must
# refuse; an acknowledged commit is logged
my $sql_booker = traffic('sql', sub {
	my ($k) = @_;
	my $slot = $k % 14 == 6 ? $k - 2 : $k;
	book($f, 1, skip => 5000 + $slot);
	return "Cita " . (5000 + $slot);
});
# bookings through reflexo-api: 201 (acknowledged) or a retryable refusal, never another answer
my $login = http_request('POST', $api->url . '/api/architect/login/',
	json => { username => 'recepcion', password => 'recepcion-password' })->{json}{access};
my $http_booker = traffic('http', sub {
	my ($k) = @_;
	# weekdays from Monday 2029-01-01, ten slots a day, as book() lays them out
	my $day = POSIX::strftime('%Y-%m-%d', gmtime(1861920000 + (int($k / 50) * 7 + int($k % 50 / 10)) * 86400));
	my $hour = 8 + $k % 10 + ($k % 10 >= 5 ? 1 : 0);
	my $r = http_request('POST', $api->url . '/api/ghl/citas/', headers => { Authorization => "Bearer $login" },
		json => { title => "Web $k", contact_id => "web-$k", ghl_calendar_id => 'SimCalEvaluacion0001',
			start_time => sprintf('%sT%02d:00:00-05:00', $day, $hour), end_time => sprintf('%sT%02d:30:00-05:00', $day, $hour) });
	return "$r->{status} Web $k";
});
# changes made in GHL, which ghl-sim delivers as signed webhooks
my $ghl_booker = traffic('ghl', sub {
	my ($k) = @_;
	sleep(0.2);
	my $at = sprintf('2028-%02d-%02dT%02d', 1 + int($k / 224) % 12, 1 + int($k / 8) % 28, 9 + $k % 8);
	my $r = $sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalFisio000000001', contactId => "ghl-$k",
		title => "GHL $k", startTime => "$at:00:00-05:00", endTime => "$at:30:00-05:00" });
	return $r->{status} == 201 || $r->{status} == 200 ? "GHL $k" : undef;
});

# ---------------------------------------------------------------- the failovers
# From the failure to the first push recorded on the new primary (once it took writes).
sub recovery_after
{
	my ($failed_at) = @_;
	my $port = $f->primary->{port};
	my $first = '';
	wait_until(sub { (eval { $f->safe_psql('postgres', 'SELECT inet_server_port()') } // '') eq $port }, 120);
	my $writable = time();
	wait_until(sub {
		$first = eval { $f->safe_psql('postgres', "SELECT extract(epoch FROM min(completed_at)) FROM reflexo.outbox"
			  . " WHERE completed_at > to_timestamp($writable)") } // '';
		$first ne '' }, 120);
	return $first eq '' ? undef : $first - $failed_at;
}

sleep($soak);
my $failed_at = time();
$f->perform_failover;
ok($f->wait_states(qr/^secondary primary$/, 90), 'pg_autoctl perform failover: the standby is the primary');
my $recovery1 = recovery_after($failed_at);
ok(defined $recovery1, sprintf('pushes resume on the new primary %.1f s after the failover began', $recovery1 // -1));

sleep($soak);
$failed_at = time();
my $dead = $f->kill_primary;
ok(wait_until(sub { my $p = $f->primary; $p && $p->{name} ne $dead->{name} }, 90),
	'kill -9 of the primary\'s postmaster and pg_autoctl: the monitor promotes the standby');
my $recovery2 = recovery_after($failed_at);
ok(defined $recovery2, sprintf('pushes resume %.1f s after the primary died', $recovery2 // -1));
diag(sprintf('failover recovery (failure to the first push on the new primary): perform failover %.1f s, '
	  . 'kill -9 %.1f s', $recovery1 // -1, $recovery2 // -1));

sleep($soak);
open(my $stop, '>', "$dir/stop") or die;
close $stop;
waitpid($_, 0) for $sql_booker, $http_booker, $ghl_booker;
$sim->control('POST', 'faults', { error_rate => 0, lost_response_rate => 0 });

# ---------------------------------------------------------------- what must hold
sub lines { my ($name) = @_; return -e "$dir/$name" ? split(/\n/, slurp_file("$dir/$name")) : () }
my @acked_sql = lines('sql');
my @http = lines('http');
my @acked_http = map { /^201 (.*)$/ ? $1 : () } @http;
my @ghl = lines('ghl');
cmp_ok(scalar(@acked_sql), '>', 20, scalar(@acked_sql) . ' bookings acknowledged through SQL');
cmp_ok(scalar(@acked_http), '>', 20, scalar(@acked_http) . ' bookings acknowledged through reflexo-api');
is_deeply([ grep { !/^(201|503) / } @http ], [], 'reflexo-api answered 201, or 503 (retry) during a switch; nothing else');

my %stored = map { $_ => 1 } split /\n/, $f->safe_psql('postgres', 'SELECT title FROM reflexo.appointments');
is_deeply([ grep { !$stored{$_} } @acked_sql, @acked_http ], [], 'every acknowledged booking survived both failovers');
is($f->safe_psql('postgres', q{
SELECT count(*) FROM reflexo.appointments a JOIN reflexo.appointments b
  ON a.calendar_id = b.calendar_id AND a.id < b.id AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
  JOIN reflexo.calendars c ON c.id = a.calendar_id AND c.capacity = 1
 WHERE a.status NOT IN ('cancelled', 'invalid') AND b.status NOT IN ('cancelled', 'invalid')
   AND a.origin = 'local' AND b.origin = 'local'}), '0', 'no booking made here overlaps another on a one-patient calendar');

ok(wait_until(sub { my $w = $sim->control('GET', 'state')->{json}{webhooks}; $w->{queued} == 0 }, 120),
	'ghl-sim delivered every webhook, those refused during a switch again');
is(wait_for_value($f, q{SELECT count(*) FROM reflexo.outbox WHERE state <> 'done'}, '0', 120), '0',
	'no outbox row is stuck')
  or diag($f->safe_psql('postgres', q{SELECT string_agg(format('%s %s/%s %s: %s', o.appointment_id, o.operation, o.state,
	 o.attempts, o.last_error), E'\n') FROM reflexo.outbox o WHERE o.state <> 'done'}),
	$f->safe_psql('postgres', q{SELECT string_agg(format('appointment %s %s %s %s ghl=%s lc=%s created %s flags %s', a.id, a.title,
	 a.contact_id, a.origin, a.ghl_appointment_id, a.local_changed_at, a.created_at, a.validation_flags), E'\n')
	 FROM reflexo.appointments a WHERE a.id IN (SELECT appointment_id FROM reflexo.outbox WHERE state <> 'done')
	    OR (a.calendar_id, a.starts_at) IN (SELECT b.calendar_id, b.starts_at FROM reflexo.appointments b
	                                        JOIN reflexo.outbox o ON o.appointment_id = b.id AND o.state <> 'done')}),
	$f->safe_psql('postgres', q{SELECT string_agg(format('history %s %s %s %s %s', h.appointment_id, h.operation, h.origin, h.actor, h.changed_at), E'\n' ORDER BY h.id)
	 FROM reflexo.appointment_history h WHERE h.appointment_id IN (SELECT a.id FROM reflexo.appointments a JOIN reflexo.appointments b
	   ON a.calendar_id = b.calendar_id AND a.starts_at = b.starts_at JOIN reflexo.outbox o ON o.appointment_id = b.id AND o.state <> 'done')}));
my $total = $f->safe_psql('postgres', 'SELECT count(*) FROM reflexo.appointments');
my $state = $sim->control('GET', 'state')->{json};
is($state->{appointment_count}, $total, "GHL holds every appointment ($total)");
is_deeply($state->{duplicate_creates}, [], 'none twice') or diag(explain($state->{duplicate_creates}));
is($f->safe_psql('postgres', 'SELECT count(*) - count(DISTINCT ghl_appointment_id) FROM reflexo.appointments'), '0',
	'each with its own GHL id');

my %ghl_rows = map { split /\t/ } split /\n/,
  $f->safe_psql('postgres', q{SELECT title || E'\t' || count(*) FROM reflexo.appointments WHERE title LIKE 'GHL %' GROUP BY title});
is_deeply([ grep { ($ghl_rows{$_} // 0) != 1 } @ghl ], [], scalar(@ghl) . ' changes made in GHL, each applied once');
is($sim->control('GET', 'state')->{json}{webhooks}{undeliverable}, 0, 'and none given up');

# ---------------------------------------------------------------- clients follow the primary
{
	my $primary = $f->primary->{port};
	local $ENV{DATABASE_URL} = $f->connstr;
	local $ENV{REFLEXO_TOKEN_KEY} = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
	local $ENV{REFLEXO_HTTP_ADDR} = '127.0.0.1:' . PostgreSQL::Test::Cluster::get_free_port();
	my ($out) = run_command([ binary('reflexo-sync', 'REFLEXO_SYNC'), '--check-config' ]);
	like($out, qr/^ok +database +connected to database postgres as \S+ on 127\.0\.0\.1:$primary, the primary/m,
		'reflexo-sync --check-config names the node it reached: the primary');
}
like(slurp_file($daemon->log_file), qr/"tag":"DATABASE"/, 'reflexo-sync logged the lost connection and its return');
is($daemon->stop('TERM'), 0, 'reflexo-sync stops cleanly');
ok(sanitizer_clean($daemon->log_file), 'with no sanitizer report');
is($api->stop('TERM'), 0, 'reflexo-api stops cleanly');
ok(sanitizer_clean($api->log_file), 'with no sanitizer report');
done_testing();

# Pushes and their echoes, racing: reflexo-sync creates, changes and deletes
# appointments in GHL (ghl-sim) while GHL's webhook for each change comes
# straight back to it, as real GHL does.  Every echo must be answered 200 at
# the first delivery (no deadlock, no duplicate key, no 429 for a race of
# our own), no booking may be doubled in GHL or here, and no appointment
# deleted here may come back.  REFLEXO_ECHO_PUSHES sets the size (300).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $n = $ENV{REFLEXO_ECHO_PUSHES} // 300;
my $http_port = PostgreSQL::Test::Cluster::get_free_port();
my $sim = start_sim(options => [ '--webhook-url', "http://127.0.0.1:$http_port/webhooks/ghl",
	'--rate-limit', '1000000', '--rate-interval-ms', '1000' ]);
my $node = new_node('echo_storm');
load_sim_calendars($node, $sim);
my $tokens = $sim->token();
my $daemon = start_daemon(node => $node, sim => $sim, http_port => $http_port,
	env => { GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token},
		REFLEXO_RATE_LIMIT => 100000, REFLEXO_RATE_INTERVAL_MS => 1000, REFLEXO_MAX_INFLIGHT => 32,
		REFLEXO_LOG_LEVEL => 'info' });

my $unsynced = q{SELECT count(*) FROM reflexo.appointments WHERE sync_state <> 'synced'};
sub echoes_settle
{
	my ($expected) = @_;
	return wait_until(sub {
		my $w = $sim->control('GET', 'state')->{json}{webhooks};
		$w->{sent} + $w->{failed} >= $expected && $w->{queued} == 0 }, 120);
}

# creates, each echoed while its answer is being recorded
book($node, $n);
is(wait_for_value($node, $unsynced, '0', 120), '0', "$n bookings are pushed and synced");
ok(echoes_settle($n), 'and GHL has echoed each');

# changes of every one, echoed
$node->safe_psql('postgres', q{UPDATE reflexo.appointments SET title = title || ' (cambio)'});
is(wait_for_value($node, $unsynced, '0', 120), '0', 'their changes are pushed');
ok(echoes_settle(2 * $n), 'and echoed');

# a third deleted here, echoed as GHL's AppointmentDelete
my $deleted = int($n / 3);
$node->safe_psql('postgres', "DELETE FROM reflexo.appointments WHERE id IN (SELECT id FROM reflexo.appointments ORDER BY id LIMIT $deleted)");
is(wait_for_value($node, q{SELECT count(*) FROM reflexo.outbox WHERE state <> 'done'}, '0', 120), '0',
	'the deletes are pushed');
ok(echoes_settle(2 * $n + $deleted), 'and echoed');

my $state = $sim->control('GET', 'state')->{json};
is($state->{webhooks}{failed}, 0, 'every echo was answered 2xx at its first delivery');
is($state->{webhooks}{retried}, 0, 'so GHL never had to deliver one again');
is($state->{appointment_count}, $n - $deleted, 'GHL holds each remaining booking');
is(scalar(@{ $state->{duplicate_creates} }), 0, 'once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM reflexo.appointments'), $n - $deleted,
	'no appointment deleted here came back, and none was doubled here');
is($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.webhook_inbox
	WHERE result NOT IN ('duplicate', 'stale') AND event_type <> 'AppointmentUpdate'}), '0',
	'no echo of a create or a delete changed anything');
is($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.appointments WHERE title NOT LIKE '% (cambio)'}), '0',
	'no local change was lost to the echo of an older state')
  or diag($node->safe_psql('postgres', q{SELECT a.id, a.title, a.assigned_user_id, h.origin, h.old_values::text, h.new_values::text
	  FROM reflexo.appointments a JOIN reflexo.appointment_history h ON h.appointment_id = a.id
	  WHERE a.title NOT LIKE '% (cambio)' ORDER BY a.id, h.id}));
diag('echoes of updates that brought GHL\'s own additions (e.g. the assigned team member): '
	  . $node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.webhook_inbox WHERE result = 'applied'}));

$daemon->stop;
my $daemon_log = slurp_file($daemon->log_file);
unlike($daemon_log, qr/"status":(429|500)/, 'reflexo-sync answered no echo 429 or 500');
unlike($daemon_log, qr/could not be recorded|"level":"error"/, 'and logged no error');
my $server_log = slurp_file($node->logfile);
unlike($server_log, qr/deadlock detected/, 'PostgreSQL saw no deadlock');
unlike($server_log, qr/duplicate key value/, 'nor a duplicate key');
ok(sanitizer_clean($daemon->log_file), 'no sanitizer report');

done_testing();

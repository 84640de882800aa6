# reflexo-sync pushes the Django guide's flow to GHL: create, update (a move),
# cancel, and delete, each reaching the simulator once, with the GHL id and
# sync state written back, and stops cleanly on SIGTERM.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $sim = start_sim();
my $node = new_node('push_flow');
load_sim_calendars($node, $sim);
my $tokens = $sim->token();
my $daemon = start_daemon(node => $node, sim => $sim,
	env => { GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token} });

sub sim_event
{
	my ($id) = @_;
	return $sim->api('GET', "/calendars/events/appointments/$id", token => $tokens->{access_token})->{json}{event};
}

my $id = $node->safe_psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, contact_id, title, assigned_user_id, notes, starts_at, ends_at)
SELECT id, 'ghl_contact_123', 'Consulta Fisioterapia', 'SimTherapist00000001', 'Primera consulta',
       '2026-03-10 14:00-05', '2026-03-10 15:00-05'
  FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001'
RETURNING id});
is(wait_for_value($node, "SELECT sync_state FROM reflexo.appointments WHERE id = $id", 'synced'), 'synced',
	'a new appointment is pushed and marked synced');
my $ghl_id = $node->safe_psql('postgres', "SELECT ghl_appointment_id FROM reflexo.appointments WHERE id = $id");
like($ghl_id, qr/^\w{20}$/, 'with the GHL id written back');
my $event = sim_event($ghl_id);
is($event->{title}, 'Consulta Fisioterapia', 'GHL has it, with its title');
is($event->{startTime}, '2026-03-10T14:00:00-05:00', 'at the local time, with the location\'s offset');
is($event->{contactId} . ' ' . $event->{calendarId}, 'ghl_contact_123 SimCalFisio000000001', 'for the contact and calendar');
is($event->{appointmentStatus}, 'new', 'scheduled is GHL\'s new');
is($event->{notes}, '', 'notes stay in the clinic');

$node->safe_psql('postgres', "UPDATE reflexo.appointments SET starts_at = '2026-03-10 16:00-05', ends_at = '2026-03-10 17:00-05',"
	  . " status = 'confirmed' WHERE id = $id");
wait_until(sub { (sim_event($ghl_id)->{startTime} // '') eq '2026-03-10T16:00:00-05:00' });
$event = sim_event($ghl_id);
is($event->{startTime}, '2026-03-10T16:00:00-05:00', 'a move reaches GHL');
is($event->{appointmentStatus}, 'confirmed', 'with the new status');

$node->safe_psql('postgres', "UPDATE reflexo.appointments SET status = 'cancelled' WHERE id = $id");
wait_until(sub { (sim_event($ghl_id)->{appointmentStatus} // '') eq 'cancelled' });
is(sim_event($ghl_id)->{appointmentStatus}, 'cancelled', 'a cancellation reaches GHL');
is(wait_for_value($node, "SELECT sync_state FROM reflexo.appointments WHERE id = $id", 'synced'), 'synced',
	'and the appointment is synced again');

my $second = $node->safe_psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, contact_id, title, starts_at, ends_at)
SELECT id, 'c2', 'Para borrar', '2026-03-11 09:00-05', '2026-03-11 10:00-05'
  FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001' RETURNING id});
wait_for_value($node, "SELECT sync_state FROM reflexo.appointments WHERE id = $second", 'synced');
my $second_ghl = $node->safe_psql('postgres', "SELECT ghl_appointment_id FROM reflexo.appointments WHERE id = $second");
$node->safe_psql('postgres', "DELETE FROM reflexo.appointments WHERE id = $second");
ok(wait_until(sub { $sim->api('GET', "/calendars/events/appointments/$second_ghl",
	token => $tokens->{access_token})->{status} == 404 }), 'a delete reaches GHL');

# a booking cancelled before it was ever pushed is never sent
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO reflexo.appointments (calendar_id, contact_id, title, starts_at, ends_at)
SELECT id, 'c3', 'Nunca', '2026-03-12 09:00-05', '2026-03-12 10:00-05'
  FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001';
UPDATE reflexo.appointments SET status = 'cancelled' WHERE title = 'Nunca';
COMMIT});
is(wait_for_value($node, q{SELECT sync_state FROM reflexo.appointments WHERE title = 'Nunca'}, 'synced'), 'synced',
	'a booking created and cancelled in one transaction is synced without a call');

my $state = $sim->control('GET', 'state')->{json};
is($state->{appointment_count}, 1, 'GHL holds exactly the one appointment that still exists there');
is_deeply($state->{duplicate_creates}, [], 'nothing was created twice');
is($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.outbox WHERE state <> 'done'}), '0', 'the outbox is drained');
like($node->safe_psql('postgres', q{SELECT reflexo.metrics() -> 'ghl_operations' ->> 'create_appointment'}),
	qr/"success_count": 2/, 'the pushes are in the metrics');

# a booking refused by a rule is an alert
$node->safe_psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, contact_id, title, starts_at, ends_at)
SELECT id, 'c4', 'Primera', '2026-03-13 09:00-05', '2026-03-13 10:00-05'
  FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001'});
my ($rc) = $node->psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, contact_id, title, starts_at, ends_at)
SELECT id, 'c5', 'Encima', '2026-03-13 09:30-05', '2026-03-13 10:30-05'
  FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001'});
isnt($rc, 0, 'an overlapping booking is refused');
ok(wait_until(sub { slurp_file($daemon->log_file) =~ /"tag":"ALERT".*"alert":"validation_errors","kind":"overlap","rejected":1/ }, 20),
	'and raises a validation_errors alert naming the rule');

# GHL refuses a booking without a contact: the cita says so, and once corrected a retry pushes it
my $nobody = $node->safe_psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
SELECT id, 'Sin contacto', '2026-03-16 09:00-05', '2026-03-16 10:00-05'
  FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001' RETURNING id});
is(wait_for_value($node, "SELECT sync_state || ': ' || sync_error FROM reflexo.appointments WHERE id = $nobody",
		'failed: GHL 422: contactId should not be empty'),
	'failed: GHL 422: contactId should not be empty', 'a booking GHL refuses fails, saying why in GHL\'s words');
$node->safe_psql('postgres', "UPDATE reflexo.appointments SET contact_id = 'c6' WHERE id = $nobody");
$node->safe_psql('postgres', "SELECT reflexo.revive_outbox(appointment_id => $nobody)");
is(wait_for_value($node, "SELECT sync_state || ' ' || (sync_error IS NULL) || ' ' || (synced_at IS NOT NULL)"
		  . " FROM reflexo.appointments WHERE id = $nobody", 'synced true true'),
	'synced true true', 'given a contact and retried, it reaches GHL: the error is gone, synced_at set');

# a person's open transaction on one cita does not hold back the write-back of the others:
# its result waits in the daemon (the database never waits for that lock) until the commit
$sim->control('POST', 'faults', { latency_ms => 1500, path => '/calendars/events/appointments' });
my $held = $node->safe_psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, contact_id, title, starts_at, ends_at)
SELECT id, 'c7', 'Retenida', '2026-03-17 09:00-05', '2026-03-17 10:00-05'
  FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001' RETURNING id});
my $person = $node->background_psql('postgres');
$person->query_safe("BEGIN; SELECT FROM reflexo.appointments WHERE id = $held FOR UPDATE;");
$sim->control('POST', 'faults', { latency_ms => 0, path => undef });
ok(wait_until(sub { slurp_file($daemon->log_file) =~ /its result waits".*"appointment_id":$held\b/ }, 20),
	'GHL took the held cita: its result waits for the lock');
my $free = $node->safe_psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, contact_id, title, starts_at, ends_at)
SELECT id, 'c8', 'Libre', '2026-03-17 11:00-05', '2026-03-17 12:00-05'
  FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001' RETURNING id});
is(wait_for_value($node, "SELECT sync_state FROM reflexo.appointments WHERE id = $free", 'synced', 10), 'synced',
	'meanwhile another cita is pushed and written back');
is($node->safe_psql('postgres', "SELECT sync_state || ' ' || (ghl_appointment_id IS NULL) FROM reflexo.appointments WHERE id = $held"),
	'pending true', 'the held one is not written back yet');
sub unrecorded
{
	my ($n) = http_request('GET', $daemon->url . '/metrics')->{content} =~ /^reflexo_sync_results_unrecorded (\d+)$/m;
	return $n // -1;
}
is(unrecorded(), 1, 'and /metrics counts its result as unrecorded');
$person->query_safe('COMMIT;');
$person->quit;
is(wait_for_value($node, "SELECT sync_state || ' ' || (ghl_appointment_id IS NOT NULL) FROM reflexo.appointments WHERE id = $held",
		'synced true', 10), 'synced true', 'and is, once the person commits');
ok(wait_until(sub { unrecorded() == 0 }), 'then nothing is left unrecorded');
is_deeply($sim->control('GET', 'state')->{json}{duplicate_creates}, [], 'each pushed once');

my $log = slurp_file($daemon->log_file);
like($log, qr/"tag":"GHL_OPERATION","session_id":"[0-9a-f]{8}","operation":"create_appointment","success":true,"duration_ms":[\d.]+,"appointment_id":"\w+","calendar_id":"SimCalFisio000000001","details":\{"attempt":1/,
	'each push is logged with the Django guide\'s fields');
unlike($log, qr/\Q$tokens->{access_token}\E|\Q$tokens->{refresh_token}\E|Primera consulta/,
	'and no token or note is ever logged');

is($daemon->stop('TERM'), 0, 'SIGTERM stops the daemon cleanly');
ok(sanitizer_clean($daemon->log_file), 'with no sanitizer report');
$sim->stop;
done_testing();

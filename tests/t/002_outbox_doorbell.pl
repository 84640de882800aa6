# The NOTIFY reflexo_outbox doorbell: one notification per committing
# transaction that queued local changes, none for rolled-back transactions
# or for changes applied from GHL, and always the same constant payload.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('doorbell');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'reflexo'\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION reflexo;
INSERT INTO reflexo.locations (id, ghl_location_id, name, timezone, open_hours)
  VALUES (1, 'loc', 'Lima', 'America/Lima', '00:00-24:00');
INSERT INTO reflexo.calendars (id, location_id, ghl_calendar_id, name) VALUES (1, 1, 'cal', 'Fisioterapia');
});

# psql prints every notification it receives after each command; a session
# also receives its own notifications.
sub doorbells
{
	my ($sql) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', "LISTEN reflexo_outbox;\n$sql\nSELECT 1;");
	is($ret, 0, 'script ran') or diag($stderr);
	# psql names the payload only when there is one; no payload reads as ''
	my @rings = map { $_ // '' }
	  $stdout =~ /Asynchronous notification "reflexo_outbox"(?: with payload "([^"]*)")? received/g;
	return \@rings;
}

my $rings = doorbells(q{
BEGIN;
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at) VALUES
  (1, 'a', '2026-03-10 09:00-05', '2026-03-10 10:00-05'),
  (1, 'b', '2026-03-10 10:00-05', '2026-03-10 11:00-05');
UPDATE reflexo.appointments SET title = 'a2' WHERE title = 'a';
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
  VALUES (1, 'c', '2026-03-10 11:00-05', '2026-03-10 12:00-05');
COMMIT;
});
is(scalar(@$rings), 1, 'a transaction with several changes rings once');
is_deeply($rings, [''], 'with an empty, constant payload');

$rings = doorbells(q{
BEGIN;
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
  VALUES (1, 'd', '2026-03-10 12:00-05', '2026-03-10 13:00-05');
ROLLBACK;
});
is(scalar(@$rings), 0, 'a rolled-back transaction does not ring');

$rings = doorbells(q{
SELECT reflexo.apply_ghl_webhook(jsonb_build_object(
  'type', 'AppointmentCreate', 'locationId', 'loc', 'webhookId', 'hook-1',
  'appointment', jsonb_build_object('id', 'ghl-1', 'calendarId', 'cal',
    'startTime', '2026-03-10T13:00:00-05:00', 'endTime', '2026-03-10T14:00:00-05:00')));
});
is(scalar(@$rings), 0, 'a change applied from GHL does not ring');

$rings = doorbells(q{
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
  VALUES (1, 'e', '2026-03-10 14:00-05', '2026-03-10 15:00-05');
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
  VALUES (1, 'f', '2026-03-10 15:00-05', '2026-03-10 16:00-05');
});
is(scalar(@$rings), 2, 'two transactions ring twice');

is($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.outbox}), '5',
	'the outbox holds one row per appointment changed locally');


$node->stop;
done_testing();

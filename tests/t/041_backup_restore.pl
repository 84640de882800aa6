# A clinic backs up with pg_dump and restores with pg_restore: every row of
# every table comes back as it was (flags, origins, sync states, outbox,
# history, users, tokens, the JWT secret), sequences go on where they were,
# and nothing is queued for GHL a second time.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $node = new_node('backup');
$node->safe_psql('postgres', q{
SET reflexo.password_iterations = 1000;
SELECT reflexo.set_jwt_secret('backup-secret-that-is-longer-than-32-chars');
SELECT reflexo.ensure_location('LocBackup', 'Reflexo Lima', 'America/Lima');
SELECT count(*) FROM reflexo.upsert_ghl_calendars('LocBackup', '[{"id": "CalA", "name": "Fisio"}, {"id": "CalB", "name": "Eval"}]');
SELECT reflexo.add_closure((SELECT id FROM reflexo.locations), '2026-12-25', 'Navidad');
INSERT INTO reflexo.appointments (calendar_id, contact_id, title, notes, starts_at, ends_at)
SELECT c.id, 'contact-' || k, 'Cita ' || k, 'nota ' || k, timestamptz '2026-06-01 09:00-05' + k * interval '1 day',
       timestamptz '2026-06-01 09:45-05' + k * interval '1 day'
  FROM generate_series(1, 12) k, reflexo.calendars c WHERE c.ghl_calendar_id = 'CalA';
-- a flexible booking stored flagged, and a change from GHL: neither passes today's rules
SET reflexo.strict_validation = off;
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
SELECT id, 'Encima', '2026-06-02 09:15-05', '2026-06-02 10:00-05' FROM reflexo.calendars WHERE ghl_calendar_id = 'CalA';
RESET reflexo.strict_validation;
SELECT reflexo.apply_ghl_webhook('{"type": "AppointmentCreate", "locationId": "LocBackup", "webhookId": "hook-1",
  "appointment": {"id": "ghl-remote-1", "calendarId": "CalB", "startTime": "2026-06-06T22:00:00-05:00",
                  "endTime": "2026-06-06T23:00:00-05:00", "dateUpdated": "2026-05-01T12:00:00Z"}}');
UPDATE reflexo.appointments SET status = 'cancelled' WHERE title = 'Cita 3';
DELETE FROM reflexo.appointments WHERE title = 'Cita 4';
SELECT count(*) FROM reflexo.finish_outbox((
  SELECT jsonb_agg(jsonb_build_object('outbox_id', j.outbox_id, 'attempt', j.attempt, 'outcome', 'done',
                                      'ghl_appointment_id', 'ghl-' || j.appointment_id))
    FROM reflexo.claim_outbox(6) j));
SELECT reflexo.record_ghl_operation('create_appointment', true, 80, 1, 97);
SELECT reflexo.save_ghl_credentials('LocBackup', 'oauth', '\x0102'::bytea, '\x0304'::bytea, now() + interval '1 day');
SELECT api.create_user('recepcion', 'una clave larga', 'staff', ARRAY[(SELECT id FROM reflexo.locations)]);
});

# every table of the extension is backed up, and every identity sequence
is($node->safe_psql('postgres', q{
SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.relname) FROM pg_class c
 WHERE c.relnamespace = 'reflexo'::regnamespace AND c.relkind IN ('r', 'S')
   AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'reflexo')::oid[])}), '',
	'every table and sequence of schema reflexo is marked for pg_dump');

# a digest of each table's rows, table by table
my $tables = $node->safe_psql('postgres',
	q{SELECT string_agg(oid::regclass::text, ' ' ORDER BY relname) FROM pg_class WHERE relnamespace = 'reflexo'::regnamespace AND relkind = 'r'});
my $contents = join("\nUNION ALL ",
	map { "SELECT '$_', count(*), md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM $_ x" } split / /, $tables)
  . "\nORDER BY 1";
my $before = $node->safe_psql('postgres', $contents);
my $outbox_before = $node->safe_psql('postgres', 'SELECT count(*) FROM reflexo.outbox');

my $dump = PostgreSQL::Test::Utils::tempdir() . '/clinic.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump backs the database up');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
{
	# the rows were checked, stamped and queued when first written: restored
	# with triggers off (replica mode), they come back as they were
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
		'pg_restore in replica mode restores it');
}
$node->safe_psql('restored', 'ANALYZE');    # the procedure's last step: pg_restore brings no statistics

cmp_ok(scalar(split /\n/, $before), '>=', 12, 'the digest covers every table');
like($before, qr/^reflexo\.appointments\|13\|/m, 'and sees their rows');
is($node->safe_psql('restored', $contents), $before, 'every row of every table is back, value for value');
is($node->safe_psql('restored', 'SELECT count(*) FROM reflexo.outbox'), $outbox_before, 'nothing was queued again');
is($node->safe_psql('restored', q{
SELECT string_agg(title || ' ' || origin || ' ' || sync_state || ' ' || validation_flags::text, '; ' ORDER BY title)
  FROM reflexo.appointments WHERE title IN ('Encima', 'Cita 2') OR origin = 'ghl'}),
	' ghl synced {outside_hours}; Cita 2 local synced {}; Encima local pending {overlap}',
	'flagged rows keep their flags, GHL rows their origin, sync states their value');
is($node->safe_psql('restored', q{
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
SELECT id, 'Nueva', '2026-07-01 11:00-05', '2026-07-01 11:45-05' FROM reflexo.calendars WHERE ghl_calendar_id = 'CalA'
RETURNING id > (SELECT max(id) FROM reflexo.appointments WHERE title <> 'Nueva')}), 't',
	'new bookings continue the identity sequence');
my ($ret, $out, $err) = $node->psql('restored', q{
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
SELECT id, 'Choque', '2026-06-06 09:00-05', '2026-06-06 09:30-05' FROM reflexo.calendars WHERE ghl_calendar_id = 'CalA'});
like($err, qr/schedule conflict with: Cita 5/, 'and the guard works on the restored data');
is($node->safe_psql('restored', q{
SET reflexo.password_iterations = 1000;
SELECT reflexo.jwt_verify(api.login('recepcion', 'una clave larga') ->> 'access') ->> 'sub'}), 'recepcion',
	'users log in with the restored JWT secret');

$node->stop;
done_testing();

# A clinic's database updates in place: 0.1.0 installed and filled with
# appointments, outbox rows, webhooks, users and tokens, then ALTER
# EXTENSION reflexo UPDATE, must end with the catalog of a fresh install of
# the current version, fact for fact, its data intact and its rules working.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $root = repo_root();
my ($current) = PostgreSQL::Test::Utils::slurp_file("$root/reflexo.control") =~ /^default_version = '([^']+)'/m;
ok($current, "reflexo.control names the current version ($current)");

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'reflexo'\nfsync = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE updated; CREATE DATABASE fresh;');

# ---------------------------------------------------------------- 0.1.0 with data
$node->safe_psql('updated', q{
CREATE EXTENSION reflexo VERSION '0.1.0';
SET reflexo.password_iterations = 1000;
SELECT reflexo.ensure_location('LocUpgrade', 'Reflexo Lima', 'America/Lima');
SELECT count(*) FROM reflexo.upsert_ghl_calendars('LocUpgrade', '{"calendars": [
  {"id": "CalFisio", "name": "Fisioterapia", "slotDuration": 45},
  {"id": "CalEval", "name": "Evaluación", "appoinmentPerSlot": 2,
   "openHours": [{"daysOfTheWeek": [1,2,3,4,5], "hours": [{"openHour": 9, "openMinute": 0, "closeHour": 18, "closeMinute": 0}]}]}]}');
UPDATE reflexo.locations SET default_calendar_id = (SELECT id FROM reflexo.calendars WHERE ghl_calendar_id = 'CalFisio');
SELECT reflexo.add_closure((SELECT id FROM reflexo.locations), '2026-12-25', 'Navidad');
INSERT INTO reflexo.appointments (calendar_id, contact_id, assigned_user_id, title, notes, starts_at, ends_at)
SELECT c.id, 'contact-' || k, 'user-' || (k % 3), 'Cita ' || k, 'nota ' || k,
       timestamptz '2026-06-01 09:00-05' + k * interval '1 day', timestamptz '2026-06-01 09:45-05' + k * interval '1 day'
  FROM generate_series(1, 20) k, reflexo.calendars c WHERE c.ghl_calendar_id = 'CalFisio';
UPDATE reflexo.appointments SET title = 'Cita movida', starts_at = starts_at + interval '1 hour',
       ends_at = ends_at + interval '1 hour' WHERE title = 'Cita 2';
UPDATE reflexo.appointments SET status = 'cancelled' WHERE title = 'Cita 3';
DELETE FROM reflexo.appointments WHERE title = 'Cita 4';
SELECT count(*) FROM reflexo.finish_outbox((
  SELECT jsonb_agg(jsonb_build_object('outbox_id', j.outbox_id, 'attempt', j.attempt, 'outcome', 'done',
                                      'ghl_appointment_id', 'ghl-' || j.appointment_id))
    FROM reflexo.claim_outbox(5) j));
SELECT count(*) FROM reflexo.finish_outbox((
  SELECT jsonb_agg(jsonb_build_object('outbox_id', j.outbox_id, 'attempt', j.attempt, 'outcome', 'permanent',
                                      'error', 'Contact not found'))
    FROM reflexo.claim_outbox(1) j));
SELECT reflexo.apply_ghl_webhook(jsonb_build_object('type', 'AppointmentCreate', 'locationId', 'LocUpgrade',
  'webhookId', 'hook-' || k, 'appointment', jsonb_build_object('id', 'ghl-remote-' || k, 'calendarId', 'CalEval',
  'contactId', 'remote-' || k, 'title', 'Desde GHL ' || k,
  'startTime', to_char(date '2026-07-06' + k, 'YYYY-MM-DD') || 'T10:00:00-05:00',
  'endTime', to_char(date '2026-07-06' + k, 'YYYY-MM-DD') || 'T10:30:00-05:00',
  'dateUpdated', '2026-05-01T12:00:00.000Z')))
  FROM generate_series(1, 4) k;
SELECT reflexo.apply_ghl_webhook('{"type": "AppointmentCreate", "locationId": "LocUpgrade", "webhookId": "hook-unknown-cal",
  "appointment": {"id": "ghl-later", "calendarId": "CalNotYet", "startTime": "2026-07-20T10:00:00-05:00",
                  "endTime": "2026-07-20T10:30:00-05:00"}}');
SELECT reflexo.record_ghl_operation('create_appointment', true, 120.5, 1, 95);
SELECT reflexo.record_webhook_failure('AppointmentUpdate');
SELECT reflexo.save_ghl_credentials('LocUpgrade', 'oauth', '\x0102'::bytea, '\x0304'::bytea,
  '2026-12-01 00:00+00', 'calendars.write', true);
SELECT api.create_user('recepcion', 'una clave larga', 'staff', ARRAY[(SELECT id FROM reflexo.locations)]);
SELECT api.create_user('jefa', 'otra clave larga', 'admin');
-- where 0.1.0's README put the JWT secret
ALTER DATABASE updated SET reflexo.jwt_secret = 'secret-of-0.1.0-that-is-longer-than-32-chars';
});

# Every row of every table, as JSON, kept outside the extension's schemas.
sub snapshot
{
	my ($name) = @_;
	$node->safe_psql('updated', qq{
DO \$\$
DECLARE
  t regclass;
BEGIN
  CREATE SCHEMA IF NOT EXISTS upgrade_check;
  CREATE TABLE upgrade_check.$name (tab regclass, row_data jsonb);
  FOR t IN SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'reflexo'::regnamespace AND c.relkind = 'r' LOOP
    EXECUTE format('INSERT INTO upgrade_check.$name SELECT %L, to_jsonb(x) FROM %s x', t, t);
  END LOOP;
END
\$\$});
	return;
}
snapshot('before');
my $rows_before = $node->safe_psql('updated', 'SELECT count(*) FROM upgrade_check.before');
cmp_ok($rows_before, '>', 80, "0.1.0 holds data in every part ($rows_before rows)");
is($node->safe_psql('updated', q{
SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c
 WHERE c.relnamespace = 'reflexo'::regnamespace AND c.relkind = 'r'
   AND NOT EXISTS (SELECT FROM upgrade_check.before b WHERE b.tab = c.oid)}), '',
	'every table of 0.1.0 has rows before the update');

# ---------------------------------------------------------------- the update
my ($ret, $out, $err) = $node->psql('updated', 'ALTER EXTENSION reflexo UPDATE');
is($ret, 0, 'ALTER EXTENSION reflexo UPDATE succeeds') or diag($err);
is($node->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'reflexo'}), $current,
	"the updated database is at $current");

$node->safe_psql('fresh', 'CREATE EXTENSION reflexo');
my $catalog_sql = PostgreSQL::Test::Utils::slurp_file("$root/tests/t/lib/extension_catalog.sql");
my @updated = split /\n/, $node->safe_psql('updated', $catalog_sql);
my @fresh = split /\n/, $node->safe_psql('fresh', $catalog_sql);
cmp_ok(scalar(@fresh), '>', 500, 'the catalog description covers the extension (' . scalar(@fresh) . ' facts)');
my %in_updated = map { $_ => 1 } @updated;
my %in_fresh = map { $_ => 1 } @fresh;
my @only_updated = grep { !$in_fresh{$_} } @updated;
my @only_fresh = grep { !$in_updated{$_} } @fresh;
ok(!@only_updated && !@only_fresh, "the updated catalog equals a fresh $current install")
  or diag(join("\n", (map { "only after update: $_" } @only_updated), (map { "only in fresh install: $_" } @only_fresh)));

# ---------------------------------------------------------------- the data
snapshot('after');
is($node->safe_psql('updated', q{
SELECT count(*) FROM upgrade_check.before b
 WHERE NOT EXISTS (SELECT FROM upgrade_check.after a WHERE a.tab = b.tab AND a.row_data @> b.row_data)}), '0',
	'every row of 0.1.0 is still there with every value it had');
is($node->safe_psql('updated', q{
SELECT count(*) FROM (SELECT tab, count(*) FROM upgrade_check.before GROUP BY tab
                      EXCEPT SELECT tab, count(*) FROM upgrade_check.after GROUP BY tab) d}), '0',
	'and no table gained or lost rows');
is($node->safe_psql('updated', q{
SELECT string_agg(DISTINCT sync_state || ': ' || coalesce(sync_error, '-') || ', ' || (synced_at IS NOT NULL), '; ')
  FROM reflexo.appointments WHERE sync_state <> 'pending'}),
	'failed: Contact not found, false; synced: -, true',
	'what 0.1.0 knew is filled in: a failed push says why, a synced cita since when');

# ---------------------------------------------------------------- the rules
($ret, $out, $err) = $node->psql('updated', q{
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
SELECT calendar_id, 'Choque', starts_at + interval '15 minutes', ends_at FROM reflexo.appointments
 WHERE title = 'Cita 5'}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/23P01.*Cita 5/s, 'the guard still refuses an overlap, naming the cita in the way');
is($node->safe_psql('updated', q{
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
SELECT id, 'Nueva', '2026-09-01 11:00-05', '2026-09-01 11:45-05' FROM reflexo.calendars WHERE ghl_calendar_id = 'CalFisio';
SELECT count(*) FROM reflexo.outbox o JOIN reflexo.appointments a ON a.id = o.appointment_id
 WHERE a.title = 'Nueva' AND o.state = 'pending'}), '1', 'a new booking is queued for GHL');
my $due = $node->safe_psql('updated', q{
SELECT count(*) FROM reflexo.outbox o WHERE o.state = 'pending'
   AND NOT EXISTS (SELECT FROM reflexo.outbox e WHERE e.appointment_id = o.appointment_id AND e.id < o.id
                                                   AND e.state <> 'done')});
cmp_ok($due, '>', 10, 'rows queued by 0.1.0 wait with the new one');
is($node->safe_psql('updated', q{SELECT count(*) FROM reflexo.claim_outbox(100)}), $due,
	'and are claimed alike');
is($node->safe_psql('updated', q{
SELECT reflexo.apply_ghl_webhook('{"type": "AppointmentCreate", "locationId": "LocUpgrade", "webhookId": "hook-1",
  "appointment": {"id": "ghl-remote-1", "calendarId": "CalEval", "startTime": "2026-07-07T10:00:00-05:00",
                  "endTime": "2026-07-07T10:30:00-05:00"}}')}), 'duplicate',
	'a webhook applied by 0.1.0 is still known as applied');

# the JWT secret left pg_db_role_setting, where every role could read it, and still signs
is($node->safe_psql('updated', q{SELECT count(*) FROM pg_db_role_setting, unnest(setconfig) s WHERE s LIKE 'reflexo.jwt_secret=%'}),
	'0', 'the JWT secret is no longer among the database settings');
is($node->safe_psql('updated', q{
SET reflexo.password_iterations = 1000;
SELECT reflexo.jwt_verify(api.login('recepcion', 'una clave larga') ->> 'access') ->> 'sub'}), 'recepcion',
	'logins still sign tokens, with the secret 0.1.0 had');
is($node->safe_psql('updated', q{SELECT secret FROM reflexo.jwt_keys}), 'secret-of-0.1.0-that-is-longer-than-32-chars',
	'the secret itself moved to reflexo.jwt_keys');

# a 0.1.0 database holding what 0.2.0 refuses (an infinite cancelled cita,
# which stopped every push) is not updated until it is corrected
$node->safe_psql('postgres', 'CREATE DATABASE poisoned');
$node->safe_psql('poisoned', q{
CREATE EXTENSION reflexo VERSION '0.1.0';
SELECT reflexo.ensure_location('LocPoison');
INSERT INTO reflexo.calendars (location_id, ghl_calendar_id, name) SELECT id, 'CalPoison', 'Fisio' FROM reflexo.locations;
-- stored as 0.1.0's library stored it: today's guard refuses it already
SET session_replication_role = replica;
INSERT INTO reflexo.appointments (location_id, calendar_id, status, starts_at, ends_at)
SELECT location_id, id, 'cancelled', '-infinity', 'infinity' FROM reflexo.calendars;
});
($ret, $out, $err) = $node->psql('poisoned', 'ALTER EXTENSION reflexo UPDATE', extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/23514: appointments with times outside 2000-2099 cannot be kept: 1\b.*HINT:  Correct or delete those appointments/s,
	'an update over an infinite appointment is refused, naming it and saying what to do');
is($node->safe_psql('poisoned', q{SELECT extversion FROM pg_extension WHERE extname = 'reflexo'}), '0.1.0',
	'and changes nothing');
$node->safe_psql('poisoned', 'DELETE FROM reflexo.appointments');
($ret, $out, $err) = $node->psql('poisoned', 'ALTER EXTENSION reflexo UPDATE');
is($ret, 0, 'once it is deleted, the update succeeds') or diag($err);

# the daemons ship with the extension: one version for all of them
my ($sync_version) = `@{[ binary('reflexo-sync', 'REFLEXO_SYNC') ]} --version` =~ /(\S+)\s*$/;
is($sync_version, $current, 'reflexo-sync reports the version of reflexo.control');

$node->stop;
done_testing();

# Without shared_preload_libraries the module is loaded in a session only
# when it first calls one of its C functions, and its settings
# (reflexo.outbox_max_attempts, …) exist only from then on.  A daemon
# connection whose first call records a failed push must still work: the
# SQL reads the settings with their defaults until then.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('without_preload');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION reflexo;
INSERT INTO reflexo.locations (id, ghl_location_id, name, timezone, open_hours)
  VALUES (1, 'loc', 'Lima', 'America/Lima', '00:00-24:00');
INSERT INTO reflexo.calendars (id, location_id, ghl_calendar_id, name) VALUES (1, 1, 'cal', 'Fisioterapia');
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
  VALUES (1, 'a', '2036-03-10 09:00-05', '2036-03-10 10:00-05');
});
my $job = $node->safe_psql('postgres', q{SELECT outbox_id || ',' || attempt FROM reflexo.claim_outbox(1)});
my ($outbox_id, $attempt) = split /,/, $job;
ok($outbox_id, 'a change is claimed');

# each safe_psql is a new session, which has not loaded the module
is($node->safe_psql('postgres', q{SELECT current_setting('reflexo.outbox_max_attempts', true) IS NULL}),
	't', 'a new session has no reflexo settings yet');
is($node->safe_psql('postgres', "SELECT reflexo.fail_outbox($outbox_id, $attempt, 'retryable', 'GHL 503')"),
	'pending', 'a failed push is recorded from such a session, to be tried again');
is($node->safe_psql('postgres', q{SELECT reflexo.outbox_backoff(40) BETWEEN interval '45 minutes' AND interval '75 minutes'}),
	't', 'and the backoff is capped by the default hour');

$node->stop;
done_testing();

# A pgbench storm of concurrent bookings, moves and cancellations on a few
# calendars and therapists, at every isolation level.  Afterwards a plain SQL
# query proves that no calendar holds more simultaneous appointments than its
# capacity and no therapist is ever booked twice at once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients  = $ENV{REFLEXO_STORM_CLIENTS}  // 16;
my $attempts = $ENV{REFLEXO_STORM_ATTEMPTS} // 5000;
my $per_client = int(($attempts + $clients - 1) / $clients);

my $node = PostgreSQL::Test::Cluster->new('storm');
$node->init;
$node->append_conf('postgresql.conf', qq{
max_connections = 40
fsync = off
synchronous_commit = off
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION reflexo;
INSERT INTO reflexo.locations (id, ghl_location_id, name, timezone, open_hours)
  VALUES (1, 'storm', 'Storm clinic', 'America/Lima', '07:00-21:00');
INSERT INTO reflexo.calendars (id, location_id, name, capacity) VALUES
  (1, 1, 'Sala 1', 1), (2, 1, 'Sala 2', 1), (3, 1, 'Gimnasio', 2);

-- Each attempt reports its outcome; rule violations are expected answers,
-- serialization failures propagate so that pgbench retries them.
CREATE TABLE storm_outcome (outcome text PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
INSERT INTO storm_outcome (outcome) VALUES ('booked'), ('moved'), ('cancelled'), ('refused');

CREATE FUNCTION storm_count(what text) RETURNS void LANGUAGE sql
  AS $$ UPDATE storm_outcome SET n = n + 1 WHERE outcome = what $$;

CREATE FUNCTION storm_book(calendar int, therapist int, slot int, quarters int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  starts timestamptz := ('2026-03-09 08:00'::timestamp + (slot / 24) * interval '1 day'
                         + (slot % 24) * interval '30 min') AT TIME ZONE 'America/Lima';
BEGIN
  BEGIN
    INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, title, starts_at, ends_at)
    VALUES (calendar, 'therapist-' || therapist, 'storm', starts, starts + quarters * interval '15 min');
    -- the application's other work before commit: keeps the race window open
    PERFORM pg_sleep(random() * 0.002);
  EXCEPTION WHEN exclusion_violation OR check_violation THEN
    PERFORM storm_count('refused');
    RETURN;
  END;
  PERFORM storm_count('booked');
END $$;

CREATE FUNCTION storm_move(pick int, shift int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    UPDATE reflexo.appointments
       SET starts_at = starts_at + shift * interval '15 min', ends_at = ends_at + shift * interval '15 min'
     WHERE id = (SELECT id FROM reflexo.appointments WHERE status = 'scheduled'
                 ORDER BY id OFFSET pick % GREATEST(1, (SELECT count(*) FROM reflexo.appointments)::int) LIMIT 1);
  EXCEPTION WHEN exclusion_violation OR check_violation THEN
    PERFORM storm_count('refused');
    RETURN;
  END;
  PERFORM storm_count('moved');
END $$;

CREATE FUNCTION storm_cancel(pick int) RETURNS void
LANGUAGE sql AS $$
  UPDATE reflexo.appointments SET status = 'cancelled'
   WHERE id = (SELECT id FROM reflexo.appointments WHERE status = 'scheduled'
               ORDER BY id OFFSET pick % GREATEST(1, (SELECT count(*) FROM reflexo.appointments)::int) LIMIT 1);
  SELECT storm_count('cancelled');
$$;
});

my $dir = PostgreSQL::Test::Utils::tempdir;
my %script = (
	book => q{
\set calendar random(1, 3)
\set therapist random(1, 4)
\set slot random(0, 143)
\set quarters random(1, 6)
SELECT storm_book(:calendar, :therapist, :slot, :quarters);
},
	move => q{
\set pick random(0, 1000)
\set shift random(-4, 4)
SELECT storm_move(:pick, :shift);
},
	cancel => q{
\set pick random(0, 1000)
SELECT storm_cancel(:pick);
});
for my $name (keys %script)
{
	PostgreSQL::Test::Utils::append_to_file("$dir/$name.sql", $script{$name});
}

# No instant where a calendar is over capacity: the busiest instant of any
# set of intervals is the start of one of them.
my $over_capacity = q{
SELECT count(*) FROM reflexo.appointments a
JOIN reflexo.calendars c ON c.id = a.calendar_id
WHERE a.status NOT IN ('cancelled', 'invalid')
  AND (SELECT count(*) FROM reflexo.appointments b
        WHERE b.calendar_id = a.calendar_id AND b.status NOT IN ('cancelled', 'invalid')
          AND b.starts_at <= a.starts_at AND b.ends_at > a.starts_at) > c.capacity};
my $therapist_twice = q{
SELECT count(*) FROM reflexo.appointments a
JOIN reflexo.appointments b
  ON a.id < b.id AND a.location_id = b.location_id AND a.assigned_user_id = b.assigned_user_id
 AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
WHERE a.status NOT IN ('cancelled', 'invalid') AND b.status NOT IN ('cancelled', 'invalid')};

for my $level ('read committed', 'repeatable read', 'serializable')
{
	$node->safe_psql('postgres',
		"TRUNCATE reflexo.appointments; UPDATE storm_outcome SET n = 0;");

	(my $escaped = $level) =~ s/ /\\ /g;    # PGOPTIONS escapes blanks
	local $ENV{PGOPTIONS} = "-c default_transaction_isolation=$escaped";
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[
			'pgbench', '--no-vacuum', '--client' => $clients, '--jobs' => 2,
			'--transactions' => $per_client, '--max-tries' => 1000,
			'--file' => "$dir/book.sql\@8", '--file' => "$dir/move.sql\@1",
			'--file' => "$dir/cancel.sql\@1",
			'--host' => $node->host, '--port' => $node->port, 'postgres'
		],
		'>' => \$stdout,
		'2>' => \$stderr);
	ok($ok, "pgbench storm at $level completes") or diag($stderr);
	my ($processed) = $stdout =~ /number of transactions actually processed: (\d+)/;
	my ($failed) = $stdout =~ /number of failed transactions: (\d+)/;
	is($processed, $clients * $per_client, "every attempt at $level ran");
	is($failed // 0, 0, "no attempt at $level failed for good");

	my %n = map { split /\|/ } split /\n/,
	  $node->safe_psql('postgres', 'SELECT outcome, n FROM storm_outcome');
	note("$level: " . join(', ', map { "$_=$n{$_}" } sort keys %n)
		  . (($stdout =~ /(number of transactions retried: .*)/) ? "; $1" : ''));
	cmp_ok($n{booked}, '>', 100, "many bookings succeeded at $level");
	cmp_ok($n{refused}, '>', 100, "many bookings were refused at $level: the storm collided");

	is($node->safe_psql('postgres', $over_capacity), '0',
		"no calendar is over capacity after the storm at $level");
	is($node->safe_psql('postgres', $therapist_twice), '0',
		"no therapist is booked twice at once after the storm at $level");
}

$node->stop;
done_testing();

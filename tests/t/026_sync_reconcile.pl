# Reconciliation repairs what webhooks and pushes missed: a GHL change whose
# webhook was lost is applied, a local appointment GHL lost is pushed again,
# duplicates in GHL are reported, and a failed fetch concludes nothing.  At
# most 8 listings are held at once, and a comparison waiting on the database
# does not hold the pushes back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $sim = start_sim(options => ['--no-api-webhooks']);
my $node = new_node('reconcile');
load_sim_calendars($node, $sim);
my $tokens = $sim->token();
my $daemon = start_daemon(node => $node, sim => $sim,
	env => { GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token},
		REFLEXO_RECONCILE_SECONDS => 0 });
$sim->control('POST', 'webhooks', { url => $daemon->url . '/webhooks/ghl' });

sub metric
{
	my ($kind) = @_;
	my ($n) = http_request('GET', $daemon->url . '/metrics')->{content} =~ /reflexo_reconcile_total\{kind="$kind"\} (\d+)/;
	return $n // -1;
}

sub reconcile
{
	# two calendars: wait until both were compared (or failed to list)
	my $done = metric('compared') + metric('failed_fetches');
	$node->safe_psql('postgres', 'NOTIFY reflexo_reconcile');
	wait_until(sub { metric('compared') + metric('failed_fetches') >= $done + 2 }, 20)
	  or diag('reconciliation did not finish');
	return;
}

# local bookings in the reconciliation window (from a day back to 60 days ahead)
book($node, 4, monday => '2026-12-07');
is(wait_for_value($node, q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'}, '4'), '4',
	'four local bookings are in GHL');

# 1. GHL changes whose webhooks never came
my $missed = $sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalFisio000000001', contactId => 'c-missed',
	title => 'Perdida', startTime => '2026-12-09T15:00:00-05:00', endTime => '2026-12-09T16:00:00-05:00',
	silent => JSON::PP::true })->{json};
my $moved = $node->safe_psql('postgres', q{SELECT ghl_appointment_id FROM reflexo.appointments ORDER BY id LIMIT 1});
$sim->control('PUT', "ghl/appointments/$moved", { title => 'Renombrada en GHL', silent => JSON::PP::true });
# 2. an appointment GHL lost (removed there without a webhook)
my $lost = $node->safe_psql('postgres', q{SELECT ghl_appointment_id FROM reflexo.appointments ORDER BY id DESC LIMIT 1});
$sim->control('DELETE', "ghl/appointments/$lost?silent=true");
# 3. the same booking twice in GHL
for (1 .. 2)
{
	$sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalEvaluacion0001', contactId => 'c-twice',
		startTime => '2026-12-10T17:00:00-05:00', endTime => '2026-12-10T17:30:00-05:00', silent => JSON::PP::true });
}

# the pushes were recorded a while ago (one recorded after a listing was
# asked for is never taken for missing: pgTAP 27)
$node->safe_psql('postgres', q{UPDATE reflexo.outbox SET completed_at = completed_at - interval '10 minutes'});

# a failed fetch concludes nothing
$sim->control('POST', 'faults', { error_rate => 1, error_status => 503, path => '/calendars/events' });
reconcile();
ok(metric('failed_fetches') >= 2, 'a failed listing is counted');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || count(*) FILTER (WHERE ghl_appointment_id IS NOT NULL) FROM reflexo.appointments}),
	'4 4', 'and changes nothing: no appointment is taken for deleted');
is(metric('pushed_again'), 0, 'nothing is pushed again on a failed listing');
$sim->control('POST', 'faults', { error_rate => 0, path => undef });

reconcile();
is($node->safe_psql('postgres', "SELECT title || ' ' || origin FROM reflexo.appointments WHERE ghl_appointment_id = '$missed->{id}'"),
	'Perdida ghl', 'a GHL booking whose webhook was lost is applied');
is($node->safe_psql('postgres', "SELECT title FROM reflexo.appointments WHERE ghl_appointment_id = '$moved'"),
	'Renombrada en GHL', 'a GHL change whose webhook was lost is applied');
ok(wait_until(sub { $node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'
  AND ghl_appointment_id IS NOT NULL AND contact_id LIKE 'contact-%'}) eq '4'
	  && $sim->control('GET', 'state')->{json}{appointment_count} == 7 }, 20), 'the appointment GHL lost is pushed again');
isnt($node->safe_psql('postgres', q{SELECT ghl_appointment_id FROM reflexo.appointments ORDER BY id DESC LIMIT 1}), $lost,
	'under a new GHL id');
is(metric('applied'), 4, 'reconcile_total{kind="applied"}: the lost booking, the lost change, the two bookings made twice');
is(metric('pushed_again'), 1, 'reconcile_total{kind="pushed_again"}');
ok(metric('duplicates') >= 1, 'reconcile_total{kind="duplicates"}');
like(slurp_file($daemon->log_file), qr/"alert":"ghl_duplicates".*"contactId":"c-twice"/, 'the duplicate is reported');
is($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.appointments WHERE contact_id = 'c-twice'}), '2',
	'and never removed on a guess');

# in step: a second pass repairs nothing
my @counts = map { metric($_) } qw(applied pushed_again);
reconcile();
is_deeply([ map { metric($_) } qw(applied pushed_again) ], \@counts, 'a second pass finds nothing to repair');
is($sim->control('GET', 'state')->{json}{appointment_count}, 7, 'and GHL holds nothing twice that we made');

# many calendars: at most 8 listings at once (each is held in memory until compared)
for my $i (1 .. 10)
{
	$sim->control('POST', 'calendars', { locationId => 'SimLocation000000001', id => sprintf('SimCalExtra%09d', $i),
		name => "Extra $i", isActive => JSON::PP::true });
}
load_sim_calendars($node, $sim);
$sim->control('POST', 'faults', { latency_ms => 300, path => '/calendars/events' });
my $before = metric('compared');
$node->safe_psql('postgres', 'NOTIFY reflexo_reconcile');
ok(wait_until(sub { metric('compared') >= $before + 12 }, 30), 'twelve calendars are compared');
my $most = $sim->control('GET', 'state')->{json}{listings}{most_at_once};
ok($most > 2 && $most <= 8, "listed at most 8 at once ($most)");
$sim->control('POST', 'faults', { latency_ms => 0, path => undef });

# a comparison that waits on the database (here a lock) does not hold the pushes back
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE reflexo.webhook_inbox IN EXCLUSIVE MODE;');
$sim->control('PUT', "ghl/appointments/$moved", { title => 'Otra vez en GHL', silent => JSON::PP::true });
my $compared = metric('compared');
$node->safe_psql('postgres', 'NOTIFY reflexo_reconcile');
ok(wait_until(sub { $node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE wait_event_type = 'Lock' AND query LIKE '%reconcile_ghl_events%'}) == 1 }),
	'a comparison waits for a lock');
book($node, 1, monday => '2026-12-14');
is(wait_for_value($node, q{SELECT sync_state FROM reflexo.appointments WHERE starts_at >= '2026-12-14'}, 'synced', 15),
	'synced', 'meanwhile a new booking is pushed');
$locker->query_safe('COMMIT;');
$locker->quit;
ok(wait_until(sub { metric('compared') >= $compared + 2 }, 20), 'the comparisons finish once the lock is gone');
is($node->safe_psql('postgres', "SELECT title FROM reflexo.appointments WHERE ghl_appointment_id = '$moved'"),
	'Otra vez en GHL', 'and apply what they found');

is($daemon->stop('TERM'), 0, 'the daemon stops cleanly');
ok(sanitizer_clean($daemon->log_file), 'no sanitizer report');
$sim->stop;
done_testing();

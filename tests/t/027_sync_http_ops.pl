# What operators see: /healthz, /readyz (and why it is not ready), /metrics
# in strict Prometheus text format, /metrics.json in the Django service's shape, the
# status page and its data, and JSON errors for everything else.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $sim = start_sim();
my $node = new_node('ops');
load_sim_calendars($node, $sim);
my $tokens = $sim->token();
my $daemon = start_daemon(node => $node, sim => $sim,
	env => { GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token} });
my $url = $daemon->url;
ok(wait_until(sub { http_request('GET', "$url/healthz")->{status} == 200 }), '/healthz is 200');
is(http_request('GET', "$url/healthz")->{json}{status}, 'ok', 'and says ok');
book($node, 5);
is(wait_for_value($node, q{SELECT count(*) FROM reflexo.appointments WHERE sync_state = 'synced'}, '5'), '5', 'five pushes');
ok(wait_until(sub { http_request('GET', "$url/readyz")->{status} == 200 }), '/readyz is 200 when all is well');
is(http_request('GET', "$url/readyz")->{json}{ready}, JSON::PP::true, 'ready: true');

# /metrics: every line is a comment of the format or a valid sample, every
# sample's family is declared once with HELP and TYPE, counters end in _total
my $r = http_request('GET', "$url/metrics");
is($r->{status}, 200, '/metrics is 200');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'in Prometheus text format 0.0.4');
my (%type, %help, @bad, %samples);
for my $line (split /\n/, $r->{content})
{
	if ($line =~ /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$/) { push @bad, "HELP twice: $line" if $help{$1}++; next }
	if ($line =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/)
	{
		push @bad, "TYPE twice: $line" if $type{$1};
		$type{$1} = $2;
		next;
	}
	if ($line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/)
	{
		my ($name, $labels) = ($1, $2 // '');
		(my $family = $name) =~ s/_(bucket|sum|count)$// if !$type{$name};
		$family //= $name;
		push @bad, "sample before its TYPE: $line" unless $type{$family} || $type{$name};
		push @bad, "duplicate sample: $line" if $samples{"$name$labels"}++;
		next;
	}
	push @bad, "not Prometheus text: $line";
}
is_deeply(\@bad, [], 'the output parses strictly');
my @counters = grep { $type{$_} eq 'counter' } keys %type;
is_deeply([ grep { !/_total$/ } @counters ], [], 'every counter ends in _total');
ok($type{reflexo_ghl_push_duration_seconds} eq 'histogram', 'push latency is a histogram');
like($r->{content}, qr/reflexo_ghl_pushes_total\{operation="create",result="success"\} 5/, 'the pushes are counted');
like($r->{content}, qr/reflexo_sync_build_info\{version="[0-9.]+"\} 1/, 'build info');
like($r->{content}, qr/reflexo_outbox_pending 0\n/, 'queue gauges from the database');
unlike($r->{content}, qr/SimLocation|contact-|SimCal/, 'no high-cardinality labels (ids)');

# /metrics.json: the Django service's document
my $m = http_request('GET', "$url/metrics.json")->{json};
is($m->{ghl_operations}{create_appointment}{success_count}, 5, '/metrics.json counts the creates');
ok(exists $m->{system_health}{overall_health}, 'with the Django service\'s system_health');
is_deeply(http_request('GET', "$url/api/ghl/metrics/")->{json}, $m, 'the Django service\'s path answers the same');

# the status page and its data
$r = http_request('GET', "$url/");
is($r->{status}, 200, 'the status page is served');
like($r->{content}, qr/<html.*fetch\("\/status.json"/s, 'a page that reads /status.json');
unlike($r->{content}, qr/(src|href)="https?:/, 'with no external assets');
my $s = http_request('GET', "$url/status.json")->{json};
is(scalar @{ $s->{series} }, 60, '/status.json has a per-minute series for the last hour');
is((grep { $_->{pushed} > 0 } @{ $s->{series} }) ? 1 : 0, 1, 'showing the pushes');
is($s->{health}{outbox}{dead}, 0, 'and the outbox health');

# not ready: a stuck outbox (GHL down for long) and a lost database
$sim->control('POST', 'faults', { outage_seconds => 600 });
$node->safe_psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, contact_id, starts_at, ends_at)
SELECT id, 'c-stuck', '2026-06-20 09:00-05', '2026-06-20 10:00-05' FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalFisio000000001'});
$node->safe_psql('postgres', q{UPDATE reflexo.outbox SET created_at = now() - interval '10 minutes' WHERE state <> 'done'});
ok(wait_until(sub { http_request('GET', "$url/readyz")->{status} == 503 }), '/readyz is 503 when a change waits too long');
like(join(' ', @{ http_request('GET', "$url/readyz")->{json}{problems} }), qr/oldest waiting change/, 'and says why');
my $s2 = http_request('GET', "$url/status.json")->{json};
ok(scalar @{ $s2->{recent_failures} } >= 1, 'the failure shows on the status page');
unlike(encode_json($s2), qr/c-stuck|Primera/, 'without the appointment\'s content');
$sim->control('POST', 'faults', { outage_seconds => 0 });
$node->stop('fast');
$r = http_request('GET', "$url/readyz");
is($r->{status}, 503, '/readyz is 503 without the database');
like(join(' ', @{ $r->{json}{problems} }), qr/database does not answer/, 'saying so');
is(http_request('GET', "$url/healthz")->{status}, 200, '/healthz stays 200: the process is fine');
is(http_request('GET', "$url/metrics")->{status}, 200, '/metrics still answers');
like(http_request('GET', "$url/metrics")->{content}, qr/reflexo_database_up 0/, 'with reflexo_database_up 0');
is(http_request('GET', "$url/metrics.json")->{status}, 503, '/metrics.json is 503 with a JSON error');
$node->start;
ok(wait_until(sub { http_request('GET', "$url/metrics.json")->{status} == 200 }, 30), 'and recovers with the database');

# REFLEXO_OPS_TOKEN: what names locations, tokens and GHL's errors is the
# operator's; webhooks, /healthz and /readyz's status stay open
my $guarded = start_daemon(node => $node, sim => $sim, env => { REFLEXO_OPS_TOKEN => 'ops-token-0123456789' });
my $gurl = $guarded->url;
ok(wait_until(sub { http_request('GET', "$gurl/healthz")->{status} == 200 }), 'with an operations token, /healthz stays open');
for my $path ('/metrics', '/metrics.json', '/status.json', '/')
{
	my $r = http_request('GET', "$gurl$path");
	is($r->{status} . ' ' . ($r->{headers}{'www-authenticate'} // ''), '401 Bearer', "$path needs the token");
}
is(http_request('GET', "$gurl/metrics", headers => { Authorization => 'Bearer wrong-token-0123456789' })->{status}, 401,
	'a wrong one is refused');
is(http_request('GET', "$gurl/metrics", headers => { Authorization => 'Bearer ops-token-0123456789' })->{status}, 200,
	'the right one opens /metrics (as Prometheus sends it)');
is(http_request('GET', "$gurl/?token=ops-token-0123456789")->{status}, 200, 'and the status page, in a browser');
my $ready = http_request('GET', "$gurl/readyz")->{json};
ok(exists $ready->{ready} && !exists $ready->{problems}, '/readyz without it says only whether it is ready');
ok(exists http_request('GET', "$gurl/readyz", headers => { Authorization => 'Bearer ops-token-0123456789' })->{json}{problems},
	'and why, with it');
unlike(slurp_file($guarded->log_file), qr/ops-token-0123456789/, 'the token is never logged');
is($guarded->stop('TERM'), 0, 'that daemon stops cleanly');

is(http_request('DELETE', "$url/healthz")->{status}, 405, 'a wrong method is 405');
is(http_request('GET', "$url/nothing")->{json}{error}, 'no such endpoint', 'an unknown path is a JSON 404');
is($daemon->stop('TERM'), 0, 'the daemon stops cleanly');
ok(sanitizer_clean($daemon->log_file), 'no sanitizer report');
$sim->stop;
done_testing();

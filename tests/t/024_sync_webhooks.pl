# GHL's webhooks reach the database through reflexo-sync exactly once:
# ghl-sim delivers signed webhooks for changes made as a GHL user (create,
# move, delete, duplicated, reordered); forged, unsigned, stale, malformed,
# oversized and misdirected requests are refused and write nothing; slow
# clients cannot hold the server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;
use Time::HiRes qw(time);

my $sim = start_sim();
my $node = new_node('webhooks');
load_sim_calendars($node, $sim);
my $tokens = $sim->token();
my $daemon = start_daemon(node => $node, sim => $sim,
	env => { GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token},
		GHL_WEBHOOK_SECRET => 'workflow-secret-123' });
my $hook_url = $daemon->url . '/webhooks/ghl';
ok(wait_until(sub { http_request('GET', $daemon->url . '/healthz')->{status} == 200 }), 'the daemon serves HTTP');
$sim->control('POST', 'webhooks', { url => $hook_url, retry_interval_ms => 300 });

sub local_row
{
	my ($ghl_id) = @_;
	return $node->safe_psql('postgres', qq{SELECT status || ' ' || to_char(starts_at AT TIME ZONE 'America/Lima', 'YYYY-MM-DD HH24:MI')
  || ' ' || title || ' ' || origin FROM reflexo.appointments WHERE ghl_appointment_id = '$ghl_id'});
}
my $count_all = q{SELECT (SELECT count(*) FROM reflexo.appointments) || ' ' || (SELECT count(*) FROM reflexo.webhook_inbox)
  || ' ' || (SELECT count(*) FROM reflexo.outbox)};

# 1. create, move, delete as a GHL user
my $created = $sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalFisio000000001', contactId => 'c-ghl',
	title => 'Desde GHL', startTime => '2026-03-10T10:00:00-05:00', endTime => '2026-03-10T11:00:00-05:00' })->{json};
ok(wait_until(sub { local_row($created->{id}) ne '' }), 'a GHL create arrives');
is(local_row($created->{id}), 'confirmed 2026-03-10 10:00 Desde GHL ghl', 'as the appointment GHL holds (auto-confirmed), marked from GHL');
$sim->control('PUT', "ghl/appointments/$created->{id}", { startTime => '2026-03-10T12:00:00-05:00',
	endTime => '2026-03-10T13:00:00-05:00', title => 'Movida' });
ok(wait_until(sub { local_row($created->{id}) =~ /12:00 Movida/ }), 'a GHL move arrives');
$sim->control('DELETE', "ghl/appointments/$created->{id}");
ok(wait_until(sub { local_row($created->{id}) =~ /^cancelled/ }), 'a GHL delete cancels it here');
is($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.outbox}), '0', 'and nothing is echoed back to GHL');

# 2. every webhook delivered twice
$sim->control('POST', 'webhooks', { duplicate_rate => 1 });
my $twice = $sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalFisio000000001', contactId => 'c-2',
	startTime => '2026-03-11T09:00:00-05:00', endTime => '2026-03-11T10:00:00-05:00' })->{json};
ok(wait_until(sub { $sim->control('GET', 'state')->{json}{webhooks}{sent} >= 5 }), 'a duplicated delivery arrives');
is($node->safe_psql('postgres', "SELECT count(*) FROM reflexo.appointments WHERE ghl_appointment_id = '$twice->{id}'"), '1',
	'applied once');
like(slurp_file($daemon->log_file), qr/"result":"duplicate"/, 'the second is answered as a duplicate');
$sim->control('POST', 'webhooks', { duplicate_rate => 0 });

# 3. create and two moves, delivered in reverse order: the newest wins
$sim->control('POST', 'webhooks', { hold => JSON::PP::true });
my $late = $sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalEvaluacion0001', contactId => 'c-3',
	startTime => '2026-03-12T09:00:00-05:00', endTime => '2026-03-12T09:30:00-05:00', title => 'v1' })->{json};
$sim->control('PUT', "ghl/appointments/$late->{id}", { title => 'v2' });
$sim->control('PUT', "ghl/appointments/$late->{id}", { title => 'v3', startTime => '2026-03-12T10:00:00-05:00',
	endTime => '2026-03-12T10:30:00-05:00' });
$sim->control('POST', 'webhooks', { hold => JSON::PP::false });
$sim->control('POST', 'webhooks/release', { order => 'reverse' });
ok(wait_until(sub { my $w = $sim->control('GET', 'state')->{json}{webhooks}; $w->{queued} + $w->{held} == 0 }),
	'reordered webhooks delivered');
ok(wait_until(sub { local_row($late->{id}) ne '' }), 'the reordered appointment is here');
is(local_row($late->{id}), 'confirmed 2026-03-12 10:00 v3 ghl', 'the newest change wins whatever the order');

# 4. forged, unsigned, stale, malformed, oversized, misdirected: refused, nothing written
my $before = $node->safe_psql('postgres', $count_all);
my $now = sub { my @t = gmtime(time() + ($_[0] // 0)); sprintf('%04d-%02d-%02dT%02d:%02d:%02dZ', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0]) };
sub body_for
{
	my (%o) = @_;
	return encode_json({ type => 'AppointmentCreate', locationId => 'SimLocation000000001',
		webhookId => $o{webhook_id} // 'forged-' . int(rand(1e9)), timestamp => $o{timestamp} // $now->(),
		appointment => { id => $o{id} // 'ForgedAppointment0001', calendarId => 'SimCalFisio000000001',
			contactId => 'c-x', title => 'Forjada', appointmentStatus => 'confirmed',
			startTime => $o{start} // '2026-03-13T09:00:00-05:00', endTime => $o{end} // '2026-03-13T10:00:00-05:00' } });
}
my $ed_key = "$sim->{keys}/ghl-sim-ed25519.key.pem";
my $rsa_key = "$sim->{keys}/ghl-sim-rsa.key.pem";
my $other_dir = PostgreSQL::Test::Utils::tempdir();
run_command(['openssl', 'genpkey', '-algorithm', 'ed25519', '-out', "$other_dir/other.pem"]);
sub post
{
	my ($body, %headers) = @_;
	return http_request('POST', $hook_url, content => $body, headers => { 'Content-Type' => 'application/json', %headers });
}
my $body = body_for();
my %refused = (
	'no signature' => [ 401, post($body) ],
	'"N/A" as the signature' => [ 401, post($body, 'x-ghl-signature' => 'N/A') ],
	'a signature by another key' => [ 401, post($body, 'x-ghl-signature' => sign_body("$other_dir/other.pem", 'ed25519', $body)) ],
	'a signature of another body' => [ 401, post($body, 'x-ghl-signature' => sign_body($ed_key, 'ed25519', body_for())) ],
	'garbage as the signature' => [ 401, post($body, 'x-ghl-signature' => '!!!not-base64') ],
	'a bad RSA signature' => [ 401, post($body, 'x-wh-signature' => sign_body($rsa_key, 'rsa', "$body ")) ],
	'a bad Ed25519 signature beside a good RSA one (no fallback)' =>
	  [ 401, post($body, 'x-ghl-signature' => 'AAAA', 'x-wh-signature' => sign_body($rsa_key, 'rsa', $body)) ],
	'a wrong workflow secret' => [ 401, post($body, 'x-webhook-secret' => 'workflow-secret-12') ],
	'a timestamp three hours old' => [ 401, do { my $b = body_for(timestamp => $now->(-3 * 3600));
		post($b, 'x-ghl-signature' => sign_body($ed_key, 'ed25519', $b)) } ],
	'signed non-JSON' => [ 400, post('{"type":', 'x-ghl-signature' => sign_body($ed_key, 'ed25519', '{"type":')) ],
	'signed JSON without webhookId' => [ 400, do { my $b = '{"type":"AppointmentCreate","locationId":"SimLocation000000001"}';
		post($b, 'x-ghl-signature' => sign_body($ed_key, 'ed25519', $b)) } ],
	'signed, with times after 2099' => [ 400, do { my $b = body_for(start => '3026-03-13T09:00:00-05:00',
		end => '3026-03-13T10:00:00-05:00'); post($b, 'x-ghl-signature' => sign_body($ed_key, 'ed25519', $b)) } ],
	'signed, with a day that does not exist' => [ 400, do { my $b = body_for(start => '2026-02-30T09:00:00-05:00');
		post($b, 'x-ghl-signature' => sign_body($ed_key, 'ed25519', $b)) } ],
	'GET on the webhook path' => [ 405, http_request('GET', $hook_url) ],
	'an unknown path' => [ 404, http_request('POST', $daemon->url . '/webhooks/other', content => $body) ],
);
for my $what (sort keys %refused)
{
	my ($status, $r) = @{ $refused{$what} };
	is($r->{status}, $status, "$what: $status");
	ok(ref $r->{json} eq 'HASH' && $r->{json}{error}, "$what: with a JSON error") or diag($r->{content});
}
# oversized: refused before the body is read (curl waits for 100-continue, as
# clients sending large bodies do), or while it streams in without a length
my $big = PostgreSQL::Test::Utils::tempdir() . '/big.json';
PostgreSQL::Test::Utils::append_to_file($big, '{"pad":"' . ('x' x (2 * 1024 * 1024)) . '"}');
for my $how ([ 'with a length', [] ], [ 'chunked', [ '-H', 'Transfer-Encoding: chunked' ] ])
{
	my ($out) = run_command([ 'curl', '-s', '-w', '\n%{http_code}', '-H', 'Content-Type: application/json',
		@{ $how->[1] }, '--data-binary', "\@$big", $hook_url ]);
	like($out, qr/"error":"the body is larger than 1048576 bytes".*\n413$/s, "a body of 2 MB $how->[0]: 413, with a JSON error");
}
is($node->safe_psql('postgres', $count_all), $before, 'nothing was written for any of them');
unlike(slurp_file($daemon->log_file), qr/workflow-secret|x-ghl-signature":"[A-Za-z0-9+\/]{20}/,
	'no secret or signature reaches the logs');

# 5. the right signatures are accepted, each way; a replay is a duplicate
my $good = body_for(webhook_id => 'by-ed25519', id => 'SignedByEd25519Test01');
my $r = post($good, 'x-ghl-signature' => sign_body($ed_key, 'ed25519', $good));
is_deeply([ $r->{status}, $r->{json}{result} ], [ 200, 'applied' ], 'an Ed25519-signed webhook is applied');
$r = post($good, 'x-ghl-signature' => sign_body($ed_key, 'ed25519', $good));
is_deeply([ $r->{status}, $r->{json}{result} ], [ 200, 'duplicate' ], 'its replay is a duplicate');
my $legacy = body_for(webhook_id => 'by-rsa', id => 'SignedByRsaTest000001');
$legacy =~ s/2026-03-13T09:00:00/2026-03-13T11:00:00/;
$legacy =~ s/2026-03-13T10:00:00/2026-03-13T12:00:00/;
$r = post($legacy, 'x-wh-signature' => sign_body($rsa_key, 'rsa', $legacy));
is_deeply([ $r->{status}, $r->{json}{result} ], [ 200, 'applied' ], 'an RSA-signed (legacy) webhook is applied');
my $workflow = encode_json({ type => 'AppointmentCreate', locationId => 'SimLocation000000001', webhookId => 'workflow-1',
	data => { id => 'FromWorkflow000000001', calendarId => 'SimCalFisio000000001', contactId => 'c-w',
		startTime => '2026-03-13T14:00:00.000Z', endTime => '2026-03-13T15:00:00.000Z', appointmentStatus => 'scheduled' } });
$r = http_request('POST', $daemon->url . '/api/webhooks/ghl/', content => $workflow,
	headers => { 'Content-Type' => 'application/json', 'x-webhook-secret' => 'workflow-secret-123' });
is_deeply([ $r->{status}, $r->{json}{result} ], [ 200, 'applied' ],
	'a workflow webhook in the Django service\'s shape, on the Django service\'s path, with the shared secret, is applied');

# 6. slow clients: 200 connections from four addresses (50 each, under the
# per-address bound) trickle a header line every second, which resets any
# idle timeout; a signed webhook from another address is still answered
# promptly, and the request deadline (15 s) cuts the slow ones off
my @slow;
for my $address (map { "127.0.0.$_" } 2 .. 5)
{
	push @slow, grep { $_ } map {
		IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $daemon->{port}, LocalAddr => $address, Timeout => 5)
	} 1 .. 50;
}
is(scalar(@slow), 200, '200 slow connections are open');
print $_ "POST /webhooks/ghl HTTP/1.1\r\nHost: x\r\n" for @slow;
my $t0 = time();
my $prompt = body_for(webhook_id => 'while-slow', id => 'SignedWhileSlow000001', start => '2026-03-13T16:00:00-05:00',
	end => '2026-03-13T17:00:00-05:00');
$r = post($prompt, 'x-ghl-signature' => sign_body($ed_key, 'ed25519', $prompt));
is_deeply([ $r->{status}, $r->{json}{result} ], [ 200, 'applied' ], 'a signed webhook is applied meanwhile');
ok(time() - $t0 < 3, 'promptly');
is(http_request('GET', $daemon->url . '/healthz', timeout => 5)->{status}, 200, 'and /healthz answers');
my $open = scalar(@slow);
while ($open && time() - $t0 < 25)
{
	$open = 0;
	for my $c (@slow)
	{
		next unless $c;
		if (!defined(syswrite($c, "X-Slow: 1\r\n")))
		{
			undef $c;
			next;
		}
		my $rin = '';
		vec($rin, fileno($c), 1) = 1;
		if (select(my $rout = $rin, undef, undef, 0) && !sysread($c, my $buf, 512))
		{
			undef $c;
			next;
		}
		$open++;
	}
	sleep 1;
}
is($open, 0, 'and the request deadline cuts every trickling connection off');
ok(time() - $t0 < 22, 'in time');

# 7. bookkeeping
my $metrics = http_request('GET', $daemon->url . '/metrics')->{content};
like($metrics, qr/reflexo_webhooks_total\{result="rejected"\} (\d+)/, 'rejections are counted in /metrics');
my ($rejected) = $metrics =~ /reflexo_webhooks_total\{result="rejected"\} (\d+)/;
ok($rejected >= 11, "all of them ($rejected)");
my $hooks = decode_json($node->safe_psql('postgres', 'SELECT reflexo.metrics_webhooks()'));
cmp_ok($hooks->{other}{failed_count} // 0, '>=', 6,
	'and in metrics_webhooks, the Django service\'s document, as failures');
like(slurp_file($daemon->log_file), qr/"tag":"WEBHOOK_EVENT","operation":"webhook_AppointmentCreate","success":true/,
	'webhooks are logged with the Django service\'s WEBHOOK_EVENT tag');
is($daemon->stop('TERM'), 0, 'the daemon stops cleanly');
ok(sanitizer_clean($daemon->log_file), 'no sanitizer report');
$sim->stop;
done_testing();

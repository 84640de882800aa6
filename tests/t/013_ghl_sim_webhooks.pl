# ghl-sim's webhooks: changes made as a GHL user (or through the API) are
# delivered in GHL's shape, signed with Ed25519 and RSA (checked with the
# openssl command line), and can be duplicated, held, reordered and retried.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $sim = start_sim();
$sim->control('POST', 'webhooks', { url => $sim->url . '/_sim/inbox', retry_interval_ms => 200 });
my $dir = PostgreSQL::Test::Utils::tempdir();

sub inbox { $sim->control('GET', 'inbox')->{json}{received} }

sub received
{
	my ($n) = @_;
	wait_until(sub { @{ inbox() } >= $n }, 10) or diag('inbox: ' . encode_json(inbox()));
	return inbox();
}

sub verify
{
	my ($delivery, $header, $body) = @_;
	$body //= $delivery->{body};
	open(my $fh, '>', "$dir/body") or die;
	print $fh $body;
	close $fh;
	open($fh, '>', "$dir/sig") or die;
	print $fh MIME::Base64::decode_base64($delivery->{$header});
	close $fh;
	my $keys = $sim->control('GET', 'keys')->{json};
	my @command = $header eq 'x-ghl-signature'
	  ? ('openssl', 'pkeyutl', '-verify', '-pubin', '-inkey', $keys->{ed25519}, '-rawin', '-in', "$dir/body",
		'-sigfile', "$dir/sig")
	  : ('openssl', 'dgst', '-sha256', '-verify', $keys->{rsa}, '-signature', "$dir/sig", "$dir/body");
	my ($out, $err) = run_command(\@command);
	return "$out$err" =~ /Verified OK|Signature Verified Successfully/ ? 1 : 0;
}
use MIME::Base64 ();

my $created = $sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalFisio000000001',
	contactId => 'contact-9', title => 'Reservada en GHL', startTime => '2026-03-12T09:00:00-05:00',
	endTime => '2026-03-12T10:00:00-05:00' })->{json};
ok($created->{id}, 'a GHL user books an appointment');
my $hook = received(1)->[0];
my $body = decode_json($hook->{body});
is($body->{type}, 'AppointmentCreate', 'the webhook is an AppointmentCreate');
is($body->{locationId}, 'SimLocation000000001', 'for the location');
like($body->{webhookId}, qr/^[0-9a-f-]{36}$/, 'with a webhookId');
like($body->{timestamp}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'and a timestamp');
is_deeply([sort keys %{ $body->{appointment} }],
	[sort qw(id address title calendarId contactId groupId appointmentStatus assignedUserId users notes source
	  startTime endTime dateAdded dateUpdated)], 'the appointment has GHL\'s webhook fields');
is($body->{appointment}{id}, $created->{id}, 'of the booked appointment');
is($body->{appointment}{source}, 'booking_widget', 'booked through the widget');
ok(verify($hook, 'x-ghl-signature'), 'x-ghl-signature is an Ed25519 signature of the exact body (openssl)');
ok(verify($hook, 'x-wh-signature'), 'x-wh-signature is an RSA-SHA256 signature of it (openssl)');
(my $tampered = $hook->{body}) =~ s/contact-9/contact-8/;
ok(!verify($hook, 'x-ghl-signature', $tampered), 'a changed body does not verify');

$sim->control('PUT', "ghl/appointments/$created->{id}", { title => 'Movida', startTime => '2026-03-12T11:00:00-05:00',
	endTime => '2026-03-12T12:00:00-05:00' });
$sim->control('DELETE', "ghl/appointments/$created->{id}");
my @types = map { decode_json($_->{body})->{type} } @{ received(3) };
is_deeply(\@types, [qw(AppointmentCreate AppointmentUpdate AppointmentDelete)], 'updates and deletes follow');
my $update = decode_json(received(3)->[1]{body});
ok($update->{appointment}{dateUpdated} gt $body->{appointment}{dateUpdated}, 'with a later dateUpdated');

$sim->control('DELETE', 'inbox');
$sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalFisio000000001', silent => JSON::PP::true,
	startTime => '2026-03-13T09:00:00-05:00' });
my $token = $sim->token()->{access_token};
$sim->api('POST', '/calendars/events/appointments', token => $token, json => { calendarId => 'SimCalFisio000000001',
	locationId => 'SimLocation000000001', contactId => 'c', startTime => '2026-03-13T11:00:00-05:00' });
my $api_hook = decode_json(received(1)->[0]{body});
is(scalar @{ inbox() }, 1, 'a silent change sends nothing');
is($api_hook->{appointment}{source}, 'third_party', 'API changes send webhooks too, as in GHL');

# duplicates
$sim->control('DELETE', 'inbox');
$sim->control('POST', 'webhooks', { duplicate_rate => 1 });
$sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalFisio000000001', startTime => '2026-03-13T15:00:00-05:00' });
my @twice = map { decode_json($_->{body})->{webhookId} } @{ received(2) };
is($twice[0], $twice[1], 'duplicate delivery repeats the same webhookId');

# hold and release in reverse
$sim->control('DELETE', 'inbox');
$sim->control('POST', 'webhooks', { duplicate_rate => 0, hold => JSON::PP::true });
my @ids = map { $sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalEvaluacion0001',
	startTime => "2026-03-16T0$_:00:00-05:00" })->{json}{id} } 8 .. 9;
sleep(1);
is(scalar @{ inbox() }, 0, 'held webhooks wait');
is($sim->control('GET', 'state')->{json}{webhooks}{held}, 2, 'the state shows them held');
$sim->control('POST', 'webhooks', { hold => JSON::PP::false });
$sim->control('POST', 'webhooks/release', { order => 'reverse' });
my @order = map { decode_json($_->{body})->{appointment}{id} } @{ received(2) };
is_deeply(\@order, [reverse @ids], 'and are released in reverse order');

# retries like GHL
$sim->control('DELETE', 'inbox');
$sim->control('POST', 'inbox/config', { fail_next => 2, status => 500 });
$sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalFisio000000001', startTime => '2026-03-17T09:00:00-05:00' });
my $attempts = received(3);
is(scalar(@$attempts), 3, 'a failed delivery is retried until it succeeds');
is(decode_json($attempts->[0]{body})->{webhookId}, decode_json($attempts->[2]{body})->{webhookId},
	'with the same webhookId');
is($attempts->[0]{body}, $attempts->[2]{body}, 'and the same signed body');
$sim->control('DELETE', 'inbox');
$sim->control('POST', 'webhooks', { retry_on => '429' });
$sim->control('POST', 'inbox/config', { fail_next => 1, status => 500 });
$sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalFisio000000001', startTime => '2026-03-18T09:00:00-05:00' });
received(1);
sleep(0.6);
is(scalar @{ inbox() }, 1, 'with retry_on 429, a 500 is not retried (GHL\'s older policy)');
ok($sim->control('GET', 'state')->{json}{webhooks}{failed} >= 1, 'and counts as failed');

is($sim->stop, 0, 'the simulator stops cleanly');
ok(sanitizer_clean($sim->log_file), 'with no sanitizer report');
done_testing();

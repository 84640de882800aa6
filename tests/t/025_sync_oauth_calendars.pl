# Connecting a clinic: the OAuth install callback stores the location's
# tokens (encrypted) and its calendars follow at once; calendar sync picks up
# GHL's changes on NOTIFY (new calendars, removed ones deactivated, never
# deleted); a bad callback stores nothing; GHL's UNINSTALL forgets the tokens.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $sim = start_sim();
my $node = new_node('oauth');
my $daemon = start_daemon(node => $node, sim => $sim,
	env => { GHL_LOCATION_ID => '', GHL_OAUTH_URL => $sim->url, REFLEXO_OPS_TOKEN => 'ops-token-for-installs' });
ok(wait_until(sub { http_request('GET', $daemon->url . '/healthz')->{status} == 200 }), 'the daemon is up, with no location yet');
my $callback = $daemon->url . '/oauth/callback';

# 1. a bad callback stores nothing
my $r = http_request('GET', $callback);
is($r->{status}, 400, 'a callback without a code is a 400');
like($r->{content}, qr/<html.*Falta el código/s, 'with a page that says so');
$r = http_request('GET', "$callback?code=not-a-real-code");
is($r->{status}, 502, 'a code GHL does not accept is a 502');
like($r->{content}, qr/authorization code is invalid/, 'with GHL\'s reason');
is($node->safe_psql('postgres', 'SELECT count(*) FROM reflexo.ghl_tokens'), '0', 'and nothing is stored');

# 2. an install nobody here started cannot enrol a new location: GHL's
# consent page, reached directly, redirects with a code but no state of ours
my $consent = http_request('GET', $sim->url . '/oauth/chooselocation?response_type=code&client_id=sim-client-id'
	  . "&redirect_uri=$callback&scope=calendars.readonly+calendars.write+calendars/events.readonly+calendars/events.write");
is($consent->{status}, 403, 'an install not started here, for a location not registered, is refused');
like($consent->{content}, qr/no está registrada en Reflexo/, 'saying how to do it');
is($node->safe_psql('postgres', 'SELECT count(*) FROM reflexo.locations'), '0', 'and no location is added');
like(slurp_file($daemon->log_file), qr/"alert":"oauth_install_refused"/, 'which is an alert');
$consent = http_request('GET', $callback . '?code=x&state=' . (time() + 600) . '.00ff');
is($node->safe_psql('postgres', 'SELECT count(*) FROM reflexo.locations'), '0', 'a forged state does not help');

# 3. the install an operator starts: /oauth/install (behind the operations
# token) sends the browser to GHL's consent page with a signed state, which
# redirects to the callback with a code and that state
is(http_request('GET', $daemon->url . '/oauth/install')->{status}, 401, '/oauth/install needs the operations token');
$consent = http_request('GET', $daemon->url . '/oauth/install?token=ops-token-for-installs');
ok($consent->{success}, 'the consent page redirects back (followed)');
like($consent->{content}, qr/Reflexo está conectado a GoHighLevel.*SimLocation000000001/s,
	'the callback says the location is connected');
is($node->safe_psql('postgres', q{SELECT t.kind || ' ' || (t.refresh_token IS NOT NULL) || ' ' || (t.expires_at > now())
  FROM reflexo.ghl_tokens t JOIN reflexo.locations l ON l.id = t.location_id WHERE l.ghl_location_id = 'SimLocation000000001'}),
	'oauth true true', 'the location and its OAuth tokens are stored');
unlike($node->safe_psql('postgres', q{SELECT encode(access_token, 'escape') FROM reflexo.ghl_tokens}), qr/sim-SimLocation/,
	'encrypted');
is($sim->control('GET', 'state')->{json}{oauth}{code_grants}, 2, 'each code was exchanged once');
$consent = http_request('GET', $sim->url . '/oauth/chooselocation?response_type=code&client_id=sim-client-id'
	  . "&redirect_uri=$callback&scope=calendars.readonly+calendars.write+calendars/events.readonly+calendars/events.write");
like($consent->{content}, qr/Reflexo está conectado a GoHighLevel/,
	'a location already registered may be reconnected from GHL\'s side, with no state of ours');
is(wait_for_value($node, q{SELECT string_agg(ghl_calendar_id || ':' || is_active, ' ' ORDER BY ghl_calendar_id) FROM reflexo.calendars},
	'SimCalEvaluacion0001:true SimCalFisio000000001:true'), 'SimCalEvaluacion0001:true SimCalFisio000000001:true',
	'its calendars are synced at once');
is($node->safe_psql('postgres', q{SELECT capacity || ' ' || open_hours FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalEvaluacion0001'}),
	'2 mon-fri 08:00-13:00,14:00-20:00; sat 09:00-13:00', 'with capacity and working hours from GHL');

# 3. pushes use the installed tokens
book($node, 1);
is(wait_for_value($node, q{SELECT sync_state FROM reflexo.appointments}, 'synced'), 'synced', 'a booking reaches GHL');

# 4. calendar changes in GHL, picked up on NOTIFY reflexo_calendars
$sim->control('POST', 'calendars', { locationId => 'SimLocation000000001', id => 'SimCalNueva000000001', name => 'Pilates',
	isActive => JSON::PP::true, slotDuration => 45, slotDurationUnit => 'mins', appoinmentPerSlot => 4,
	openHours => [ { daysOfTheWeek => [ 1, 3, 5 ], hours => [ { openHour => 7, openMinute => 0, closeHour => 12, closeMinute => 0 } ] } ],
	preBuffer => 10, preBufferUnit => 'mins', slotBuffer => 1, slotBufferUnit => 'hours',
	allowBookingAfter => 1, allowBookingAfterUnit => 'days', allowBookingFor => 2, allowBookingForUnit => 'weeks',
	appoinmentPerDay => 6, teamMembers => [ { userId => 'SimTherapist00000009', priority => 0.5, isPrimary => JSON::PP::true } ] });
$sim->control('DELETE', 'calendars/SimCalEvaluacion0001');
$node->safe_psql('postgres', q{NOTIFY reflexo_calendars, 'SimLocation000000001'});
is(wait_for_value($node, q{SELECT string_agg(ghl_calendar_id || ':' || is_active, ' ' ORDER BY ghl_calendar_id) FROM reflexo.calendars},
	'SimCalEvaluacion0001:false SimCalFisio000000001:true SimCalNueva000000001:true'),
	'SimCalEvaluacion0001:false SimCalFisio000000001:true SimCalNueva000000001:true',
	'a new calendar arrives; a removed one is deactivated, not deleted');
is($node->safe_psql('postgres', q{SELECT capacity || ' ' || open_hours FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalNueva000000001'}),
	'4 mon 07:00-12:00; wed 07:00-12:00; fri 07:00-12:00', 'with its settings');
is($node->safe_psql('postgres', q{SELECT concat_ws(' ', buffer_before, buffer_after, min_notice, booking_horizon, max_per_day)
	FROM reflexo.calendars WHERE ghl_calendar_id = 'SimCalNueva000000001'}), '00:10:00 01:00:00 1 day 14 days 6',
	'and its booking settings: buffers, notice, horizon, appointments per day');
is($node->safe_psql('postgres', q{SELECT string_agg(ghl_user_id, ' ' ORDER BY ghl_user_id) FROM reflexo.therapists}),
	'SimTherapist00000001 SimTherapist00000002 SimTherapist00000009', 'the calendars\' team members are the therapists');
like(slurp_file($daemon->log_file), qr/"tag":"CALENDAR_SYNC","message":"calendars synced".*"deactivated":1/,
	'the sync is logged with what changed');
my %ops = (headers => { Authorization => 'Bearer ops-token-for-installs' });
like(http_request('GET', $daemon->url . '/metrics', %ops)->{content}, qr/reflexo_calendar_syncs_total\{result="success"\} [2-9]/,
	'and counted');

# 5. GHL's UNINSTALL forgets the tokens; the location then needs an operator.
# GHL signs every app's webhooks with one key: another app's UNINSTALL, or
# one older than the grant (a replay), must not void ours.
sub gmt { my @t = gmtime(shift); sprintf('%04d-%02d-%02dT%02d:%02d:%02dZ', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0]) }
sub uninstall
{
	my (%o) = @_;
	my $body = encode_json({ type => 'UNINSTALL', appId => $o{app} // 'sim', locationId => 'SimLocation000000001',
		webhookId => $o{id}, timestamp => gmt($o{at} // time()) });
	return http_request('POST', $daemon->url . '/webhooks/ghl', content => $body, headers => { 'Content-Type' => 'application/json',
		'x-ghl-signature' => sign_body("$sim->{keys}/ghl-sim-ed25519.key.pem", 'ed25519', $body) });
}
$r = uninstall(id => 'uninstall-other-app', app => 'otherapp');
is_deeply([ $r->{status}, $r->{json}{result} ], [ 200, 'ignored' ], 'another app\'s UNINSTALL, signed by GHL, is ignored');
is($node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.webhook_inbox WHERE webhook_id = 'uninstall-other-app'}), '0',
	'and not even stored');
$r = uninstall(id => 'uninstall-before-grant', at => time() - 3600);
is_deeply([ $r->{status}, $r->{json}{result} ], [ 200, 'stale' ], 'an UNINSTALL dated before the grant is stale');
is($node->safe_psql('postgres', 'SELECT count(*) FROM reflexo.ghl_tokens'), '1', 'and the tokens stay');
sleep 1;   # GHL dates to the second: later than the grant
$r = uninstall(id => 'uninstall-1');
is_deeply([ $r->{status}, $r->{json}{result} ], [ 200, 'applied' ], 'a signed UNINSTALL is applied');
is($node->safe_psql('postgres', 'SELECT count(*) FROM reflexo.ghl_tokens'), '0', 'the tokens are forgotten');
ok(wait_until(sub { http_request('GET', $daemon->url . '/readyz')->{status} == 503 }), '/readyz then reports 503');
like(http_request('GET', $daemon->url . '/readyz', %ops)->{json}{problems}[0], qr/without working GHL credentials/,
	'saying why, to the operator');
like(slurp_file($daemon->log_file), qr/"alert":"ghl_credentials"/, 'and an alert is logged');

is($daemon->stop('TERM'), 0, 'the daemon stops cleanly');
ok(sanitizer_clean($daemon->log_file), 'no sanitizer report');
$sim->stop;
done_testing();

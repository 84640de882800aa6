# ghl-sim's OAuth (authorization code, single-use rotating refresh tokens,
# expiry, paused locations, private integration tokens) and its rate limits
# (a token bucket per location, a daily quota, GHL's five headers).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;
use Time::HiRes qw(sleep);

my $seed = PostgreSQL::Test::Utils::tempdir() . '/seed.json';
PostgreSQL::Test::Utils::append_to_file($seed, encode_json({ locations => [
	{ id => 'LocA', name => 'A', timezone => 'America/Lima',
	  calendars => [{ id => 'CalA', name => 'Fisio', openHours => [] }],
	  tokens => [{ access_token => 'token-a', refresh_token => 'refresh-a', expires_in => 3600 }] },
	{ id => 'LocB', name => 'B', timezone => 'America/Lima', calendars => [{ id => 'CalB', name => 'Sala' }] } ] }));
my $sim = start_sim(options => ['--seed', $seed, '--rate-limit', '5', '--rate-interval-ms', '1000',
	'--daily-limit', '9', '--token-ttl', '2', '--client-id', 'app', '--client-secret', 'shh']);
my %client = (client_id => 'app', client_secret => 'shh');

sub token_call { ReflexoTest::http_request('POST', $sim->url . '/oauth/token', form => { %client, @_ }) }

# refresh tokens rotate and are single-use
my $r = token_call(grant_type => 'refresh_token', refresh_token => 'refresh-a');
is($r->{status}, 200, 'a refresh token buys a new access token');
is_deeply([schema_errors('GetAccessCodeSuccessfulResponseDto', $r->{json})], [], 'in GHL\'s token response shape');
is($r->{json}{expires_in}, 2, 'with expires_in');
my $rotated = $r->{json}{refresh_token};
isnt($rotated, 'refresh-a', 'and a new refresh token');
$r = token_call(grant_type => 'refresh_token', refresh_token => 'refresh-a');
is($r->{status}, 400, 'the old refresh token is spent');
is($r->{json}{message}, 'Invalid grant: refresh token is invalid', 'as GHL says');
my $access = token_call(grant_type => 'refresh_token', refresh_token => $rotated)->{json};
ok($access->{access_token}, 'the rotated one works once');
is($sim->api('GET', '/calendars/?locationId=LocA', token => $access->{access_token})->{status}, 200,
	'and its access token is accepted');
sleep(2.1);
$r = $sim->api('GET', '/calendars/?locationId=LocA', token => $access->{access_token});
is($r->{status} . ' ' . $r->{json}{message}, '401 Invalid JWT', 'an expired access token is 401 Invalid JWT');

# the authorization code flow, through the consent page
$r = HTTP::Tiny->new(max_redirect => 0)->get($sim->url
	  . '/oauth/chooselocation?response_type=code&client_id=app&location_id=LocB'
	  . '&redirect_uri=http://127.0.0.1:1/oauth/callback&scope=calendars.readonly');
is($r->{status}, 302, 'the consent page redirects');
my ($code) = ($r->{headers}{location} // '') =~ m{^http://127\.0\.0\.1:1/oauth/callback\?code=(\w+)$};
ok($code, 'to the redirect URI with a code');
$r = token_call(grant_type => 'authorization_code', code => $code);
is($r->{status} . ' ' . $r->{json}{locationId}, '200 LocB', 'the code buys the location\'s tokens');
is($r->{json}{scope}, 'calendars.readonly', 'with the scope asked for');
is(token_call(grant_type => 'authorization_code', code => $code)->{status}, 400, 'a code works once');

# client checks
is(ReflexoTest::http_request('POST', $sim->url . '/oauth/token',
	form => { client_id => 'app', client_secret => 'wrong', grant_type => 'refresh_token', refresh_token => 'x' })->{status},
	401, 'a wrong client secret is 401');
is(ReflexoTest::http_request('POST', $sim->url . '/oauth/token', form => { grant_type => 'refresh_token' })->{json}{message},
	'Missing parameter: client_id', 'a missing client_id is named');
is(token_call(grant_type => 'password')->{json}{message}, 'Invalid parameter: grant_type', 'an unknown grant is refused');
is(ReflexoTest::http_request('POST', $sim->url . '/oauth/token', json => { %client })->{status}, 400,
	'the token endpoint wants a form body');

# a paused location keeps its refresh token for later
my $b = $sim->token(location_id => 'LocB');
$sim->control('POST', 'locations/LocB', { active => JSON::PP::false });
$r = token_call(grant_type => 'refresh_token', refresh_token => $b->{refresh_token});
is($r->{status} . ' ' . $r->{json}{message}, '400 Location is not active', 'a paused location cannot refresh');
$sim->control('POST', 'locations/LocB', { active => JSON::PP::true });
is(token_call(grant_type => 'refresh_token', refresh_token => $b->{refresh_token})->{status}, 200,
	'the same refresh token works once it is active again');

# private integration tokens do not expire
my $pit = $sim->token(location_id => 'LocA', kind => 'pit');
ok(!$pit->{refresh_token}, 'a private integration token has no refresh token');
like($pit->{access_token}, qr/^pit-/, 'and looks like one');

# rate limits: 5 per second per location
sleep(1.2);
my @remaining;
for (1 .. 6)
{
	$r = $sim->api('GET', '/calendars/CalA', token => $pit->{access_token});
	push @remaining, $r->{status} == 200 ? $r->{headers}{'x-ratelimit-remaining'} : $r->{status};
}
is_deeply(\@remaining, [4, 3, 2, 1, 0, 429], 'X-RateLimit-Remaining counts down, then 429');
is($r->{json}{message}, 'Too Many Requests', 'with GHL\'s 429 body');
is_deeply([ map { exists $r->{headers}{$_} ? 1 : 0 } qw(x-ratelimit-limit-daily x-ratelimit-daily-remaining
	  x-ratelimit-interval-milliseconds x-ratelimit-max x-ratelimit-remaining) ], [1, 1, 1, 1, 1],
	'all five X-RateLimit-* headers are sent');
is($r->{headers}{'x-ratelimit-max'} . '/' . $r->{headers}{'x-ratelimit-interval-milliseconds'}, '5/1000',
	'describing the bucket');
is($sim->api('GET', '/calendars/CalB', token => $sim->token(location_id => 'LocB')->{access_token})->{status}, 200,
	'another location has its own bucket');
sleep(0.25);
is($sim->api('GET', '/calendars/CalA', token => $pit->{access_token})->{status}, 200, 'the bucket refills over time');
is($sim->control('GET', 'state')->{json}{rate_limited}{LocA}, 1, 'the state counts the 429s served');

# the daily quota
my $daily;
for (1 .. 3)
{
	sleep(0.25);
	$daily = $sim->api('GET', '/calendars/CalA', token => $pit->{access_token});
}
is($daily->{status}, 429, 'past the daily limit every call is 429');
is($daily->{headers}{'x-ratelimit-daily-remaining'}, 0, 'with no daily requests remaining');

is($sim->stop, 0, 'the simulator stops cleanly');
ok(sanitizer_clean($sim->log_file), 'with no sanitizer report');
done_testing();

# The API's security from the outside: api.login's JWTs verified with the
# openssl command line (HS256 over header.payload with the shared secret),
# the request flow PostgREST runs as reflexo_authenticator, and reflexo-sync
# doing all its work as a login that only has reflexo_sync.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use MIME::Base64;
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $secret = 'tap-secret-that-is-longer-than-32-characters';
my $sim = start_sim();
my $node = new_node('api');
$node->safe_psql('postgres', qq{
SELECT reflexo.set_jwt_secret('$secret');
ALTER DATABASE postgres SET reflexo.password_iterations = 1000;
CREATE ROLE sync_login LOGIN IN ROLE reflexo_sync;
});
load_sim_calendars($node, $sim);
my $location = $node->safe_psql('postgres', q{SELECT id FROM reflexo.locations});
$node->safe_psql('postgres', qq{SELECT api.create_user('recepcion', 'clave-de-prueba-1', 'staff', '{$location}')});

# login as PostgREST does it: authenticator, SET LOCAL ROLE anon, the RPC
sub as_authenticator
{
	my ($role, $claims, $sql) = @_;
	return $node->safe_psql('postgres', qq{BEGIN;
SET LOCAL ROLE $role;
SELECT set_config('request.jwt.claims', '$claims', true) \\g /dev/null
$sql;
COMMIT;}, extra_params => [ '-U', 'reflexo_authenticator' ]);
}
my $pair = decode_json(as_authenticator('reflexo_anon', '{"role":"reflexo_anon"}',
	q{SELECT api.login('recepcion', 'clave-de-prueba-1')}));
my ($header, $payload, $signature) = split /\./, $pair->{access};

sub base64url_decode
{
	my ($text) = @_;
	$text =~ tr{-_}{+/};
	$text .= '=' x ((4 - length($text) % 4) % 4);
	return decode_base64($text);
}

# the signature, computed independently
my $dir = PostgreSQL::Test::Utils::tempdir();
open(my $fh, '>:raw', "$dir/signed") or die;
print $fh "$header.$payload";
close $fh;
my ($mac) = run_command([ 'openssl', 'dgst', '-sha256', '-mac', 'HMAC', '-macopt', "key:$secret", '-binary',
	'-out', "$dir/mac", "$dir/signed" ]);
open($fh, '<:raw', "$dir/mac") or die 'openssl wrote no MAC';
my $expected = do { local $/; <$fh> };
close $fh;
is(length($expected), 32, 'openssl computed an HMAC-SHA256');
is(base64url_decode($signature), $expected, 'the access token is HS256 over header.payload with the shared secret');
is_deeply(decode_json(base64url_decode($header)), { alg => 'HS256', typ => 'JWT' }, 'its header says HS256');
my $claims = decode_json(base64url_decode($payload));
is($claims->{role}, 'reflexo_staff', 'the role claim names the database role');
is_deeply($claims->{location_ids}, [ 0 + $location ], 'location_ids are the user\'s locations');
ok($claims->{exp} > time() + 3000, 'and it expires in about an hour');
unlike($signature, qr/[=+\/]/, 'the encoding is base64url without padding');

# a request with those claims, as PostgREST would make it
my $payload_json = base64url_decode($payload);
as_authenticator('reflexo_staff', $payload_json, q{INSERT INTO api.citas (title, contact_id, ghl_calendar_id,
  start_time, end_time) VALUES ('Por la API', 'c-api', 'SimCalFisio000000001', '2037-06-02 09:00-05', '2037-06-02 09:30-05')});
is(as_authenticator('reflexo_staff', $payload_json, q{SELECT count(*) FROM api.citas}), '1', 'the staff request books a cita');
my ($ret, $out, $err) = $node->psql('postgres', 'SET ROLE reflexo_sync', extra_params => [ '-U', 'reflexo_authenticator' ]);
like($err, qr/permission denied to set role/, 'the authenticator cannot become reflexo_sync');
($ret, $out, $err) = $node->psql('postgres', 'SELECT * FROM api.citas', extra_params => [ '-U', 'reflexo_authenticator' ]);
like($err, qr/permission denied/, 'nor read anything without switching to a role');

# reflexo-sync as a login with only reflexo_sync: push, webhook, calendars
my $tokens = $sim->token();
my $daemon = start_daemon(node => $node, sim => $sim,
	env => { DATABASE_URL => $node->connstr('postgres') . ' user=sync_login',
		GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token} });
is(wait_for_value($node, q{SELECT sync_state FROM reflexo.appointments WHERE title = 'Por la API'}, 'synced'), 'synced',
	'reflexo-sync pushes as reflexo_sync');
ok(wait_until(sub { http_request('GET', $daemon->url . '/readyz')->{status} == 200 }), 'and is ready');
$sim->control('POST', 'webhooks', { url => $daemon->url . '/webhooks/ghl' });
$sim->control('POST', 'ghl/appointments', { calendarId => 'SimCalFisio000000001', contactId => 'c-ghl',
	title => 'Desde GHL', startTime => '2037-06-02T11:00:00-05:00', endTime => '2037-06-02T11:30:00-05:00' });
is(wait_for_value($node, q{SELECT count(*) FROM reflexo.appointments WHERE title = 'Desde GHL'}, '1'), '1',
	'and applies webhooks as reflexo_sync');
is(http_request('GET', $daemon->url . '/metrics')->{status}, 200, 'its metrics work with those rights');
sub calendar_syncs { my @m = PostgreSQL::Test::Utils::slurp_file($daemon->log_file) =~ /calendars synced/g; scalar @m }
ok(wait_until(sub { calendar_syncs() >= 1 }), 'the daemon synced calendars at start');
my $before = calendar_syncs();
$node->safe_psql('postgres', q{SELECT api.sync_calendars(id) FROM reflexo.locations});
ok(wait_until(sub { calendar_syncs() > $before }), 'api.sync_calendars makes it sync them again');
$daemon->stop;
ok(sanitizer_clean($daemon->log_file), 'no sanitizer report');
unlike(PostgreSQL::Test::Utils::slurp_file($daemon->log_file), qr/permission denied/, 'the daemon was never refused anything');

done_testing();

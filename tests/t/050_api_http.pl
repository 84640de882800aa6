# reflexo-api serves the Django service's API: every endpoint of the Django service
# guide at its path and method, DRF's shapes (pagination, errors), tokens
# verified in C, row-level security across locations, Spanish by default,
# CORS, bounded requests, and logs that carry no secret or patient note.
# The binary is the AddressSanitizer build; it must stop cleanly.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64url);
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;
use Time::HiRes qw(time);

my $secret = 'api-tap-secret-that-is-longer-than-32-characters';
my $node = new_node('api_http');
$node->safe_psql('postgres', qq{
ALTER DATABASE postgres SET reflexo.password_iterations = 1000;
SELECT reflexo.set_jwt_secret('$secret');
SET reflexo.password_iterations = 1000;
INSERT INTO reflexo.locations (id, ghl_location_id, name, timezone, open_hours) VALUES
  (1, 'loc-lima', 'Reflexo Lima', 'America/Lima', '07:00-21:00'),
  (2, 'loc-madrid', 'Reflexo Madrid', 'Europe/Madrid', '07:00-21:00');
INSERT INTO reflexo.calendars (id, location_id, ghl_calendar_id, name) VALUES
  (1, 1, 'cal_456', 'Fisioterapia'), (2, 1, 'cal_457', 'Evaluación'), (3, 2, 'cal-madrid', 'Madrid');
SELECT setval(pg_get_serial_sequence('reflexo.locations', 'id'), 2), setval(pg_get_serial_sequence('reflexo.calendars', 'id'), 3);
SELECT api.create_user('admin', 'admin-password-1', 'admin');
SELECT api.create_user('lima', 'lima-password-1', 'staff', '{1}');
SELECT api.create_user('madrid', 'madrid-password-1', 'staff', '{2}');
});
my $api = start_api(node => $node, secret => $secret,
	env => { CORS_ALLOWED_ORIGINS => 'http://front.example, http://127.0.0.1:3000', REFLEXO_API_PAGE_SIZE => 2,
		REFLEXO_API_MAX_PAGE_SIZE => 3, REFLEXO_API_REQUEST_SECONDS => 3 });
my $base = $api->url;

sub call
{
	my ($method, $path, %o) = @_;
	my %headers = %{ $o{headers} // {} };
	$headers{Authorization} = "Bearer $o{token}" if defined $o{token};
	return http_request($method, "$base$path", headers => \%headers,
		defined $o{json} ? (json => $o{json}) : (), defined $o{content} ? (content => $o{content}) : ());
}

sub login
{
	my ($user, $password) = @_;
	return call('POST', '/api/architect/login/', json => { username => $user, password => $password });
}

sub count_citas { $node->safe_psql('postgres', 'SELECT count(*) FROM reflexo.appointments') }

# ---------------------------------------------------------------- login
my $r = login('lima', 'lima-password-1');
is($r->{status}, 200, 'POST /api/architect/login/ logs in');
ok($r->{json}{access} && $r->{json}{refresh}, 'answering {access, refresh}');
my $lima = $r->{json}{access};
my $lima_refresh = $r->{json}{refresh};
my $madrid = login('madrid', 'madrid-password-1')->{json}{access};
my $admin = login('admin', 'admin-password-1')->{json}{access};
ok($madrid && $admin, 'staff of another location and an admin log in too');
$r = login('lima', 'wrong-password');
is($r->{status}, 401, 'a wrong password is 401');
is($r->{json}{detail}, 'No se encontró una cuenta activa con las credenciales proporcionadas', 'in simplejwt\'s Spanish');
$r = call('POST', '/api/architect/login/', json => { username => 'nadie', password => 'wrong-password' },
	headers => { 'Accept-Language' => 'en-US,en;q=0.9' });
is($r->{json}{detail}, 'No active account found with the given credentials', 'and in English with Accept-Language: en');
$r = call('POST', '/api/architect/login/', json => {});
is_deeply($r->{json}, { username => ['Este campo es requerido.'], password => ['Este campo es requerido.'] },
	'missing credentials: 400 per field');
$r = call('POST', '/api/architect/refresh/', json => { refresh => $lima_refresh });
ok($r->{status} == 200 && $r->{json}{access}, 'POST /api/architect/refresh/ gives a new pair');
is(call('POST', '/api/architect/refresh/', json => { refresh => $lima })->{status}, 401,
	'an access token is not a refresh token');

# ---------------------------------------------------------------- tokens
sub token_of
{
	my ($header, $claims, $key) = @_;
	my $signed = encode_base64url(encode_json($header)) . '.' . encode_base64url(encode_json($claims));
	return "$signed." . encode_base64url(hmac_sha256($signed, $key // $secret));
}
my %claims = (role => 'reflexo_staff', sub => 'lima', uid => 2, typ => 'access', location_ids => [1], ver => 1,
	iat => int(time()), exp => int(time()) + 600);
$r = call('GET', '/api/ghl/citas/');
is($r->{status}, 401, 'no token: 401');
is_deeply($r->{json}, { detail => 'Las credenciales de autenticación no se proveyeron.', code => 'not_authenticated' },
	'with DRF\'s body');
is($r->{headers}{'www-authenticate'}, 'Bearer realm="api"', 'and WWW-Authenticate');
is(call('GET', '/api/ghl/citas/', token => token_of({ alg => 'HS256', typ => 'JWT' }, \%claims))->{status}, 200,
	'a token signed with the secret, as api.login signs, is accepted');
my %refused = (
	'expired' => token_of({ alg => 'HS256' }, { %claims, exp => int(time()) - 1 }),
	'signed with another secret' => token_of({ alg => 'HS256' }, \%claims, 'another-secret-that-is-longer-than-32-chars'),
	'alg none' => encode_base64url(encode_json({ alg => 'none' })) . '.' . encode_base64url(encode_json(\%claims)) . '.',
	'alg HS512 in the header' => token_of({ alg => 'HS512' }, \%claims),
	'a refresh token' => $lima_refresh,
	'claims changed after signing' => do {
		my @parts = split /\./, $lima;
		$parts[1] = encode_base64url(encode_json({ %claims, role => 'reflexo_admin' }));
		join('.', @parts);
	},
	'the anonymous role' => token_of({ alg => 'HS256' }, { %claims, role => 'reflexo_anon' }),
	'garbage' => 'not.a.token',
);
for my $what (sort keys %refused)
{
	$r = call('GET', '/api/ghl/citas/', token => $refused{$what});
	is($r->{status} . ' ' . ($r->{json}{code} // ''), '401 token_not_valid', "$what: 401");
}

# ---------------------------------------------------------------- citas
my $guide_cita = { title => 'Consulta Fisioterapia', contact_id => 'ghl_contact_123', ghl_calendar_id => 'cal_456',
	start_time => '2036-12-25T14:00:00-05:00', end_time => '2036-12-25T15:00:00-05:00',
	notes => 'Notas de la cita: dolor lumbar', assigned_user_id => 'user_789' };
$r = call('POST', '/api/ghl/citas/', token => $lima, json => $guide_cita);
is($r->{status}, 201, 'POST /api/ghl/citas/ with the Django service\'s body: 201');
my $cita = $r->{json};
is_deeply([ map { $cita->{$_} } qw(title contact_id ghl_calendar_id start_time end_time notes assigned_user_id status) ],
	[ @$guide_cita{qw(title contact_id ghl_calendar_id start_time end_time notes assigned_user_id)}, 'scheduled' ],
	'answering the created cita with the Django service\'s fields');
is_deeply([ map { exists $cita->{$_} ? 1 : 0 } qw(id ghl_appointment_id sync_state fecha location_id) ], [ 1, 1, 1, 1, 1 ],
	'its id, GHL id and sync state');
is($cita->{sync_state}, 'pending', 'queued for GHL');
is(call('POST', '/api/ghl/citas/', token => $lima, json => { %$guide_cita, start_time => '2036-12-25T19:00:00Z',
		end_time => '2036-12-25T20:00:00Z', ghl_calendar_id => 'cal_457', assigned_user_id => 'user_790' })->{json}{start_time},
	'2036-12-25T14:00:00-05:00', 'a time given in UTC comes back in the location\'s offset');

my $before = count_citas();
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { %$guide_cita, title => 'Choque',
		start_time => '2036-12-25T14:30:00-05:00' });
is($r->{status}, 400, 'an overlapping booking: 400');
is_deeply($r->{json}, { non_field_errors => ['Conflicto de horario con: Consulta Fisioterapia (14:00 - 15:00)'] },
	'the Django service\'s non_field_errors, naming the cita in the way');
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { %$guide_cita, start_time => '2036-12-25T14:30:00-05:00' },
	headers => { 'Accept-Language' => 'en' });
is_deeply($r->{json}{non_field_errors}, ['schedule conflict with: Consulta Fisioterapia (14:00 - 15:00)'],
	'in English with Accept-Language: en');
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { %$guide_cita, ghl_calendar_id => 'cal_123',
		start_time => '2036-12-26T09:00:00-05:00', end_time => '2036-12-26T10:00:00-05:00' });
is_deeply($r->{json}, { non_field_errors => ['El calendario cal_123 no existe o no está disponible'] },
	'an unknown calendar, in the Django service\'s words');
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { title => 7, foo => 'x', start_time => 'mañana',
		status => 'done' });
is_deeply([ sort keys %{ $r->{json} } ], [qw(end_time foo start_time status title)], 'bad fields: one 400 naming each');
is($r->{json}{foo}[0], 'Campo desconocido.', 'unknown fields are refused');
is($r->{json}{end_time}[0], 'Este campo es requerido.', 'required ones are required');
is($r->{json}{status}[0], '"done" no es una elección válida.', 'statuses are GHL\'s');
$r = call('POST', '/api/ghl/citas/', token => $lima, content => '{"title": ', headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'malformed JSON: 400');
like($r->{json}{detail}, qr/^Error de análisis JSON - /, 'saying so');
is(call('POST', '/api/ghl/citas/', token => $lima, content => '[1]', headers => { 'Content-Type' => 'application/json' })->{status},
	400, 'a JSON array: 400');
is(call('POST', '/api/ghl/citas/', token => $lima, content => 'title=x', headers => { 'Content-Type' => 'text/plain' })->{status},
	415, 'a body that is not JSON: 415');
is(call('POST', '/api/ghl/citas/', token => $lima, content => '{"title": "a", "title": "b"}',
		headers => { 'Content-Type' => 'application/json' })->{status}, 400, 'duplicate keys: 400');
is(count_citas(), $before, 'and nothing was written for any of them');

$r = call('GET', "/api/ghl/citas/$cita->{id}/", token => $lima);
is_deeply($r->{json}, $cita, 'GET /api/ghl/citas/{id}/ answers the cita');
$r = call('PUT', "/api/ghl/citas/$cita->{id}/", token => $lima, json => { title => 'Sin horas' });
is_deeply($r->{json}, { start_time => ['Este campo es requerido.'], end_time => ['Este campo es requerido.'] },
	'PUT needs every required field');
$r = call('PUT', "/api/ghl/citas/$cita->{id}/", token => $lima, json => { %$guide_cita, title => 'Movida',
		start_time => '2036-12-25T16:00:00-05:00', end_time => '2036-12-25T17:00:00-05:00' });
is_deeply([ @{ $r->{json} }{qw(title start_time)} ], [ 'Movida', '2036-12-25T16:00:00-05:00' ], 'PUT replaces');
$r = call('PATCH', "/api/ghl/citas/$cita->{id}/", token => $lima, json => { notes => undef });
ok($r->{status} == 200 && !defined $r->{json}{notes} && $r->{json}{title} eq 'Movida', 'PATCH changes only what it is given');
is(call('PATCH', "/api/ghl/citas/$cita->{id}/", token => $lima, json => { end_time => '2036-12-25T16:05:00-05:00' })->{json}
	  {non_field_errors}[0], 'La duración mínima es 15 minutos', 'the rules hold on updates, in the Django service\'s words');

# listing: DRF page-number pagination with absolute links that keep the filters
call('POST', '/api/ghl/citas/', token => $lima, json => { %$guide_cita, start_time => "2036-12-2${_}T09:00:00-05:00",
		end_time => "2036-12-2${_}T10:00:00-05:00" }) for 6 .. 8;
$r = call('GET', '/api/ghl/citas/?desde=2036-12-01&hasta=2036-12-31&page_size=2', token => $lima);
is_deeply([ @{ $r->{json} }{qw(count next previous)} ],
	[ 5, "$base/api/ghl/citas/?desde=2036-12-01&hasta=2036-12-31&page_size=2&page=2", undef ],
	'a page: count, an absolute next link keeping the filters, no previous');
is(scalar @{ $r->{json}{results} }, 2, 'page_size citas');
$r = call('GET', '/api/ghl/citas/?desde=2036-12-01&hasta=2036-12-31&page_size=2&page=3', token => $lima);
is_deeply([ @{ $r->{json} }{qw(next previous)}, scalar @{ $r->{json}{results} } ],
	[ undef, "$base/api/ghl/citas/?desde=2036-12-01&hasta=2036-12-31&page_size=2&page=2", 1 ],
	'the last page: a previous link, no next');
is(scalar @{ call('GET', '/api/ghl/citas/?page_size=1000', token => $lima)->{json}{results} }, 3,
	'page_size is capped (REFLEXO_API_MAX_PAGE_SIZE)');
is_deeply(call('GET', '/api/ghl/citas/?page=9', token => $lima)->{json}, { detail => 'Página inválida.' },
	'a page past the end: 404 Página inválida.');
is(call('GET', '/api/ghl/citas/?hasta=2036-12-25', token => $lima)->{json}{count}, 2, 'hasta is a local date, inclusive');
is(call('GET', '/api/ghl/citas/?desde=2036-12-27', token => $lima)->{json}{count}, 2, 'desde too');
is_deeply(call('GET', '/api/ghl/citas/?desde=25/12/2025', token => $lima)->{json},
	{ desde => ['Fecha con formato erróneo. Use uno de los siguientes formatos en su lugar: YYYY-MM-DD.'] },
	'a filter that is not a date: 400');

$r = call('POST', "/api/ghl/citas/$cita->{id}/cancel/", token => $lima);
is_deeply([ $r->{status}, $r->{json}{status} ], [ 200, 'cancelled' ], 'POST /api/ghl/citas/{id}/cancel/ cancels');
is(call('GET', '/api/ghl/citas/?status=cancelled', token => $lima)->{json}{count}, 1, 'status filters');
$node->safe_psql('postgres', q{
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
SELECT 1, 'Pronto', t AT TIME ZONE 'America/Lima', (t + interval '1 hour') AT TIME ZONE 'America/Lima'
  FROM (SELECT (now() AT TIME ZONE 'America/Lima')::date + 1 + time '12:00' AS t) tomorrow_noon});
$r = call('GET', '/api/ghl/citas/upcoming/', token => $lima);
is_deeply([ map { $_->{title} } @{ $r->{json} } ], ['Pronto'], 'GET /api/ghl/citas/upcoming/: the coming week');

# ---------------------------------------------------------------- locations apart
my ($madrid_cita) = call('POST', '/api/ghl/citas/', token => $madrid, json => { title => 'Madrid', ghl_calendar_id => 'cal-madrid',
		start_time => '2037-03-10T10:00:00+01:00', end_time => '2037-03-10T11:00:00+01:00' })->{json};
is($madrid_cita->{start_time}, '2037-03-10T10:00:00+01:00', 'a Madrid cita reads in Madrid\'s offset');
is(call('GET', "/api/ghl/citas/$madrid_cita->{id}/", token => $lima)->{status}, 404, 'Lima staff do not see it');
is(call('PATCH', "/api/ghl/citas/$madrid_cita->{id}/", token => $lima, json => { title => 'x' })->{status}, 404,
	'nor change it');
is(call('POST', "/api/ghl/citas/$madrid_cita->{id}/cancel/", token => $lima)->{status}, 404, 'nor cancel it');
is(call('GET', '/api/ghl/citas/', token => $madrid)->{json}{count}, 1, 'Madrid staff list their own citas only');
is(call('POST', '/api/ghl/citas/', token => $madrid, json => { %$guide_cita, start_time => '2037-01-05T09:00:00-05:00',
		end_time => '2037-01-05T10:00:00-05:00' })->{json}{non_field_errors}[0],
	'El calendario cal_456 no existe o no está disponible', 'nor book Lima\'s calendars');
is(call('GET', '/api/ghl/citas/?page_size=3', token => $admin)->{json}{count}, 7, 'an admin sees every location');

# ---------------------------------------------------------------- calendars and locations
$r = call('GET', '/api/ghl/calendars/', token => $lima);
is_deeply($r->{json}, { calendars => [
			{ id => 'cal_457', name => 'Evaluación', description => '', timezone => 'America/Lima', isActive => JSON::PP::true,
				locationId => 'loc-lima' },
			{ id => 'cal_456', name => 'Fisioterapia', description => '', timezone => 'America/Lima', isActive => JSON::PP::true,
				locationId => 'loc-lima' } ], total => 2, success => JSON::PP::true },
	'GET /api/ghl/calendars/: the Django service\'s shape, own locations only');
is(call('GET', '/api/ghl/calendars/?location_id=loc-madrid', token => $admin)->{json}{total}, 1, 'filtered by ?location_id=');

$r = call('GET', '/api/locations/settings/', token => $lima);
is_deeply([ $r->{json}{count}, $r->{json}{results}[0]{ghl_location_id}, $r->{json}{results}[0]{min_duration} ],
	[ 1, 'loc-lima', '00:15:00' ], 'GET /api/locations/settings/: staff see their location, durations as DRF writes them');
$r = call('POST', '/api/locations/settings/', token => $lima, json => { ghl_location_id => 'X', name => 'Y' });
is_deeply([ $r->{status}, $r->{json}{detail} ], [ 403, 'Usted no tiene permiso para realizar esta acción.' ],
	'staff cannot add locations: 403');
$r = call('POST', '/api/locations/settings/', token => $admin, json => { ghl_location_id => 'CRlTCqv7ASS9xOpPQ59O',
		name => 'Reflexo Peru - Principal', timezone => 'America/Lima', is_active => JSON::PP::true });
is($r->{status}, 201, 'an admin adds one, with the Django service\'s body: 201');
my $new_location = $r->{json};
is_deeply([ @$new_location{qw(name timezone max_duration strict_validation)} ],
	[ 'Reflexo Peru - Principal', 'America/Lima', '1 00:00:00', JSON::PP::true ], 'defaults apply to what is not given');
$r = call('POST', '/api/locations/settings/', token => $admin, json => { ghl_location_id => 'CRlTCqv7ASS9xOpPQ59O', name => 'Otra' });
ok($r->{status} == 400 && $r->{json}{ghl_location_id}, 'a GHL location id used twice: 400 on that field');
$r = call('PATCH', "/api/locations/settings/$new_location->{id}/", token => $admin,
	json => { timezone => 'Mars/Olympus' });
ok($r->{status} == 400 && $r->{json}{timezone}, 'an unknown time zone: 400 on that field');
$r = call('PUT', "/api/locations/settings/$new_location->{id}/", token => $admin,
	json => { ghl_location_id => 'CRlTCqv7ASS9xOpPQ59O', name => 'Principal', min_duration => '00:30:00' });
is_deeply([ @{ $r->{json} }{qw(name min_duration)} ], [ 'Principal', '00:30:00' ], 'PUT');
is(call('DELETE', "/api/locations/settings/$new_location->{id}/", token => $admin)->{status}, 204,
	'DELETE of a location without calendars: 204');
$r = call('DELETE', '/api/locations/settings/1/', token => $admin);
is($r->{status}, 409, 'DELETE of a location with calendars: 409');
like($r->{json}{detail}, qr/desactívela/, 'saying to deactivate it instead');
$r = call('POST', '/api/locations/settings/1/set_default_calendar/', token => $admin, json => { calendar_id => 'cal_457' });
is($r->{json}{default_calendar_id}, 'cal_457', 'set_default_calendar takes and shows the GHL calendar id');
$r = call('POST', '/api/locations/settings/1/set_default_calendar/', token => $admin, json => { calendar_id => 'cal-madrid' });
is_deeply([ $r->{status}, $r->{json} ], [ 400, { non_field_errors => ['El calendario cal-madrid no existe o no está disponible'] } ],
	'a calendar of another location: 400, in the Django service\'s words');
$r = call('GET', '/api/locations/settings/1/calendars/', token => $lima);
is_deeply([ $r->{json}{total}, map { $_->{isDefault} ? $_->{id} : () } @{ $r->{json}{calendars} } ], [ 2, 'cal_457' ],
	'GET /api/locations/settings/{id}/calendars/');
is(call('GET', '/api/locations/settings/2/calendars/', token => $lima)->{status}, 404, 'not of another location');
is_deeply([ map { $_->{ghl_location_id} } @{ call('GET', '/api/locations/settings/active_locations/', token => $admin)->{json} } ],
	[ 'loc-lima', 'loc-madrid' ], 'GET /api/locations/settings/active_locations/');
$r = call('POST', '/api/locations/settings/1/sync_calendars/', token => $lima);
is_deeply([ $r->{status}, $r->{json}{queued} ], [ 202, JSON::PP::true ], 'POST /api/locations/settings/{id}/sync_calendars/');

# ---------------------------------------------------------------- monitoring
for my $path ('/api/ghl/metrics/', '/api/ghl/metrics/ghl/', '/api/ghl/metrics/webhooks/', '/api/ghl/health/')
{
	$r = call('GET', $path, token => $lima);
	ok($r->{status} == 200 && ref $r->{json} eq 'HASH', "GET $path");
}
ok(exists call('GET', '/api/ghl/metrics/', token => $lima)->{json}{system_health}, 'the Django service\'s metrics shape');
is(call('GET', '/healthz')->{status}, 200, '/healthz');
is_deeply(call('GET', '/readyz')->{json}, { status => 'ready', database => JSON::PP::true }, '/readyz');
like(call('GET', '/metrics')->{content}, qr/^reflexo_api_requests_total\{operation="create_cita",status="2xx"\} \d+$/m,
	'/metrics counts requests by operation');

# ---------------------------------------------------------------- sync failures, history, closures
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { title => 'Falla', ghl_calendar_id => 'cal_457',
		start_time => '2037-04-07T10:00:00-05:00', end_time => '2037-04-07T11:00:00-05:00' });
my $failing = $r->{json};
is_deeply([ @$failing{qw(sync_state sync_error synced_at)} ], [ 'pending', undef, undef ],
	'a new cita carries its sync state, no sync error and no sync time yet');
# GHL refuses its push: the cita's row is failed as reflexo-sync would record it; every other row is given back
$node->safe_psql('postgres', qq{
WITH j AS (SELECT * FROM reflexo.claim_outbox(100, '1 minute', 'tap'))
SELECT CASE WHEN j.appointment_id = $failing->{id}
            THEN reflexo.fail_outbox(j.outbox_id, j.attempt, 'permanent', 'GHL 422: The slot you have selected is no longer available')::text
            ELSE reflexo.release_outbox(j.outbox_id, j.attempt)::text END
  FROM j});
$r = call('GET', "/api/ghl/citas/$failing->{id}/", token => $lima);
is_deeply([ @{ $r->{json} }{qw(sync_state sync_error)} ],
	[ 'failed', 'GHL 422: The slot you have selected is no longer available' ], 'a failed push says why, in GHL\'s words');
$r = call('POST', "/api/ghl/citas/$failing->{id}/retry_sync/", token => $lima);
is_deeply([ $r->{status}, $r->{json} ], [ 403, { detail => 'solo los administradores pueden reintentar una sincronización' } ],
	'POST /api/ghl/citas/{id}/retry_sync/ is for admins: 403 saying so');
$r = call('POST', "/api/ghl/citas/$failing->{id}/retry_sync/", token => $admin);
is_deeply([ $r->{status}, $r->{json}{sync_state} ], [ 200, 'pending' ], 'an admin retries it: pending again');
is($node->safe_psql('postgres', "SELECT state || '/' || attempts FROM reflexo.outbox WHERE appointment_id = $failing->{id}"),
	'pending/0', 'with a fresh set of attempts');
is(call('POST', '/api/ghl/citas/987654/retry_sync/', token => $admin)->{status}, 404, 'an unknown cita: 404');
$r = call('POST', '/api/locations/settings/1/retry_sync/', token => $admin);
is_deeply([ $r->{status}, $r->{json} ], [ 200, { retried => 0, ghl_location_id => 'loc-lima', success => JSON::PP::true } ],
	'POST /api/locations/settings/{id}/retry_sync/ retries every failed push of a location');

$r = call('GET', "/api/ghl/citas/$failing->{id}/history/", token => $lima);
is_deeply([ $r->{status}, map { "$_->{operation} $_->{actor} $_->{origin}" } @{ $r->{json} } ], [ 200, 'insert lima local' ],
	'GET /api/ghl/citas/{id}/history/: who changed what, from where');
like($r->{json}[0]{changed_at}, qr/-05:00$/, 'in the location\'s offset');
is(call('GET', "/api/ghl/citas/$failing->{id}/history/", token => $madrid)->{status}, 404, 'not for staff of another location');

$r = call('POST', '/api/locations/settings/1/closures/', token => $lima, json => { first_day => '2037-04-07', reason => 'Feriado' });
is($r->{status}, 403, 'POST /api/locations/settings/{id}/closures/ is for admins');
$r = call('POST', '/api/locations/settings/1/closures/', token => $admin, json => { first_day => '2037-04-07' });
is_deeply([ $r->{status}, $r->{json} ], [ 400, { reason => ['Este campo es requerido.'] } ], 'a closure needs a reason');
$r = call('POST', '/api/locations/settings/1/closures/', token => $admin,
	json => { first_day => '2037-04-07', last_day => '2037-04-08', reason => 'Feriado' });
is_deeply([ $r->{status}, @{ $r->{json} }{qw(closed_from closed_until reason citas_inside)} ],
	[ 201, '2037-04-07T00:00:00', '2037-04-09T00:00:00', 'Feriado', 1 ],
	'an admin closes Lima for two days: 201, counting the cita already inside');
my $closure = $r->{json}{id};
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { title => 'En feriado', ghl_calendar_id => 'cal_456',
		start_time => '2037-04-08T10:00:00-05:00', end_time => '2037-04-08T11:00:00-05:00' });
is($r->{status}, 400, 'the guard refuses a booking in it');
$r = call('GET', '/api/locations/settings/1/closures/', token => $lima);
is_deeply([ $r->{status}, map { $_->{reason} } @{ $r->{json} } ], [ 200, 'Feriado' ], 'GET: staff read their location\'s closures');
is(call('GET', '/api/locations/settings/2/closures/', token => $lima)->{status}, 404, 'not another location\'s');
is(call('DELETE', "/api/locations/settings/1/closures/$closure/", token => $lima)->{status}, 403, 'staff cannot remove one');
is(call('DELETE', "/api/locations/settings/2/closures/$closure/", token => $admin)->{status}, 404,
	'a closure is removed through its own location only');
is(call('DELETE', "/api/locations/settings/1/closures/$closure/", token => $admin)->{status}, 204, 'an admin removes it: 204');
is(call('DELETE', "/api/locations/settings/1/closures/$closure/", token => $admin)->{status}, 404, 'once');

# ---------------------------------------------------------------- flexible validation per request
my %late = (title => 'Tarde', ghl_calendar_id => 'cal_456', start_time => '2037-04-09T22:00:00-05:00',
	end_time => '2037-04-09T23:00:00-05:00');
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { %late, strict_validation => JSON::PP::false });
is_deeply([ $r->{status}, $r->{json} ],
	[ 403, { detail => 'solo los administradores pueden reservar con validación flexible en la sede 1' } ],
	'staff ask for flexible validation where the location does not allow it: 403');
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { %late, strict_validation => 'no' });
ok($r->{status} == 400 && $r->{json}{strict_validation}, 'strict_validation must be a boolean');
$r = call('POST', '/api/ghl/citas/', token => $admin, json => { %late, strict_validation => JSON::PP::false });
is_deeply([ $r->{status}, $r->{json}{validation_flags}, scalar @{ $r->{json}{warnings} // [] } ], [ 201, ['outside_hours'], 1 ],
	'an admin books flexibly: 201, with the broken rule flagged');
like($r->{json}{warnings}[0], qr/^Horario fuera del horario de trabajo/, 'and the warning in words');
ok(!exists $r->{json}{strict_validation}, 'strict_validation is an option of the request, not a field of the cita');
is(call('PATCH', '/api/locations/settings/1/', token => $admin, json => { staff_flexible => JSON::PP::true })->{json}{staff_flexible},
	JSON::PP::true, 'an admin lets staff of the location book flexibly');
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { %late, title => 'Tarde 2', strict_validation => JSON::PP::false });
is_deeply([ $r->{status}, $r->{json}{validation_flags} ], [ 201, [ 'overlap', 'outside_hours' ] ], 'then staff may');
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { %late, title => 'Tarde 3' });
is($r->{status}, 400, 'without asking, the location\'s rule holds');
ok(!exists call('GET', '/api/ghl/citas/?page_size=1', token => $lima)->{json}{warnings}, 'and answers without a booking carry no warnings');

# ---------------------------------------------------------------- CSV export
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { title => "Ana, \"la\" de\nPilates", ghl_calendar_id => 'cal_457',
		start_time => '2037-05-05T10:00:00-05:00', end_time => '2037-05-05T11:00:00-05:00', notes => 'línea 1' });
is($r->{status}, 201, 'a cita whose title needs quoting');
$r = call('GET', '/api/ghl/citas/?format=csv', token => $lima);
is_deeply([ $r->{status}, $r->{headers}{'content-type'}, $r->{headers}{'content-disposition'} ],
	[ 200, 'text/csv; charset=utf-8', 'attachment; filename="citas.csv"' ], 'GET /api/ghl/citas/?format=csv: a CSV file');
is($r->{headers}{'transfer-encoding'}, 'chunked', 'streamed as it is read');
my ($csv_header) = split /\n/, $r->{content};
is($csv_header, 'id,title,contact_id,ghl_calendar_id,start_time,end_time,fecha,status,assigned_user_id,notes,'
	  . 'ghl_location_id,ghl_appointment_id,sync_state,sync_error', 'with a header line');
like($r->{content}, qr/^\d+,"Ana, ""la"" de\nPilates",,cal_457,2037-05-05T10:00:00-05:00,2037-05-05T11:00:00-05:00,2037-05-05,scheduled,,línea 1,loc-lima,,pending,$/m,
	'quoted as RFC 4180 says: commas, quotes and line breaks inside quotes, quotes doubled; times in the location\'s offset');
my $lima_count = $node->safe_psql('postgres', 'SELECT count(*) FROM reflexo.appointments WHERE location_id = 1');
my $csv_rows = () = $r->{content} =~ /^\d+,/mg;
is($csv_rows, $lima_count, 'every cita of the location, not a page');
is(scalar(() = call('GET', '/api/ghl/citas/?format=csv', token => $madrid)->{content} =~ /loc-lima/g), 0,
	'staff of another location export none of them');
$r = call('GET', '/api/ghl/citas/?status=cancelled&desde=2036-01-01', token => $lima, headers => { Accept => 'text/csv' });
my $cancelled = $node->safe_psql('postgres', q{SELECT count(*) FROM reflexo.appointments WHERE location_id = 1 AND status = 'cancelled'});
is_deeply([ $r->{headers}{'content-type'}, scalar(() = $r->{content} =~ /^\d+,/mg) ], [ 'text/csv; charset=utf-8', $cancelled ],
	'Accept: text/csv does the same, with the filters');
is(call('GET', '/api/ghl/citas/?format=csv&desde=ayer', token => $lima)->{status}, 400, 'a bad filter: 400, as JSON');
is(call('GET', '/api/ghl/citas/?format=csv')->{status}, 401, 'and no token, no export');

# big and abandoned: rows stream in chunks; a client that leaves mid-file gives its connection back
$node->safe_psql('postgres', q{
SET session_replication_role = replica;   -- stored as they are: no rule, outbox or history
INSERT INTO reflexo.appointments (location_id, calendar_id, title, notes, starts_at, ends_at)
SELECT 1, 2, 'Exportación ' || g, repeat('x', 200), timestamptz '2030-01-07 08:00-05' + g * interval '1 hour',
       timestamptz '2030-01-07 08:30-05' + g * interval '1 hour'
  FROM generate_series(1, 20000) g});
$r = call('GET', '/api/ghl/citas/?format=csv&desde=2030-01-01', token => $lima);
is(scalar(() = $r->{content} =~ /^\d+,Exportación /mg), 20000, 'an export of 20,000 citas (5 MB) arrives whole');
for (1 .. 12)
{
	my $socket = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$api->{port}") or die;
	print {$socket} "GET /api/ghl/citas/?format=csv&desde=2030-01-01 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $lima\r\n\r\n";
	my $got = '';
	$socket->sysread($got, 4096);
	close $socket;
}
is(call('GET', '/api/ghl/citas/?page_size=1', token => $lima)->{status}, 200,
	'twelve exports left after their first bytes hold no database connection (there are 8)');
$node->safe_psql('postgres', q{DELETE FROM reflexo.appointments WHERE title LIKE 'Exportación %'});

# ---------------------------------------------------------------- HTTP
$r = call('DELETE', "/api/ghl/citas/$cita->{id}/", token => $lima);
is_deeply([ $r->{status}, $r->{json}{detail} ], [ 405, 'Método "DELETE" no permitido.' ], 'a method a path lacks: 405');
is($r->{headers}{allow}, 'OPTIONS, GET, PUT, PATCH', 'with Allow');
is_deeply(call('GET', '/api/nowhere/', token => $lima)->{json}, { detail => 'No encontrado.' }, 'an unknown path: 404');
is(call('GET', "/api/ghl/citas/$cita->{id}", token => $lima)->{status}, 200, 'the trailing slash may be left out');
$r = call('OPTIONS', '/api/ghl/citas/', headers => { Origin => 'http://front.example', 'Access-Control-Request-Method' => 'POST',
		'Access-Control-Request-Headers' => 'authorization, content-type' });
is_deeply([ $r->{status}, $r->{headers}{'access-control-allow-origin'} ], [ 200, 'http://front.example' ],
	'a CORS preflight from an allowed origin');
like($r->{headers}{'access-control-allow-headers'}, qr/authorization.*content-type/, 'allows the token and JSON');
$r = call('GET', '/api/ghl/citas/', token => $lima, headers => { Origin => 'http://127.0.0.1:3000' });
is($r->{headers}{'access-control-allow-origin'}, 'http://127.0.0.1:3000', 'answers carry the allowed origin');
$r = call('GET', '/api/ghl/citas/', token => $lima, headers => { Origin => 'http://evil.example' });
ok(!exists $r->{headers}{'access-control-allow-origin'}, 'and nothing for another origin');
$r = http_request('POST', "$base/api/ghl/citas/", content => '{"title":"' . ('x' x (2 << 20)) . '"}',
	headers => { Authorization => "Bearer $lima", 'Content-Type' => 'application/json' });
is($r->{status}, 413, 'a body over 1 MB: 413');

# a slow sender is cut off at the request deadline, and others are still served
my @slow = map { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$api->{port}") } 1 .. 50;
print {$_} "GET /healthz HTTP/1.1\r\nHost: x\r\n" for @slow;
my $started = time();
my $trickle = $slow[0];
my $cut = 0;
local $SIG{PIPE} = 'IGNORE';	# a write to the cut connection fails instead of killing the test
while (time() - $started < 10)
{
	# cut off: the next header line cannot be written, or the server's end of the stream is read
	if (!defined(syswrite($trickle, "X-Slow: 1\r\n")) || !$trickle->connected)
	{
		$cut = 1;
		last;
	}
	my $rin = '';
	vec($rin, fileno($trickle), 1) = 1;
	if (select(my $rout = $rin, undef, undef, 0.5) && sysread($trickle, my $buf, 100) == 0)
	{
		$cut = 1;
		last;
	}
}
my $held = time() - $started;
ok($cut && $held >= 2 && $held < 6, sprintf('a client trickling header lines is cut off at the request deadline (3 s): %.1f s', $held));
is(call('GET', "/api/ghl/citas/$cita->{id}/", token => $lima)->{status}, 200, 'while 50 slow connections were open');
close $_ for @slow;

# ---------------------------------------------------------------- treatment series and free slots
# calendar cal_457 of Lima; Monday 2038-03-01, Wednesday and Friday at 10:00
$r = call('POST', '/api/ghl/series/', token => $lima, json => { ghl_calendar_id => 'cal_457',
	start_time => '2038-03-01T10:00:00-05:00', rrule => 'FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6', duration_minutes => 45,
	title => 'Rodilla', contact_id => 'c-serie', assigned_user_id => 'usr-serie' });
is($r->{status}, 201, 'POST /api/ghl/series/ books a treatment series: 201');
is_deeply([ map { $_->{start_time} } @{ $r->{json}{citas} } ],
	[ map { "2038-03-${_}T10:00:00-05:00" } qw(01 03 05 08 10 12) ], 'six citas, Monday, Wednesday and Friday at 10:00');
my $series = $r->{json};
ok(!grep({ $_->{series_id} != $series->{id} || $_->{end_time} !~ /T10:45:00/ } @{ $series->{citas} }),
	'each cita carries the series id and lasts 45 minutes');
is(call('GET', "/api/ghl/series/$series->{id}/", token => $lima)->{json}{rrule}, 'FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6',
	'GET /api/ghl/series/{id}/ reads it back');
is(call('GET', "/api/ghl/series/$series->{id}/", token => $madrid)->{status}, 404, 'not from another location');
$r = call('POST', '/api/ghl/series/', token => $lima, json => { ghl_calendar_id => 'cal_457',
	start_time => '2038-03-05T10:15:00-05:00', rrule => 'FREQ=DAILY;COUNT=2' });
is($r->{status}, 409, 'a series that collides with another is refused whole: 409');
is($r->{json}{non_field_errors}[0], '1 de las 2 sesiones de la serie no se pueden reservar', 'saying how much, in Spanish');
is($r->{json}{refused}[0]{start_time}, '2038-03-05T10:15:00-05:00', 'naming the refused session in local time');
like($r->{json}{refused}[0]{alternatives}[0]{start_time}, qr/^2038-03-0\dT\d\d:\d\d:00-05:00$/,
	'with free alternatives for it');
is(call('POST', '/api/ghl/series/', token => $lima, json => { ghl_calendar_id => 'cal_457',
	start_time => '2038-03-05T10:15:00-05:00', rrule => 'FREQ=MONTHLY;COUNT=2' })->{status}, 400,
	'an unsupported rule is a 400');
is(call('POST', "/api/ghl/series/$series->{id}/move/", token => $lima,
	json => { desde => '2038-03-08T10:00:00-05:00', start_time => '2038-03-08T11:00:00-05:00' })->{json}{moved}, 3,
	'move this session and all following');
is(call('POST', "/api/ghl/series/$series->{id}/cancel/", token => $lima,
	json => { desde => '2038-03-10T11:00:00-05:00' })->{json}{cancelled}, 2, 'cancel this and all following');
$r = call('GET', '/api/ghl/free_slots/?ghl_calendar_id=cal_457&desde=2038-03-01T07:00:00-05:00&hasta=2038-03-01T12:00:00-05:00'
	. '&duration_minutes=60', token => $lima);
is_deeply([ map { $_->{start_time} } @{ $r->{json} } ],
	[ map { "2038-03-01T${_}:00-05:00" } qw(07:00 07:30 08:00 08:30 09:00 11:00) ], 'GET /api/ghl/free_slots/ around the series');
$r = call('GET', '/api/ghl/free_slots/?ghl_calendar_id=cal_456&desde=2038-03-01T07:00:00-05:00&hasta=2038-03-01T12:00:00-05:00'
	. '&duration_minutes=60&assigned_user_id=usr-serie', token => $lima);
ok(!grep({ $_->{start_time} =~ /T(09:30|10:00|10:30)/ } @{ $r->{json} }) && @{ $r->{json} } > 0,
	'per therapist: not while they see the series\' patient on another calendar');
is(call('GET', '/api/ghl/free_slots/?desde=2038-03-01T07:00:00-05:00', token => $lima)->{status}, 400,
	'a calendar is required');

# ---------------------------------------------------------------- therapists, time off, calendar settings
$node->safe_psql('postgres', q{UPDATE reflexo.calendars SET buffer_after = '10 minutes', min_notice = '2 days',
	booking_horizon = '3 months', max_per_day = 8 WHERE ghl_calendar_id = 'cal_456'});
my ($fisio) = grep { $_->{id} eq 'cal_456' } @{ call('GET', '/api/locations/settings/1/calendars/', token => $lima)->{json}{calendars} };
is_deeply([ @$fisio{qw(bufferBefore bufferAfter minNotice bookingHorizon maxPerDay)} ],
	[ '00:00:00', '00:10:00', '2 00:00:00', '90 00:00:00', 8 ], 'a calendar\'s GHL booking settings are readable');
$r = call('POST', '/api/locations/settings/1/therapists/', token => $lima, json => { ghl_user_id => 'usr-ana' });
is($r->{status}, 403, 'staff may not set a therapist\'s hours');
$r = call('POST', '/api/locations/settings/1/therapists/', token => $admin,
	json => { ghl_user_id => 'usr-ana', name => 'Ana', open_hours => 'mon-fri 09:00-13:00' });
is_deeply([ $r->{status}, @{ $r->{json} }{qw(name open_hours)} ], [ 200, 'Ana', 'mon-fri 09:00-13:00' ],
	'an admin adds a therapist with her hours');
is(call('POST', '/api/locations/settings/1/therapists/', token => $admin,
	json => { ghl_user_id => 'usr-ana', open_hours => 'lunes' })->{status}, 400, 'hours that do not parse are a 400');
is_deeply([ map { $_->{ghl_user_id} } @{ call('GET', '/api/locations/settings/1/therapists/', token => $lima)->{json} } ],
	[ 'usr-ana' ], 'GET …/therapists/ lists them');
is(call('GET', '/api/locations/settings/1/therapists/', token => $madrid)->{status}, 404, 'not to another location\'s staff');
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { title => 'Tarde', ghl_calendar_id => 'cal_457',
	assigned_user_id => 'usr-ana', start_time => '2038-04-06T15:00:00-05:00', end_time => '2038-04-06T16:00:00-05:00' });
is($r->{json}{non_field_errors}[0], 'Fuera del horario del terapeuta: martes 09:00-13:00',
	'a booking outside the therapist\'s hours is refused, in Spanish');
$r = call('POST', '/api/locations/settings/1/time_off/', token => $admin, json => { ghl_user_id => 'usr-ana',
	closed_from => '2038-04-07T00:00:00-05:00', closed_until => '2038-04-09T00:00:00-05:00', reason => 'Congreso' });
is_deeply([ $r->{status}, @{ $r->{json} }{qw(ghl_user_id closed_from closed_until)} ],
	[ 201, 'usr-ana', '2038-04-07T00:00:00', '2038-04-09T00:00:00' ], 'POST …/time_off/ records a therapist\'s time off');
is(call('POST', '/api/locations/settings/1/time_off/', token => $admin, json => { ghl_user_id => 'usr-nadie',
	closed_from => '2038-04-07T00:00:00-05:00', closed_until => '2038-04-09T00:00:00-05:00', reason => 'x' })->{status},
	400, 'for a therapist of the location only');
$r = call('POST', '/api/ghl/citas/', token => $lima, json => { title => 'Congreso', ghl_calendar_id => 'cal_457',
	assigned_user_id => 'usr-ana', start_time => '2038-04-08T10:00:00-05:00', end_time => '2038-04-08T11:00:00-05:00' });
is($r->{json}{non_field_errors}[0], 'El terapeuta está ausente: Congreso', 'her bookings in it are refused');
ok((grep { ($_->{ghl_user_id} // '') eq 'usr-ana' } @{ call('GET', '/api/locations/settings/1/closures/', token => $lima)->{json} }),
	'and the closures list shows it');

# ---------------------------------------------------------------- revocation
$node->safe_psql('postgres', q{SELECT api.update_user('lima', is_active => false)});
$r = call('GET', '/api/ghl/citas/', token => $lima);
is_deeply([ $r->{status}, $r->{json}{code} ], [ 401, 'token_not_valid' ], 'a deactivated user\'s token stops working at once');
$node->safe_psql('postgres', q{SELECT api.update_user('lima', is_active => true)});
is(call('GET', '/api/ghl/citas/', token => $lima)->{status}, 401, 'and stays revoked: reactivating issues no old token');
is(call('GET', '/api/ghl/citas/', token => login('lima', 'lima-password-1')->{json}{access})->{status}, 200,
	'a new login works');

# ---------------------------------------------------------------- logs
is($api->stop('TERM'), 0, 'reflexo-api stops cleanly on SIGTERM');
ok(sanitizer_clean($api->log_file), 'with no sanitizer report');
my $log = slurp_file($api->log_file);
like($log, qr/"tag":"VALIDATION_ERROR".*"sqlstate":"23P01"/, 'each refused booking is logged as VALIDATION_ERROR');
unlike($log, qr/dolor lumbar|lima-password|\Q$secret\E|\Q$lima\E/, 'no note, password, secret or token in the logs');
my @lines = grep { /"tag":"API_REQUEST"/ } split /\n/, $log;
is(scalar(grep { !eval { decode_json($_); 1 } } @lines), 0, 'every log line is JSON');

$node->stop;
done_testing();

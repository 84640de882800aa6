# ghl-sim's GHL endpoints: status codes, body shapes (checked against GHL's
# OpenAPI schemas), the Version-header and scope rules, and error shapes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $sim = start_sim();
my $loc = 'SimLocation000000001';
my $cal = 'SimCalFisio000000001';
my $token = $sim->token(location_id => $loc)->{access_token};
ok($token, 'the control API issues a token');

sub conforms
{
	my ($schema, $value, $name) = @_;
	my @errors = schema_errors($schema, $value);
	is_deeply(\@errors, [], "$name matches GHL's $schema") or diag(explain($value));
}

# calendars
my $r = $sim->api('GET', "/calendars/?locationId=$loc", token => $token);
is($r->{status}, 200, 'GET /calendars/ is 200');
conforms('CalendarsGetSuccessfulResponseDTO', $r->{json}, 'the calendar list');
is(scalar @{ $r->{json}{calendars} }, 2, 'with both demo calendars');
$r = $sim->api('GET', "/calendars/$cal", token => $token);
conforms('CalendarByIdSuccessfulResponseDTO', $r->{json}, 'one calendar');
is($sim->api('GET', '/calendars/nope', token => $token)->{status}, 404, 'an unknown calendar is 404');
$r = $sim->api('GET', '/calendars/', token => $token);
is($r->{status}, 422, 'the list needs locationId');
conforms('UnprocessableDTO', $r->{json}, 'a 422');
is(ref $r->{json}{message}, 'ARRAY', 'whose message is an array');
is($sim->api('GET', '/calendars/?locationId=OtherLocation', token => $token)->{status}, 403,
	'another location is forbidden');

# create, get, update, list, delete
my %create = (calendarId => $cal, locationId => $loc, contactId => 'contact-1', title => 'Consulta',
	startTime => '2026-03-10T10:00:00-05:00', endTime => '2026-03-10T11:00:00-05:00');
$r = $sim->api('POST', '/calendars/events/appointments', token => $token, json => \%create);
is($r->{status}, 200, 'POST /calendars/events/appointments is 200');
conforms('AppointmentSchemaResponse', $r->{json}, 'the created appointment');
my $id = $r->{json}{id};
like($id, qr/^[A-Za-z0-9]{20}$/, 'its id looks like GHL\'s');
ok(!exists $r->{json}{dateAdded} && !exists $r->{json}{dateUpdated}, 'create answers carry no dates (v2)');
is($r->{json}{startTime}, '2026-03-10T10:00:00-05:00', 'times keep their offset');
is($r->{json}{assignedUserId}, 'SimTherapist00000001', 'an unassigned booking goes to the calendar\'s team member');

$r = $sim->api('POST', '/calendars/events/appointments', token => $token, json => \%create);
is($r->{status}, 400, 'a taken slot is refused');
is($r->{json}{message}, 'The slot you have selected is no longer available.', 'as GHL words it');
$r = $sim->api('POST', '/calendars/events/appointments', token => $token,
	json => { %create, ignoreFreeSlotValidation => JSON::PP::true });
is($r->{status}, 200, 'unless ignoreFreeSlotValidation');
my $double = $r->{json}{id};

$r = $sim->api('POST', '/calendars/events/appointments', token => $token, json => { calendarId => $cal });
is($r->{status}, 422, 'missing required fields are a 422');
is_deeply($r->{json}{message},
	['locationId should not be empty', 'contactId should not be empty', 'startTime should not be empty'],
	'naming each one');
$r = $sim->api('POST', '/calendars/events/appointments', token => $token, content => '{"calendarId":',
	headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'bad JSON is a 400');
conforms('BadRequestDTO', $r->{json}, 'a 400');
$r = $sim->api('POST', '/calendars/events/appointments', token => $token,
	json => { %create, startTime => 'tomorrow' });
is($r->{status}, 422, 'a bad time is a 422');

$r = $sim->api('GET', "/calendars/events/appointments/$id", token => $token);
is($r->{status}, 200, 'GET an appointment is 200');
conforms('GetCalendarEventSuccessfulResponseDTO', $r->{json}, 'the wrapped event');
ok($r->{json}{event}{dateAdded} && $r->{json}{event}{dateUpdated}, 'GET carries dateAdded and dateUpdated');
my $before = $r->{json}{event}{dateUpdated};

$r = $sim->api('PUT', "/calendars/events/appointments/$id", token => $token,
	json => { title => 'Consulta movida', startTime => '2026-03-10T14:00:00-05:00',
		endTime => '2026-03-10T15:00:00-05:00' });
is($r->{status}, 200, 'PUT is 200');
conforms('AppointmentSchemaResponse', $r->{json}, 'the updated appointment');
is($r->{json}{contactId}, 'contact-1', 'a PUT is a partial update');
$r = $sim->api('GET', "/calendars/events/appointments/$id", token => $token);
is($r->{json}{event}{title}, 'Consulta movida', 'the change is kept');
ok($r->{json}{event}{dateUpdated} gt $before, 'and dateUpdated moves forward');
is($sim->api('PUT', '/calendars/events/appointments/unknown', token => $token, json => {})->{status}, 404,
	'updating an unknown appointment is 404');
is($sim->api('PUT', "/calendars/events/appointments/$id", token => $token,
	json => { appointmentStatus => 'maybe' })->{status}, 422, 'an unknown status is a 422');

# the slot index follows changes: the old slot is free again, the new one taken
$r = $sim->api('POST', '/calendars/events/appointments', token => $token,
	json => { %create, contactId => 'contact-2', startTime => '2026-03-10T14:30:00-05:00',
		endTime => '2026-03-10T15:30:00-05:00' });
is($r->{status}, 400, 'the new slot of a moved appointment is taken');
$r = $sim->api('POST', '/calendars/events/appointments', token => $token,
	json => { %create, contactId => 'contact-2', startTime => '2026-03-11T18:00:00-05:00',
		endTime => '2026-03-11T20:00:00-05:00', ignoreFreeSlotValidation => JSON::PP::true });
my $late = $r->{json}{id};
$r = $sim->api('POST', '/calendars/events/appointments', token => $token,
	json => { %create, contactId => 'contact-3', startTime => '2026-03-11T19:30:00-05:00',
		endTime => '2026-03-11T19:45:00-05:00' });
is($r->{status}, 400, 'an appointment across midnight UTC takes its slot on both days');
$r = $sim->api('GET', "/calendars/events?locationId=$loc&calendarId=$cal&startTime=1773275400000&endTime=1773275460000",
	token => $token);
is_deeply([ map { $_->{id} } @{ $r->{json}{events} } ], [$late], 'and is listed in a window of its second day');
is($sim->api('DELETE', "/calendars/events/$late", token => $token, json => {})->{status}, 201, 'deleted');

my $window = 'startTime=1773100000000&endTime=1773300000000';
$r = $sim->api('GET', "/calendars/events?locationId=$loc&calendarId=$cal&$window", token => $token);
is($r->{status}, 200, 'GET /calendars/events is 200');
conforms('GetCalendarEventsSuccessfulResponseDTO', $r->{json}, 'the event list');
is(scalar @{ $r->{json}{events} }, 2, 'with the appointments in the window');
$r = $sim->api('GET', "/calendars/events?locationId=$loc&userId=SimTherapist00000001&$window", token => $token);
is(scalar @{ $r->{json}{events} }, 2, 'by user too');
$r = $sim->api('GET', "/calendars/events?locationId=$loc&$window", token => $token);
is($r->{status}, 400, 'the list needs a calendar, user or group');
is($r->{json}{message}, 'Either of calendarId, userId or groupId is required', 'as GHL says');
is($sim->api('GET', "/calendars/events?locationId=$loc&calendarId=$cal&startTime=2026-03-10", token => $token)->{status},
	400, 'the window is in epoch milliseconds');

$r = $sim->api('DELETE', "/calendars/events/$double", token => $token, json => {});
is($r->{status}, 201, 'DELETE /calendars/events/{id} is 201');
conforms('DeleteEventSuccessfulResponseDto', $r->{json}, 'the deletion');
is_deeply($r->{json}, { succeeded => JSON::PP::true }, 'succeeded');
is($sim->api('GET', "/calendars/events/appointments/$double", token => $token)->{status}, 404,
	'a deleted appointment is gone');
is($sim->api('DELETE', "/calendars/events/$id", token => $token)->{status}, 400,
	'DELETE needs its {} body');

# free slots
$r = $sim->api('GET', "/calendars/$cal/free-slots?startDate=1773118800000&endDate=1773205199000", token => $token);
is($r->{status}, 200, 'free-slots is 200');
conforms('FreeSlotsResponse', $r->{json}, 'the free slots');
my @slots = @{ $r->{json}{'2026-03-10'}{slots} // [] };
is($slots[0], '2026-03-10T08:00:00-05:00', 'the day opens at 08:00 in the location\'s zone');
ok(!grep({ $_ eq '2026-03-10T14:00:00-05:00' } @slots), 'a booked hour is not free');
ok(!grep({ $_ eq '2026-03-10T13:00:00-05:00' } @slots), 'nor is the lunch break');
is($sim->api('GET', "/calendars/$cal/free-slots?startDate=1773118800000&endDate=1776118800000", token => $token)->{status},
	422, 'at most 31 days at once');

# buffers: preBuffer and slotBuffer keep time free around each appointment
$sim->control('POST', 'calendars', { locationId => $loc, id => 'SimCalPausa000000001', name => 'Con pausa',
	isActive => JSON::PP::true, slotDuration => 30, slotDurationUnit => 'mins', appoinmentPerSlot => 1,
	slotBuffer => 30, slotBufferUnit => 'mins', teamMembers => [ { userId => 'SimTherapist00000003' } ],
	openHours => [ { daysOfTheWeek => [ 1, 2, 3, 4, 5 ], hours => [ { openHour => 8, openMinute => 0, closeHour => 12, closeMinute => 0 } ] } ] });
my %pausa = (calendarId => 'SimCalPausa000000001', locationId => $loc, contactId => 'contact-2', title => 'Pausa',
	startTime => '2026-03-10T09:00:00-05:00', endTime => '2026-03-10T09:30:00-05:00');
is($sim->api('POST', '/calendars/events/appointments', token => $token, json => \%pausa)->{status}, 200, 'a booking on a calendar with a slot buffer');
$r = $sim->api('POST', '/calendars/events/appointments', token => $token,
	json => { %pausa, startTime => '2026-03-10T09:45:00-05:00', endTime => '2026-03-10T10:15:00-05:00' });
is($r->{status}, 400, 'the next one inside its buffer is refused');
$r = $sim->api('GET', "/calendars/SimCalPausa000000001/free-slots?startDate=1773118800000&endDate=1773205199000", token => $token);
is_deeply([ grep { /T(08|09|10):/ } @{ $r->{json}{'2026-03-10'}{slots} } ],
	[ map { "2026-03-10T$_:00-05:00" } qw(08:00 10:00 10:30) ], 'and free slots keep the buffers');

# auth rules
$r = $sim->api('GET', "/calendars/?locationId=$loc", token => $token, version => undef);
is($r->{status}, 401, 'no Version header is 401');
is($r->{json}{message}, 'version header was not found.', 'saying so');
is($sim->api('GET', "/calendars/?locationId=$loc", token => $token, version => '1999-01-01')->{json}{message},
	'version header is invalid', 'an unknown Version is invalid');
$r = $sim->api('GET', "/calendars/?locationId=$loc", token => 'made-up');
is($r->{status}, 401, 'an unknown token is 401');
conforms('UnauthorizedDTO', $r->{json}, 'a 401');
is($r->{json}{message}, 'Invalid JWT', 'Invalid JWT');
my $read_only = $sim->token(location_id => $loc, scope => 'calendars.readonly')->{access_token};
$r = $sim->api('POST', '/calendars/events/appointments', token => $read_only, json => \%create);
is($r->{json}{message}, 'The token is not authorized for this scope.', 'a missing scope is 401 with its own message');
is($sim->api('GET', '/nowhere', token => $token)->{status}, 404, 'an unknown path is 404');

# the control API's view
my $state = $sim->control('GET', 'state')->{json};
ok($state->{requests}{$loc} > 20, 'the state counts requests per location');
is(scalar @{ $state->{duplicate_creates} }, 0, 'and reports no duplicate create left');

# robustness
$r = $sim->api('POST', '/calendars/events/appointments', token => $token, content => 'x' x (2 << 20),
	headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 413, 'a body over the limit is 413');
is($sim->control('GET', 'state')->{status}, 200, 'and the simulator carries on');

# --help
my ($out) = run_command([binary('ghl-sim', 'REFLEXO_GHL_SIM'), '--help']);
like($out, qr/--webhook-url URL/, '--help lists the options');

is($sim->stop, 0, 'the simulator stops cleanly on SIGTERM');
ok(sanitizer_clean($sim->log_file), 'with no sanitizer report');
done_testing();

# ghl-sim's injected faults: latency, 5xx, 429 bursts, hangs, dropped
# connections, lost responses and outages, set at start or at run time.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use ReflexoTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $sim = start_sim(options => ['--faults', '{"latency_ms": 200, "path": "/calendars/SimCalFisio000000001"}']);
my $token = $sim->token()->{access_token};
my $calendar = '/calendars/SimCalFisio000000001';
my %create = (calendarId => 'SimCalFisio000000001', locationId => 'SimLocation000000001', contactId => 'c',
	startTime => '2026-03-10T10:00:00-05:00', endTime => '2026-03-10T11:00:00-05:00');

# Replaces all faults with these (the tokens issued stay valid).
sub set_faults
{
	my ($faults) = @_;
	my %none = (latency_ms => 0, error_rate => 0, error_status => 503, burst_429 => 0, timeout_rate => 0,
		drop_rate => 0, lost_response_rate => 0, outage_seconds => 0, path => undef);
	return $sim->control('POST', 'faults', { %none, %$faults });
}

my $start = time();
is($sim->api('GET', $calendar, token => $token)->{status}, 200, 'faults from --faults apply');
ok(time() - $start >= 0.2, 'latency delays the answer');
$start = time();
$sim->api('GET', '/calendars/?locationId=SimLocation000000001', token => $token);
ok(time() - $start < 0.2, 'only on the paths the fault names');

set_faults({ error_rate => 1 });
my $r = $sim->api('GET', $calendar, token => $token);
is($r->{status}, 503, 'error_rate 1 answers every call with a 5xx');
is($r->{json}{statusCode}, 503, 'in GHL\'s error shape');
set_faults({ error_rate => 1, error_status => 500 });
is($sim->api('GET', $calendar, token => $token)->{status}, 500, 'whose status is configurable');

set_faults({ burst_429 => 2 });
is(join(',', map { $sim->api('GET', $calendar, token => $token)->{status} } 1 .. 3), '429,429,200',
	'a 429 burst answers the next N calls with 429');

set_faults({ timeout_rate => 1, hang_ms => 3000 });
$start = time();
$r = $sim->api('GET', $calendar, token => $token, timeout => 1);
is($r->{status}, 599, 'a timeout fault accepts and never answers');
ok(time() - $start >= 0.9, 'the client gives up on its own deadline');

set_faults({ drop_rate => 1 });
$r = $sim->api('GET', $calendar, token => $token);
is($r->{status}, 599, 'a dropped connection gets no answer');

set_faults({ lost_response_rate => 1 });
$r = $sim->api('POST', '/calendars/events/appointments', token => $token, json => \%create);
is($r->{status}, 599, 'a lost response: the client sees the connection close');
is($sim->control('GET', 'state')->{json}{appointment_count}, 1, 'yet the appointment was created');
is($sim->api('GET', $calendar, token => $token)->{status}, 200, 'reads are not affected by lost responses');

set_faults({ outage_seconds => 1 });
is($sim->api('GET', $calendar, token => $token)->{status}, 503, 'an outage answers 503');
is($sim->control('GET', 'state')->{status}, 200, 'but the control API keeps working');
sleep(1.1);
is($sim->api('GET', $calendar, token => $token)->{status}, 200, 'and it ends by itself');

$r = $sim->control('POST', 'faults', { error_rate => 2 });
is($r->{status}, 422, 'an invalid fault is refused');
is($r->{json}{message}[0], 'error_rate must be a number from 0 to 1', 'saying why');
is($sim->control('POST', 'faults', { explode => 1 })->{json}{message}[0], 'unknown fault "explode"',
	'an unknown fault is named');
is($sim->control('GET', 'faults')->{json}{error_rate}, 0, 'and nothing was changed');

is($sim->stop, 0, 'the simulator stops cleanly, hung connection or not');
ok(sanitizer_clean($sim->log_file), 'with no sanitizer report');
done_testing();

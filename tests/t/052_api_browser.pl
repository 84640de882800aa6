# A real browser (headless Chromium, Debian's) runs a page served from
# another origin that logs in and lists citas with fetch(), as the clinic's
# front end does: CORS lets an allowed origin through and stops any other.
# The test reads what the page shows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Daemon;
use HTTP::Status;
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $secret = 'browser-tap-secret-that-is-longer-than-32-chars';
my $node = new_node('api_browser');
$node->safe_psql('postgres', qq{
SELECT reflexo.set_jwt_secret('$secret');
SET reflexo.password_iterations = 1000;
INSERT INTO reflexo.locations (ghl_location_id, name, timezone, open_hours) VALUES ('loc', 'Reflexo Lima', 'America/Lima', '07:00-21:00');
INSERT INTO reflexo.calendars (location_id, ghl_calendar_id, name) SELECT id, 'cal_456', 'Fisioterapia' FROM reflexo.locations;
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
SELECT id, t, s, s + interval '1 hour' FROM reflexo.calendars,
  (VALUES ('Consulta Fisioterapia', timestamptz '2025-12-25 14:00-05'), ('Control de rodilla', timestamptz '2025-12-26 09:00-05')) v(t, s);
SELECT api.create_user('recepcion', 'recepcion-pass-1', 'staff', ARRAY(SELECT id FROM reflexo.locations));
});

# the front end's origin: a tiny static server (HTTP::Daemon)
my $page = PostgreSQL::Test::Utils::slurp_file(repo_root() . '/tests/data/api_browser_page.html');
my $front = HTTP::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1) or die "HTTP::Daemon: $!";
my $front_origin = 'http://127.0.0.1:' . $front->sockport;
my $server = fork() // die;
if ($server == 0)
{
	while (my $connection = $front->accept)
	{
		while (my $request = $connection->get_request)
		{
			my $response = HTTP::Response->new(200, 'OK', [ 'Content-Type' => 'text/html; charset=utf-8' ], $page);
			$connection->send_response($response);
		}
		$connection->close;
	}
	POSIX::_exit(0);
}

sub browse
{
	my ($api) = @_;
	my $profile = PostgreSQL::Test::Utils::tempdir();
	my $url = "$front_origin/?api=" . $api->url . '&user=recepcion&password=recepcion-pass-1';
	my ($dom, $err) = ('', '');
	IPC::Run::run([ 'chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync',
			"--user-data-dir=$profile", '--virtual-time-budget=15000', '--dump-dom', $url ],
		'>', \$dom, '2>', \$err, IPC::Run::timeout(120));
	return $dom;
}

my $api = start_api(node => $node, secret => $secret, env => { CORS_ALLOWED_ORIGINS => $front_origin });
my $dom = browse($api);
like($dom, qr{<p id="status">citas: 2</p>}, 'the page logs in and lists the citas from another origin')
  or diag($dom);
like($dom, qr{<li>Consulta Fisioterapia \@ 2025-12-25T14:00:00-05:00</li>}, 'showing each with its local time');
$api->stop('TERM');

$api = start_api(node => $node, secret => $secret, env => { CORS_ALLOWED_ORIGINS => 'http://front.example' });
$dom = browse($api);
like($dom, qr{<p id="status">error: TypeError}, 'a page from an origin the API does not allow cannot read it');
unlike($dom, qr{<li>}, 'and shows no cita');
is($api->stop('TERM'), 0, 'reflexo-api stops cleanly');
ok(sanitizer_clean($api->log_file), 'with no sanitizer report');

kill 'TERM', $server;
waitpid($server, 0);
$node->stop;
done_testing();

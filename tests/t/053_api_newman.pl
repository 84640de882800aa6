# The Postman collection (docs/reflexo.postman_collection.json), on the
# Django service's paths and variables (base_url, jwt_token,
# ghl_location_id), run by newman against a started stack: ghl-sim,
# reflexo-sync and reflexo-api.  Every request asserts its status and the
# shape of its answer.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $secret = 'newman-tap-secret-that-is-longer-than-32-chars';
my $tools = PostgreSQL::Test::Utils::tempdir();
my ($out, $err) = ('', '');
IPC::Run::run([ 'npm', 'install', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', $tools, 'newman@6' ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(600));
my $newman = "$tools/node_modules/.bin/newman";
ok(-x $newman, 'newman installs from the npm registry') or BAIL_OUT("npm install newman failed: $err");

my $sim = start_sim();
my $node = new_node('api_newman');
load_sim_calendars($node, $sim);
$node->safe_psql('postgres', qq{
SELECT reflexo.set_jwt_secret('$secret');
ALTER DATABASE postgres SET reflexo.password_iterations = 1000;
SET reflexo.password_iterations = 1000;
UPDATE reflexo.calendars SET open_hours = '00:00-24:00';
SELECT api.create_user('admin', 'newman-password-1', 'admin');
});
my $tokens = $sim->token();
my $sync = start_daemon(node => $node, sim => $sim,
	env => { GHL_ACCESS_TOKEN => $tokens->{access_token}, GHL_REFRESH_TOKEN => $tokens->{refresh_token} });
ok(wait_until(sub { http_request('GET', $sync->url . '/readyz')->{status} == 200 }), 'reflexo-sync is ready');
my $api = start_api(node => $node, secret => $secret, env => { REFLEXO_SYNC_URL => $sync->url });

($out, $err) = ('', '');
IPC::Run::run([ $newman, 'run', repo_root() . '/docs/reflexo.postman_collection.json', '--reporters', 'cli',
		'--env-var', 'base_url=' . $api->url, '--env-var', 'username=admin', '--env-var', 'password=newman-password-1',
		'--env-var', 'ghl_location_id=SimLocation000000001', '--color', 'off' ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(300));
my $status = $? >> 8;
is($status, 0, 'newman runs the whole collection without a failure') or diag("$out\n$err");
my ($requests) = $out =~ /│\s+requests\s+│\s+(\d+)\s+│\s+0\s+│/;
my ($assertions) = $out =~ /│\s+assertions\s+│\s+(\d+)\s+│\s+0\s+│/;
cmp_ok($requests // 0, '>=', 28, "every request ran (" . ($requests // 0) . ')');
cmp_ok($assertions // 0, '>=', 60, "and every assertion held (" . ($assertions // 0) . ')');

is($api->stop('TERM'), 0, 'reflexo-api stops cleanly');
ok(sanitizer_clean($api->log_file), 'with no sanitizer report');
$sync->stop('TERM');
$sim->stop;
$node->stop;
done_testing();

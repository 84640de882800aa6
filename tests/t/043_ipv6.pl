# Both daemons listen on an IPv6 address when told to ([::1]:port), and
# answer there (issue 13, item 12: libmicrohttpd needs to be asked for IPv6).
# Skipped where the machine has no IPv6 loopback.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::IP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

plan skip_all => 'no IPv6 loopback here'
  unless IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1);

my $secret = 'ipv6-test-secret-that-is-long-enough-000';
my $sim = start_sim();
my $node = new_node('ipv6');
$node->safe_psql('postgres', "SELECT reflexo.set_jwt_secret('$secret')");

my $sync_port = PostgreSQL::Test::Cluster::get_free_port();
my $daemon = start_daemon(node => $node, sim => $sim, http_port => $sync_port,
	env => { REFLEXO_HTTP_ADDR => "[::1]:$sync_port" });
my $sync_url = "http://[::1]:$sync_port";
ok(wait_until(sub { http_request('GET', "$sync_url/healthz")->{status} == 200 }),
	'reflexo-sync answers on [::1]');
isnt(http_request('GET', "http://127.0.0.1:$sync_port/healthz")->{status}, 200, 'and only there');

my $api = start_api(node => $node, secret => $secret, host => '[::1]');
is(http_request('GET', $api->url . '/healthz')->{status}, 200, 'reflexo-api answers on [::1]');
is(http_request('GET', $api->url . '/api/ghl/citas/')->{status}, 401, 'its API too');

is($api->stop('TERM'), 0, 'reflexo-api stops cleanly');
is($daemon->stop('TERM'), 0, 'and reflexo-sync');
ok(sanitizer_clean($api->log_file) && sanitizer_clean($daemon->log_file), 'no sanitizer report');
$sim->stop;
done_testing();

# reflexo-sync --check-config: one line per check, FAIL lines that say what
# is wrong and how to fix it, and an exit status scripts can use.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Utils;
use ReflexoTest;
use Test::More;

my $sim = start_sim(options => [ '--private-token', 'pit-check-token' ]);
my $node = new_node('check');
my $key = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
my %env = (
	DATABASE_URL => $node->connstr('postgres'),
	GHL_API_BASE => $sim->url,
	GHL_LOCATION_ID => 'SimLocation000000001',
	GHL_ACCESS_TOKEN => 'pit-check-token',
	REFLEXO_TOKEN_KEY => $key,
	GHL_WEBHOOK_PUBLIC_KEY => "$sim->{keys}/ghl-sim-ed25519.pub.pem",
	REFLEXO_HTTP_ADDR => '127.0.0.1:' . PostgreSQL::Test::Cluster::get_free_port());

sub check
{
	my (%override) = @_;
	my %run = (%env, %override);
	local @ENV{ keys %run } = values %run;
	delete local $ENV{$_} for grep { !defined $run{$_} } keys %run;
	my ($stdout, $stderr) = ('', '');
	my $ok = IPC::Run::run([ binary('reflexo-sync', 'REFLEXO_SYNC'), '--check-config' ], '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout . $stderr);
}

my ($status, $out) = check();
is($status, 0, 'a good configuration exits 0') or diag($out);
like($out, qr/^ok +GHL +SimLocation000000001: token works: 2 calendar/m, 'the token is tried against GHL');
like($out, qr/^ok +privileges/m, 'the database rights are checked');
unlike($out, qr/pit-check-token/, 'the token is never printed');

unlike($out, qr/JWT secret/, 'no warning about the JWT secret while no setting holds one');
$node->safe_psql('postgres', q{ALTER DATABASE postgres SET reflexo.jwt_secret = 'old-style-secret-longer-than-32-characters'});
($status, $out) = check();
is($status, 0, 'a JWT secret left in the database settings is no failure of the daemon');
like($out, qr/^warn +JWT secret +a JWT secret is stored as a setting \(database postgres\), where every database role can read it/m,
	'but a warning saying where, and how to move it');
unlike($out, qr/old-style-secret/, 'never what');
$node->safe_psql('postgres', 'ALTER DATABASE postgres RESET reflexo.jwt_secret');

($status, $out) = check(GHL_ACCESS_TOKEN => 'pit-wrong');
is($status, 1, 'a token GHL refuses exits 1');
like($out, qr/^FAIL +GHL +SimLocation000000001: GHL answered 401: Invalid JWT/m, 'with GHL\'s answer');
unlike($out, qr/pit-wrong/, 'and without the token');

($status, $out) = check(DATABASE_URL => $node->connstr('nosuchdb'));
like($out, qr/^FAIL +database +cannot connect \(DATABASE_URL\):.*"nosuchdb" does not exist/m, 'an unreachable database');

$node->safe_psql('postgres', 'CREATE DATABASE bare');
($status, $out) = check(DATABASE_URL => $node->connstr('bare'));
like($out, qr/^FAIL +extension +reflexo is not installed in bare: CREATE EXTENSION reflexo/m, 'a database without the extension');

$node->safe_psql('postgres', 'CREATE ROLE nobody LOGIN');
($status, $out) = check(DATABASE_URL => $node->connstr('postgres') . ' user=nobody');
like($out, qr/^FAIL +privileges +nobody lacks rights .*GRANT reflexo_sync TO nobody/m, 'a login without reflexo_sync');

# a token stored with one key, checked with another
my $daemon_env = { %env };
{
	local @ENV{ keys %$daemon_env } = values %$daemon_env;
	system(binary('reflexo-sync', 'REFLEXO_SYNC'), '--store-token') == 0 or die 'store-token failed';
}
($status, $out) = check();
like($out, qr/^note +source +SimLocation000000001: Private Integration Token, the one in GHL_ACCESS_TOKEN$/m,
	'each location says where its credentials came from');
($status, $out) = check(GHL_ACCESS_TOKEN => 'pit-rotated');
like($out, qr/^warn +source +SimLocation000000001: Private Integration Token stored earlier; GHL_ACCESS_TOKEN differs and is ignored: run reflexo-sync --store-token/m,
	'and says loudly when the environment holds another token, which is not used');
unlike($out, qr/pit-rotated|pit-check-token/, 'never printing either');
($status, $out) = check(GHL_ACCESS_TOKEN => undef);
like($out, qr/^note +source +SimLocation000000001: Private Integration Token stored earlier/m, 'or that it was stored earlier');
($status, $out) = check(REFLEXO_TOKEN_KEY => 'ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=');
like($out, qr/^FAIL +credentials +SimLocation000000001: the stored token does not decrypt: REFLEXO_TOKEN_KEY/m,
	'a token key that does not fit the stored tokens');

($status, $out) = check(REFLEXO_MAX_INFLIGHT => 'lots');
is($status, 2, 'an invalid setting exits 2');
like($out, qr/^FAIL +settings +.*REFLEXO_MAX_INFLIGHT/m, 'naming the setting');
($status, $out) = check(REFLEXO_LEASE_SECONDS => 20, REFLEXO_REQUEST_TIMEOUT_MS => 15000);
is($status, 2, 'a request timeout over half the lease is refused');
like($out, qr/^FAIL +settings +REFLEXO_REQUEST_TIMEOUT_MS \(15000\) must be at most half of REFLEXO_LEASE_SECONDS/m,
	'since a row in flight could be claimed again and sent twice');

# every setting is written once, in its program's table: .env.example,
# deploy/reflexo-api.env.example and the man pages' ENVIRONMENT sections are
# generated from it, and must not have drifted
my ($help) = run_command([ binary('reflexo-sync', 'REFLEXO_SYNC'), '--help' ]);
my @settings = $help =~ /^  ([A-Z][A-Z_]+) /mg;
ok(@settings > 20, 'the help lists the settings');
{
	local $ENV{REFLEXO_SYNC} = binary('reflexo-sync', 'REFLEXO_SYNC');
	local $ENV{REFLEXO_API} = binary('reflexo-api', 'REFLEXO_API');
	my ($stdout, $stderr) = run_command([ repo_root() . '/scripts/settings-docs.sh', '--check' ]);
	is($stdout . $stderr, '', '.env.example, deploy/reflexo-api.env.example and the man pages match the settings tables');
}
my $example = PostgreSQL::Test::Utils::slurp_file(repo_root() . '/.env.example');
is_deeply([ grep { $example !~ /^\Q$_\E=/m } @settings ], [], '.env.example has a line for each setting');
{
	local $ENV{REFLEXO_TOKEN_KEY} = $key;
	my ($stdout) = run_command([ binary('reflexo-sync', 'REFLEXO_SYNC'), '--env-file', repo_root() . '/.env.example',
		'--check-config' ]);
	like($stdout, qr/^ok +settings/m, 'and its values are valid settings');
}

done_testing();

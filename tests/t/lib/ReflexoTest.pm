# ReflexoTest — helpers for the end-to-end TAP tests: start ghl-sim (and
# later reflexo-sync) on free ports, talk HTTP to them, check responses
# against GHL's OpenAPI schemas, and make sure the sanitizer builds exited
# cleanly.
package ReflexoTest;

use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use MIME::Base64 ();
use JSON::PP ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(repo_root binary start_sim new_node load_sim_calendars start_daemon start_api wait_for_value book http_request json_of schema_errors wait_until decode_json encode_json
  sanitizer_clean sign_body);

my $json = JSON::PP->new->canonical->allow_nonref;
sub decode_json { $json->decode($_[0]) }
sub encode_json { $json->encode($_[0]) }

sub repo_root
{
	return File::Spec->rel2abs(dirname(__FILE__) . '/../../..');
}

# The sanitizer build when there is one (make check builds it), else the plain one.
sub binary
{
	my ($name, $env) = @_;
	return $ENV{$env} if $ENV{$env};
	for my $dir ('build-asan', 'build')
	{
		my $path = repo_root() . "/daemon/$dir/$name";
		return $path if -x $path;
	}
	BAIL_OUT("$name is not built; run make first");
}

# Polls $check->() every 50 ms until it returns true or $seconds pass.
# A new log file next to the test's own logs (kept after the run, for failures).
my $logs = 0;

sub log_path
{
	my ($name) = @_;
	my $dir = $PostgreSQL::Test::Utils::log_path // tempdir(CLEANUP => 1);
	(my $test = $0) =~ s{.*/|\.pl$}{}g;
	return sprintf('%s/%s_%s_%d.log', $dir, $test, $name, ++$logs);
}

sub wait_until
{
	my ($check, $seconds) = @_;
	$seconds //= 10;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		my $ok = eval { $check->() };
		return 1 if $ok;
		usleep(50_000);
	}
	return 0;
}

sub http_request
{
	my ($method, $url, %opts) = @_;
	my $http = HTTP::Tiny->new(timeout => $opts{timeout} // 15);
	my %request = (headers => $opts{headers} // {});
	if (defined $opts{json})
	{
		$request{content} = ref $opts{json} ? encode_json($opts{json}) : $opts{json};
		$request{headers}{'Content-Type'} //= 'application/json';
	}
	elsif (defined $opts{content})
	{
		$request{content} = $opts{content};
	}
	elsif (defined $opts{form})
	{
		$request{content} = $http->www_form_urlencode($opts{form});
		$request{headers}{'Content-Type'} = 'application/x-www-form-urlencoded';
	}
	my $response = $http->request($method, $url, \%request);
	$response->{json} = eval { decode_json($response->{content}) };
	return $response;
}

sub json_of { return $_[0]->{json} }

# Checks a value against a schema of tests/data/ghl-openapi-subset.json.
# Returns the list of problems (empty when the value conforms).  GHL's spec
# types some times as "object" with no properties; strings are accepted there.
my $schemas;

sub schema_errors
{
	my ($name, $value) = @_;
	$schemas //= decode_json(PostgreSQL::Test::Utils::slurp_file(
		repo_root() . '/tests/data/ghl-openapi-subset.json'))->{components}{schemas};
	my @errors;
	_check($schemas->{$name} // die("no schema $name"), $value, "\$", \@errors);
	return @errors;
}

sub _check
{
	my ($schema, $value, $path, $errors) = @_;
	if (my $ref = $schema->{'$ref'})
	{
		(my $name = $ref) =~ s{^#/components/schemas/}{};
		return _check($schemas->{$name}, $value, $path, $errors);
	}
	my $type = $schema->{type} // '';
	if ($type eq 'object')
	{
		return if !ref $value && !$schema->{properties} && !$schema->{additionalProperties};
		return push @$errors, "$path: expected an object" unless ref $value eq 'HASH';
		for my $required (@{ $schema->{required} // [] })
		{
			push @$errors, "$path: missing $required" unless exists $value->{$required};
		}
		for my $key (sort keys %$value)
		{
			if (my $property = $schema->{properties}{$key})
			{
				_check($property, $value->{$key}, "$path.$key", $errors);
			}
			elsif (ref $schema->{additionalProperties} eq 'HASH')
			{
				_check($schema->{additionalProperties}, $value->{$key}, "$path.$key", $errors);
			}
		}
	}
	elsif ($type eq 'array')
	{
		return push @$errors, "$path: expected an array" unless ref $value eq 'ARRAY';
		if ($schema->{items})
		{
			_check($schema->{items}, $value->[$_], "$path\[$_]", $errors) for 0 .. $#$value;
		}
	}
	elsif ($type eq 'string')
	{
		return push @$errors, "$path: expected a string" if ref $value || !defined $value;
		push @$errors, "$path: '$value' is not one of @{$schema->{enum}}"
		  if $schema->{enum} && !grep { $_ eq $value } @{ $schema->{enum} };
	}
	elsif ($type eq 'number' || $type eq 'integer')
	{
		push @$errors, "$path: expected a number"
		  unless defined $value && !ref $value && $value =~ /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;
	}
	elsif ($type eq 'boolean')
	{
		push @$errors, "$path: expected a boolean" unless JSON::PP::is_bool($value);
	}
	return;
}

# No AddressSanitizer or UndefinedBehaviorSanitizer report in a log.
sub sanitizer_clean
{
	my ($log) = @_;
	my $text = -e $log ? PostgreSQL::Test::Utils::slurp_file($log) : '';
	return $text !~ /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/;
}

# Starts ghl-sim on a free port; stop it with $sim->stop.
sub start_sim
{
	my (%args) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $dir = tempdir(CLEANUP => 1);
	my $log = log_path('ghl-sim');
	my @command = (binary('ghl-sim', 'REFLEXO_GHL_SIM'), '--listen', "127.0.0.1:$port",
		'--keys-dir', "$dir/keys", '--log-level', 'debug', @{ $args{options} // [] });
	local $ENV{ASAN_OPTIONS} = 'detect_leaks=1:abort_on_error=0';
	my $pid = fork() // die "fork: $!";
	if ($pid == 0)
	{
		open(STDERR, '>>', $log) or die "cannot write $log: $!";
		open(STDOUT, '>>', $log) or die;
		exec(@command) or die "exec @command: $!";
	}
	my $sim = bless { pid => $pid, port => $port, url => "http://127.0.0.1:$port", log => $log,
		keys => "$dir/keys", dir => $dir }, 'ReflexoTest::Sim';
	wait_until(sub { http_request('GET', "$sim->{url}/_sim/state")->{status} == 200 })
	  or BAIL_OUT("ghl-sim did not start: " . PostgreSQL::Test::Utils::slurp_file($log));
	return $sim;
}

# A cluster with reflexo installed and preloaded (for its rule counters).
sub new_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'reflexo'\nfsync = off\nmax_connections = 50\n");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION reflexo');
	return $node;
}

# The simulator's demo location and calendars, as the daemon's calendar sync would load them.
sub load_sim_calendars
{
	my ($node, $sim, $location) = @_;
	$location //= 'SimLocation000000001';
	my $list = $sim->api('GET', "/calendars/?locationId=$location",
		token => $sim->token(location_id => $location)->{access_token})->{content};
	$node->safe_psql('postgres', "SELECT reflexo.ensure_location('$location');"
		  . "SELECT count(*) FROM reflexo.upsert_ghl_calendars('$location', \$json\$$list\$json\$)");
	return;
}

# Books n appointments on the simulator's two calendars, on weekdays from a
# Monday on, ten slots a day at 08-12 and 14-18 (the demo clinic closes
# 13-14), skipping the first `skip` slots; returns nothing.
sub book
{
	my ($node, $n, %opts) = @_;
	my $monday = $opts{monday} // '2026-06-01';
	my $skip = $opts{skip} // 0;
	$node->safe_psql('postgres', qq{
INSERT INTO reflexo.appointments (calendar_id, contact_id, title, starts_at, ends_at)
SELECT c.id, 'contact-' || k, 'Cita ' || k, t AT TIME ZONE 'America/Lima', (t + interval '30 minutes') AT TIME ZONE 'America/Lima'
  FROM generate_series($skip, $skip + $n - 1) k
 CROSS JOIN LATERAL (SELECT k / 2 AS slot, CASE WHEN k % 2 = 0 THEN 'SimCalFisio000000001' ELSE 'SimCalEvaluacion0001' END AS cal) p
 CROSS JOIN LATERAL (SELECT '$monday'::date + (p.slot / 50) * interval '7 days' + (p.slot % 50 / 10) * interval '1 day'
                            + (8 + p.slot % 10 + (p.slot % 10 >= 5)::int) * interval '1 hour' AS t) s
  JOIN reflexo.calendars c ON c.ghl_calendar_id = p.cal});
	return;
}

# Polls a query until it returns the expected value (or the seconds pass); returns the last value.
sub wait_for_value
{
	my ($node, $query, $expected, $seconds) = @_;
	my $value;
	wait_until(sub { $value = $node->safe_psql('postgres', $query); $value eq $expected }, $seconds // 30);
	return $value;
}

my $test_key = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';

# A base64 signature of body with a private key file (PEM), made by the
# openssl command line: Ed25519, or RSA-SHA256 as GHL's x-wh-signature.
sub sign_body
{
	my ($key, $kind, $body) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	open(my $fh, '>:raw', "$dir/body") or die;
	print $fh $body;
	close $fh;
	my @command = $kind eq 'ed25519'
	  ? ('openssl', 'pkeyutl', '-sign', '-inkey', $key, '-rawin', '-in', "$dir/body", '-out', "$dir/sig")
	  : ('openssl', 'dgst', '-sha256', '-sign', $key, '-out', "$dir/sig", "$dir/body");
	my ($out, $err) = run_command(\@command);
	open($fh, '<:raw', "$dir/sig") or die "openssl could not sign: $err";
	local $/;
	my $sig = <$fh>;
	close $fh;
	return MIME::Base64::encode_base64($sig, '');
}

# Starts reflexo-sync against a cluster and the simulator; stop with $daemon->stop.
sub start_daemon
{
	my (%args) = @_;
	my ($node, $sim) = @args{qw(node sim)};
	my $log = $args{log} // log_path('reflexo-sync');
	my $http_port = $args{http_port} // PostgreSQL::Test::Cluster::get_free_port();
	my %env = (
		DATABASE_URL => $node->connstr('postgres'),
		GHL_API_BASE => $sim->url,
		GHL_CLIENT_ID => 'sim-client-id',
		GHL_CLIENT_SECRET => 'sim-client-secret',
		GHL_LOCATION_ID => 'SimLocation000000001',
		REFLEXO_TOKEN_KEY => $test_key,
		GHL_WEBHOOK_PUBLIC_KEY => "$sim->{keys}/ghl-sim-ed25519.pub.pem",
		GHL_WEBHOOK_RSA_PUBLIC_KEY => "$sim->{keys}/ghl-sim-rsa.pub.pem",
		REFLEXO_HTTP_ADDR => "127.0.0.1:$http_port",
		REFLEXO_POLL_MS => 200,
		REFLEXO_LOG_LEVEL => 'debug',
		%{ $args{env} // {} });
	local $ENV{ASAN_OPTIONS} = 'detect_leaks=1:abort_on_error=0';
	my $pid = fork() // die "fork: $!";
	if ($pid == 0)
	{
		$ENV{$_} = $env{$_} for keys %env;
		open(STDERR, '>>', $log) or die "cannot write $log: $!";
		open(STDOUT, '>>', $log) or die;
		exec(binary('reflexo-sync', 'REFLEXO_SYNC'), @{ $args{options} // [] }) or die "exec: $!";
	}
	return bless { pid => $pid, log => $log, url => "http://127.0.0.1:$http_port", port => $http_port },
	  'ReflexoTest::Daemon';
}

# Starts reflexo-api against a cluster, logged in as reflexo_authenticator;
# returns a daemon object (url, log_file, stop) once it answers /healthz.
sub start_api
{
	my (%args) = @_;
	my $node = $args{node};
	my $log = $args{log} // log_path('reflexo-api');
	my $port = $args{port} // PostgreSQL::Test::Cluster::get_free_port();
	my $host = $args{host} // '127.0.0.1';	# or [::1]
	my %env = (
		DATABASE_URL => $node->connstr($args{dbname} // 'postgres') . ' user=reflexo_authenticator',
		JWT_SECRET => $args{secret},
		REFLEXO_API_ADDR => "$host:$port",
		REFLEXO_LOG_LEVEL => 'debug',
		%{ $args{env} // {} });
	local $ENV{ASAN_OPTIONS} = 'detect_leaks=1:abort_on_error=0';
	my $pid = fork() // die "fork: $!";
	if ($pid == 0)
	{
		$ENV{$_} = $env{$_} for keys %env;
		open(STDERR, '>>', $log) or die "cannot write $log: $!";
		open(STDOUT, '>>', $log) or die;
		exec(binary('reflexo-api', 'REFLEXO_API'), @{ $args{options} // [] }) or die "exec: $!";
	}
	my $api = bless { pid => $pid, log => $log, url => "http://$host:$port", port => $port }, 'ReflexoTest::Daemon';
	wait_until(sub { http_request('GET', "$api->{url}/healthz")->{status} == 200 })
	  or BAIL_OUT("reflexo-api did not start: " . PostgreSQL::Test::Utils::slurp_file($log));
	return $api;
}

package ReflexoTest::Daemon;

use POSIX ':sys_wait_h';

sub url { $_[0]{url} }
sub log_file { $_[0]{log} }
sub pid { $_[0]{pid} }

# Sends a signal and waits for the exit; returns the exit status (or the signal + 128).
sub stop
{
	my ($self, $signal, $seconds) = @_;
	return $self->{status} if exists $self->{status};
	kill($signal // 'TERM', $self->{pid});
	return $self->wait_exit($seconds // 60);
}

sub wait_exit
{
	my ($self, $seconds) = @_;
	my $deadline = time() + ($seconds // 60);
	while (waitpid($self->{pid}, WNOHANG) == 0)
	{
		if (time() > $deadline)
		{
			kill 'KILL', $self->{pid};
			waitpid($self->{pid}, 0);
			return $self->{status} = 'timeout';
		}
		Time::HiRes::usleep(50_000);
	}
	return $self->{status} = ($? & 127) ? 128 + ($? & 127) : $? >> 8;
}

sub running
{
	my ($self) = @_;
	return !exists $self->{status} && waitpid($self->{pid}, WNOHANG) == 0;
}

sub DESTROY
{
	my ($self) = @_;
	if (!exists $self->{status} && $self->{pid})
	{
		kill 'KILL', $self->{pid};
		waitpid($self->{pid}, 0);
	}
}

package ReflexoTest::Sim;

use POSIX ':sys_wait_h';

sub url { $_[0]{url} }
sub log_file { $_[0]{log} }

# A GHL API call with a token and the Version header.
sub api
{
	my ($self, $method, $path, %opts) = @_;
	my %headers = (Version => '2021-04-15', %{ $opts{headers} // {} });
	$headers{Authorization} = "Bearer $opts{token}" if defined $opts{token};
	delete $headers{Version} if exists $opts{version} && !defined $opts{version};
	$headers{Version} = $opts{version} if defined $opts{version};
	return ReflexoTest::http_request($method, "$self->{url}$path", %opts, headers => \%headers);
}

sub control
{
	my ($self, $method, $path, $body) = @_;
	return ReflexoTest::http_request($method, "$self->{url}/_sim/$path",
		defined $body ? (json => $body) : ());
}

sub token
{
	my ($self, %args) = @_;
	return $self->control('POST', 'tokens', \%args)->{json};
}

# Stops the simulator with SIGTERM; returns its exit status.
sub stop
{
	my ($self) = @_;
	return $self->{status} if exists $self->{status};
	kill 'TERM', $self->{pid};
	my $waited = 0;
	while (waitpid($self->{pid}, WNOHANG) == 0)
	{
		if (++$waited > 200)
		{
			kill 'KILL', $self->{pid};
			waitpid($self->{pid}, 0);
			last;
		}
		Time::HiRes::usleep(50_000);
	}
	$self->{status} = $? >> 8;
	return $self->{status};
}

sub DESTROY
{
	my ($self) = @_;
	kill 'KILL', $self->{pid} if !exists $self->{status} && $self->{pid};
}

1;

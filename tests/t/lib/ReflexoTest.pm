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
use JSON::PP ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(repo_root binary start_sim http_request json_of schema_errors wait_until decode_json encode_json
  sanitizer_clean);

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
	my $log = "$dir/ghl-sim.log";
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

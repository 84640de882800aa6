# A pg_auto_failover formation on this machine: a monitor and two
# PostgreSQL nodes (three data directories and ports), reflexo preloaded and
# installed, synchronous replication to the standby.  It answers the calls
# the tests make of a PostgreSQL::Test::Cluster (connstr, safe_psql) against
# whichever node is primary, through a libpq multi-host connection string,
# as the daemons use it.
package ReflexoFormation;

use strict;
use warnings;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

sub new
{
	my ($class, $name) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir($name);
	my $self = bless { name => $name, dir => $dir, nodes => [], procs => [] }, $class;
	$self->{env} = {
		XDG_CONFIG_HOME => "$dir/config", XDG_DATA_HOME => "$dir/share", XDG_RUNTIME_DIR => "$dir/run",
		PGHOST => "$dir/run", PG_CONFIG => $ENV{PG_CONFIG} // 'pg_config' };
	mkdir "$dir/run";
	$self->{monitor_port} = PostgreSQL::Test::Cluster::get_free_port();
	$self->_init("$dir/monitor", 'pgautofailover');
	# a dead node is noticed in seconds rather than half a minute
	PostgreSQL::Test::Utils::append_to_file("$dir/monitor/postgresql.conf",
		"pgautofailover.health_check_period = 1000\npgautofailover.health_check_timeout = 1000\n"
		  . "pgautofailover.health_check_max_retries = 1\npgautofailover.health_check_retry_delay = 500\n"
		  . "pgautofailover.node_considered_unhealthy_timeout = 3000\npgautofailover.primary_demote_timeout = 5000\n");
	$self->_spawn('monitor', 'create', 'monitor', '--pgdata', "$dir/monitor", '--pgport', $self->{monitor_port});
	$self->{monitor_uri} = "postgres://autoctl_node\@127.0.0.1:$self->{monitor_port}/pg_auto_failover?sslmode=disable";
	$self->_wait(sub { _psql_ok($self->{monitor_uri}) }, 60, 'the monitor starts');
	for my $n (1, 2)
	{
		my $port = PostgreSQL::Test::Cluster::get_free_port();
		push @{ $self->{nodes} }, { name => "node_$n", pgdata => "$dir/node$n", port => $port };
		# the standby is a copy of the primary (pg_basebackup), settings included
		$self->_init("$dir/node$n", 'reflexo') if $n == 1;
		$self->_spawn("node$n", 'create', 'postgres', '--pgdata', "$dir/node$n", '--pgport', $port,
			'--monitor', $self->{monitor_uri});
		$self->_wait(sub { $self->states eq ($n == 1 ? 'single' : 'primary secondary') }, 120,
			"node $n joins the formation");
		$self->safe_psql('postgres', 'CREATE EXTENSION reflexo') if $n == 1;
	}
	return $self;
}

sub _init
{
	my ($self, $pgdata, $preload) = @_;
	PostgreSQL::Test::Utils::system_or_bail('initdb', '-D', $pgdata, '-A', 'trust', '--no-sync', '-E', 'UTF8',
		'--locale=C.UTF-8');
	PostgreSQL::Test::Utils::append_to_file("$pgdata/postgresql.conf",
		"unix_socket_directories = '$self->{dir}/run'\nshared_preload_libraries = '$preload'\n"
		  . "fsync = off\nmax_connections = 60\n");
	return;
}

# pg_autoctl create ... --run: creates the node, then keeps it (and its
# PostgreSQL) running, as its service would
sub _spawn
{
	my ($self, $name, @args) = @_;
	my $log = "$self->{dir}/$name.log";
	my $pid = fork() // die "fork: $!";
	if ($pid == 0)
	{
		$ENV{$_} = $self->{env}{$_} for keys %{ $self->{env} };
		setpgrp(0, 0);			# a process group of its own: the node's "machine" (kill_primary)
		open(STDOUT, '>>', $log) or die;
		open(STDERR, '>>', $log) or die;
		exec('pg_autoctl', @args, '--hostname', '127.0.0.1', '--listen', '127.0.0.1', '--auth', 'trust', '--no-ssl',
			'--run') or die "exec pg_autoctl: $!";
	}
	push @{ $self->{procs} }, { name => $name, pid => $pid, log => $log };
	return;
}

sub _wait
{
	my ($self, $check, $seconds, $what) = @_;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		return 1 if eval { $check->() };
		usleep(200_000);
	}
	BAIL_OUT("pg_auto_failover: $what did not happen in ${seconds}s; see $self->{dir}/*.log");
}

sub _psql_ok
{
	my ($connstr) = @_;
	my ($out, $err);
	return IPC::Run::run([ 'psql', '-XAtq', '-d', $connstr, '-c', 'SELECT 1' ], '>', \$out, '2>', \$err, IPC::Run::timeout(10))
	  && $out eq "1\n";
}

# The nodes' states as the monitor reports them, in node order: "primary secondary".
sub states
{
	my ($self) = @_;
	my ($out, $err) = ('', '');
	local @ENV{ keys %{ $self->{env} } } = values %{ $self->{env} };
	IPC::Run::run([ 'psql', '-XAtq', '-d', $self->{monitor_uri}, '-c',
		q{SELECT string_agg(reportedstate::text, ' ' ORDER BY nodeid) FROM pgautofailover.node
		   WHERE reportedstate = goalstate} ], '>', \$out, '2>', \$err, IPC::Run::timeout(10)) or return '';
	chomp $out;
	# every node must have reached the state it was assigned
	my ($count) = $self->_monitor_value('SELECT count(*) FROM pgautofailover.node');
	return scalar(split ' ', $out) == $count ? $out : '';
}

sub _monitor_value
{
	my ($self, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-XAtq', '-d', $self->{monitor_uri}, '-c', $sql ], '>', \$out, '2>', \$err,
		IPC::Run::timeout(10)) or return;
	chomp $out;
	return $out;
}

# The node that is primary now (a hash: name, pgdata, port), or undef.
sub primary
{
	my ($self) = @_;
	my $port = $self->_monitor_value(q{SELECT nodeport FROM pgautofailover.node
	                                    WHERE reportedstate IN ('primary', 'wait_primary', 'single')
	                                      AND goalstate = reportedstate});
	return (grep { $port && $_->{port} == $port } @{ $self->{nodes} })[0];
}

# What a client of the formation uses: every node, the primary chosen at connect.
sub connstr
{
	my ($self, $dbname) = @_;
	$dbname //= 'postgres';
	my $ports = join(',', map { $_->{port} } @{ $self->{nodes} });
	my $hosts = join(',', map { '127.0.0.1' } @{ $self->{nodes} });
	return "host=$hosts port=$ports dbname=$dbname target_session_attrs=read-write connect_timeout=2";
}

sub safe_psql
{
	my ($self, $dbname, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $self->connstr($dbname), '-f', '-' ],
		'<', \$sql, '>', \$out, '2>', \$err, IPC::Run::timeout(60))
	  or die "psql failed on the formation: $err\nwhile running: $sql";
	chomp $out;
	return $out;
}

# pg_autoctl perform failover: the standby is promoted, the primary demoted.
sub perform_failover
{
	my ($self) = @_;
	local @ENV{ keys %{ $self->{env} } } = values %{ $self->{env} };
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pg_autoctl', 'perform', 'failover', '--pgdata', "$self->{dir}/monitor", '--wait', '60' ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(90));
	return;
}

# The primary's machine dies: kill -9 of its postmaster and of every
# pg_autoctl process that would restart it, so the monitor promotes the standby.
sub kill_primary
{
	my ($self) = @_;
	my $primary = $self->primary or die 'no primary';
	my ($name) = $primary->{pgdata} =~ m{/(node\d)$};
	my ($proc) = grep { $_->{name} eq $name } @{ $self->{procs} };
	my ($postmaster) = split /\n/, PostgreSQL::Test::Utils::slurp_file("$primary->{pgdata}/postmaster.pid");
	kill 'KILL', -$proc->{pid}, $postmaster;
	waitpid($proc->{pid}, 0);
	$proc->{dead} = 1;
	return $primary;
}

sub wait_states
{
	my ($self, $expected, $seconds) = @_;
	my $deadline = time() + ($seconds // 90);
	while (time() < $deadline)
	{
		return 1 if $self->states =~ $expected;
		usleep(200_000);
	}
	return 0;
}

sub logs { my ($self) = @_; return map { $_->{log} } @{ $self->{procs} } }

sub DESTROY
{
	my ($self) = @_;
	my @running = grep { !$_->{dead} } reverse @{ $self->{procs} };

	# pg_autoctl stops its postgres when asked
	kill 'TERM', $_->{pid} for @running;
	my $deadline = time() + 20;
	for my $proc (@running)
	{
		usleep(100_000) while waitpid($proc->{pid}, 1) == 0 && time() < $deadline;
	}

	# A postmaster still up gets an immediate shutdown, which takes its children with it.
	# Each child is a session leader of its own, so killing a process group misses them,
	# and a bare SIGKILL of the postmaster left pg_auto_failover's health-check worker
	# and the logger running after the test.
	for my $pgdata (map { $_->{pgdata} } @{ $self->{nodes} }, { pgdata => "$self->{dir}/monitor" })
	{
		next unless -f "$pgdata/postmaster.pid";
		my ($pid) = split /\n/, PostgreSQL::Test::Utils::slurp_file("$pgdata/postmaster.pid");
		next unless $pid && kill(0, $pid);
		kill 'QUIT', $pid;
		my $until = time() + 10;
		usleep(100_000) while kill(0, $pid) && time() < $until;
		kill 'KILL', $pid;
	}
	kill 'KILL', -$_->{pid} for @running;

	# Children of a postmaster that died first (pg_auto_failover's health-check worker,
	# the logger) outlive it in its data directory: their working directory gives them away.
	for my $cwd (glob('/proc/[0-9]*/cwd'))
	{
		my $in = readlink($cwd) // next;
		my ($pid) = $cwd =~ m{^/proc/(\d+)/};
		kill 'KILL', $pid if index($in, "$self->{dir}/") == 0 && $pid != $$;
	}
	return;
}
1;

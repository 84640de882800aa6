#!/usr/bin/perl
# Turns the statements reflexo-api sent for one request (read from the
# server log, log_statement = all) into a pgbench script that sends the same
# statements in one pipeline: the ceiling, the same work over libpq without
# HTTP.  Parameters become literals; with "slot", the jsonb parameter of a
# create gets a new hour-long slot per transaction from the sequence
# bench_slot (so that no two overlap), all on calendar cal-ceiling; with
# "spread", the slots go round the location's calendars cal-0 to cal-15,
# from 2060 on (where the requests through HTTP never book).
use strict;
use warnings;

my ($log, $mode) = @ARGV;
$mode //= '';
open(my $fh, '<', $log) or die "$log: $!";
my @statements;
my $pending;
while (my $line = <$fh>)
{
	if ($line =~ /LOG:  execute [^:]+: (.*)$/)
	{
		push @statements, $pending if $pending;
		$pending = { sql => $1, params => {} };
	}
	elsif ($pending && $line =~ /DETAIL:  parameters: (.*)$/)
	{
		my $list = $1;
		while ($list =~ /\$(\d+) = (NULL|'((?:[^']|'')*)')/g)
		{
			$pending->{params}{$1} = $2;
		}
	}
}
push @statements, $pending if $pending;
die "no statements in $log" unless @statements;
print "\\startpipeline\n";
# the last request's statements: prelude, pre-request, the statement
for my $s (@statements[-3 .. -1])
{
	my $sql = $s->{sql};
	if ($mode && $sql =~ /INSERT INTO api\.citas/)
	{
		my ($calendar, $hour, $from) = $mode eq 'spread'
		  ? ("'cal-' || s.n % 16", 's.n / 16', '2060') : ("'cal-ceiling'", 's.n', '2030');
		$s->{params}{1} = "(SELECT pg_catalog.jsonb_build_object('title', 'Bench', 'contact_id', 'bench', "
		  . "'ghl_calendar_id', $calendar, 'start_time', timestamptz '$from-01-01 00:00Z' + $hour * interval '1 hour', "
		  . "'end_time', timestamptz '$from-01-01 01:00Z' + $hour * interval '1 hour')::text "
		  . "FROM (SELECT nextval('bench_slot') AS n) s)";
	}
	$sql =~ s/\$(\d+)/$s->{params}{$1} \/\/ die "no value for \$$1"/ge;
	print "$sql;\n";
}
print "\\endpipeline\n";

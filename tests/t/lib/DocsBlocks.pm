# The code blocks of the docs that say they run: a fenced block right after
# a line "<!-- docs-test: sh -->" or "<!-- docs-test: sql -->".  Each file's
# blocks of one kind run in order in one session, so a later block may use
# what an earlier one made.  What a block says it shows is checked:
#   sql: each "-- ERROR:  message" comment is the error the statement above
#        it raises; no other statement may fail; each "-- → text" comment is
#        text the output shows, in that order (psql's unaligned format).
#   sh:  each "# → text" comment is text its output shows, in that order;
#        the script must exit 0 (it runs under set -euo pipefail).
# The text after an arrow ends at the line's end or at two spaces, after
# which a remark may follow.
package DocsBlocks;

use strict;
use utf8;
use warnings;
use Exporter 'import';
use Encode qw(decode encode);
use IPC::Run;

our @EXPORT = qw(docs_blocks run_sql_blocks run_sh_blocks);

# { sh => [ { code, line } ], sql => [ ... ] } of one file
sub docs_blocks
{
	my ($file) = @_;
	open(my $fh, '<:encoding(UTF-8)', $file) or die "$file: $!";
	my (%blocks, $kind, $current, $line);
	my $fence;
	while (my $text = <$fh>)
	{
		$line++;
		if ($current)
		{
			if ($text =~ /^```\s*$/)
			{
				push @{ $blocks{$kind} }, $current;
				undef $current;
				undef $kind;
			}
			else
			{
				$current->{code} .= $text;
			}
		}
		elsif ($text =~ /^<!-- docs-test: (sh|sql) -->\s*$/)
		{
			$kind = $1;
			$fence = $line + 1;
		}
		elsif ($kind && $text =~ /^```(\w+)\s*$/)
		{
			die "$file:$line: a docs-test block must follow its marker at once" unless $line == $fence;
			$current = { code => '', line => $line + 1 };
		}
		elsif ($kind)
		{
			die "$file:$line: a docs-test marker not followed by a fenced block";
		}
	}
	die "$file: an unclosed block" if $current;
	return \%blocks;
}

# Runs SQL blocks with psql; returns (ok, explanation).
sub run_sql_blocks
{
	my ($conninfo, $file, @blocks) = @_;
	my $script = join('', map { "\\echo '-- $file:$_->{line}'\n$_->{code}" } @blocks);
	my @expected = $script =~ /^-- ERROR:  (.*?)\s*$/mg;
	my ($out, $err) = ('', '');
	my $bytes = encode('UTF-8', $script);
	IPC::Run::run([ 'psql', '-X', '-q', '-A', '-t', '-v', 'VERBOSITY=terse', '-d', $conninfo, '-f', '-' ],
		'<', \$bytes, '>', \$out, '2>', \$err);
	($out, $err) = (decode('UTF-8', $out), decode('UTF-8', $err));
	# terse errors end with the position psql would point at
	my @raised = map { s/ at character \d+$//r } $err =~ /(?:ERROR|FATAL):  (.*?)\s*$/mg;
	my @unexpected = grep { !/^(?:psql:\S+ )?(?:WARNING|NOTICE):/ && !/ERROR:|FATAL:/ } split /\n/, $err;
	return (0, "psql said:\n$err") if @unexpected;
	return (0, "errors expected:\n  " . join("\n  ", @expected) . "\nerrors raised:\n  " . join("\n  ", @raised))
	  unless join("\n", @raised) eq join("\n", @expected);
	return shown($out, $script =~ /-- → (.*?)(?:\s{2,}.*)?$/mg);
}

# (ok, explanation): whether $out shows each text, in order
sub shown
{
	my ($out, @texts) = @_;
	my $rest = $out;
	for my $text (@texts)
	{
		my $at = index($rest, $text);
		return (0, "the output does not show \"$text\" where expected:\n$out") if $at < 0;
		$rest = substr($rest, $at + length $text);
	}
	return (1, '');
}

# Runs sh blocks with bash; $fill maps text of the docs to what it is here
# (e.g. the documented base URL to this run's).  Returns (ok, explanation).
sub run_sh_blocks
{
	my ($fill, $file, @blocks) = @_;
	my $script = "set -euo pipefail\n" . join('', map { $_->{code} } @blocks);
	my @expected = $script =~ /^# → (.*?)(?:\s{2,}.*)?$/mg;
	for my $from (keys %$fill)
	{
		$script =~ s/\Q$from\E/$fill->{$from}/g;
	}
	my ($out, $err) = ('', '');
	my $bytes = encode('UTF-8', $script);
	my $ok = IPC::Run::run([ 'bash', '-c', $bytes ], '>', \$out, '2>', \$err);
	($out, $err) = (decode('UTF-8', $out), decode('UTF-8', $err));
	return (0, "bash exited $?:\n$out$err") unless $ok;
	return shown($out . $err, @expected);
}

1;

using System.CommandLine;
using Bulwark.Cli.Commands;

// Ctrl-C cancels the running command; give it time to stop the bank cleanly before the process
// ends. 90 s: the host alone may take its 30 s shutdown bound, and on a starved machine the run's
// drain (the last calls, the scheme's last advices, the clearing file) and its summary's ledger
// check came on top of it — at 30 s a run under load was ended without its summary. Everything a
// stop cut short is durable and taken up at the next start; the bound only ends a stop that hangs.
var invocation = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(90) };
return await BulwarkCommandLine.Create().Parse(args).InvokeAsync(invocation);

using System.CommandLine;
using Bulwark.Cli.Commands;

// Ctrl-C cancels the running command; give it time to stop the bank cleanly before the process ends.
var invocation = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) };
return await BulwarkCommandLine.Create().Parse(args).InvokeAsync(invocation);

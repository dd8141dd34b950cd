using System.Globalization;
using System.Text;
using Bulwark.Ledger;

// Usage: Bulwark.Ledger.CrashHost <database path | PostgreSQL connection string> [submitters] [transfers per submit]
// Opens the ledger, creates its accounts (idempotently) and submits transfers from several tasks
// as fast as it can, printing one line per acknowledged transfer id (32 hex digits) only after
// the batch holding it is durable. It never stops by itself: the test kills it.

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Bulwark.Ledger.CrashHost <database path> [submitters] [transfers per submit]");
    return 2;
}
var path = args[0];
var submitters = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4;
var perSubmit = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 50;
const int AccountCount = 16;

// A PostgreSQL connection string (it holds '=') instead of a file path runs the same load on PostgreSQL.
await using var engine = path.Contains('=', StringComparison.Ordinal)
    ? new LedgerEngine(new LedgerOptions { DatabasePath = "postgres", PostgresConnectionString = path }, new Bulwark.Ledger.Storage.PostgresLedgerStore(path))
    : LedgerEngine.CreateSqlite(new LedgerOptions { DatabasePath = path });
await engine.StartAsync();
var accounts = Enumerable.Range(1, AccountCount)
    .Select(index => new LedgerAccount { Id = (UInt128)index, Currency = "GBP", Code = 100 })
    .ToArray();
await engine.CreateAccountsAsync(accounts);

var output = Console.Out;
var outputLock = new Lock();
await Task.WhenAll(Enumerable.Range(0, submitters).Select(submitter => Task.Run(async () =>
{
    var random = new Random(Environment.ProcessId ^ (submitter * 7919));
    while (true)
    {
        var transfers = new LedgerTransfer[perSubmit];
        for (var i = 0; i < transfers.Length; i++)
        {
            var debit = random.Next(1, AccountCount + 1);
            var credit = 1 + ((debit + random.Next(0, AccountCount - 1)) % AccountCount);
            transfers[i] = new LedgerTransfer
            {
                Id = new UInt128((ulong)random.NextInt64(1, long.MaxValue), (ulong)random.NextInt64()),
                DebitAccountId = (UInt128)debit,
                CreditAccountId = (UInt128)credit,
                Amount = random.Next(1, 10_000),
                Currency = "GBP",
                Code = 3,
            };
        }
        var results = await engine.SubmitAsync(transfers);
        // Only now, with the batch durable, are the ids acknowledged: one line each.
        var lines = new StringBuilder();
        for (var i = 0; i < results.Count; i++)
        {
            if (results[i].IsOk)
            {
                lines.Append(transfers[i].Id.ToString("x32", CultureInfo.InvariantCulture)).Append('\n');
            }
        }
        lock (outputLock)
        {
            output.Write(lines.ToString());
            output.Flush();
        }
    }
})));
return 0;

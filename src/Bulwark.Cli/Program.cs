using Bulwark.Ledger.Protos;

Console.WriteLine(typeof(Ledger.LedgerClient).Assembly.GetName().Name);

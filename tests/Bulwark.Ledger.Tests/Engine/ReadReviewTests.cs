using System.Collections;
using Bulwark.Ledger.Tests.Support;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Engine;

/// <summary>
/// Review finding: GetAccounts over several ids must answer from ONE committed state. The SQLite
/// store reads each id with its own autocommit statement, so a batch committed between two of them
/// shows a customer's current account from before a pot move and the pot from after it (money seen
/// twice, or not at all). The fix belongs in the store (one read transaction per multi-id read;
/// PostgreSQL: one statement), which another engineer owns today: skipped until it lands.
/// </summary>
public sealed class ReadReviewTests
{
    private const string StoreFixPending =
        "Torn multi-id read in SqliteLedgerStore.GetAccountsAsync/GetTransfersAsync (no read transaction); Storage/ is owned by another engineer today. Remove Skip when the store reads in one transaction.";

    [Fact(Skip = StoreFixPending)]
    public async Task GetAccounts_BatchCommitsBetweenTwoIds_AnswerIsOneCommittedState()
    {
        await using var ledger = await StartAsync();
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2);
        await ledger.AccountAsync(3);
        await ledger.TransferOkAsync(10, Id(3), Id(1), 100);
        // The move from 1 to 2 commits after the store has read account 1 and before it reads 2.
        var ids = new CallbackList([Id(1), Id(2)], beforeIndex: 1,
            () => ledger.TransferOkAsync(11, Id(1), Id(2), 100).GetAwaiter().GetResult());

        var accounts = await ledger.Engine.GetAccountsAsync(ids);

        var held = accounts.Sum(account => account.CreditsPosted - account.DebitsPosted);
        Assert.Equal(100, held);
    }

    /// <summary>A list of ids that runs an action (once) just before its enumerator yields one index.</summary>
    private sealed class CallbackList(UInt128[] ids, int beforeIndex, Action action) : IReadOnlyList<UInt128>
    {
        private bool _ran;

        public int Count => ids.Length;

        public UInt128 this[int index]
        {
            get
            {
                Run(index);
                return ids[index];
            }
        }

        public IEnumerator<UInt128> GetEnumerator()
        {
            for (var index = 0; index < ids.Length; index++)
            {
                Run(index);
                yield return ids[index];
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        private void Run(int index)
        {
            if (index == beforeIndex && !_ran)
            {
                _ran = true;
                action();
            }
        }
    }
}

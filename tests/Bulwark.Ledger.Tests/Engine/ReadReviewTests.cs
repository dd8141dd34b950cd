using Bulwark.Ledger.Tests.Support;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Engine;

/// <summary>
/// Review finding: GetAccounts over several ids must answer from ONE committed state. The SQLite
/// store read each id with its own autocommit statement, so a batch committed between two of them
/// showed a customer's current account from before a pot move and the pot from after it (money seen
/// twice, or not at all). The store now reads all ids in one read transaction (PostgreSQL: one
/// statement); the store contract tests check the same on both databases.
/// </summary>
public sealed class ReadReviewTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GetAccounts_BatchCommitsBetweenTwoIds_AnswerIsOneCommittedState(bool postgres)
    {
        await using var ledger = await StartAsync(postgres: postgres ? PostgresTestServer.NewDatabase("read_review") : null);
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
}

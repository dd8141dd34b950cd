using Bulwark.Accounts.Storage;

namespace Bulwark.Accounts.Tests.Storage;

/// <summary>
/// What every <see cref="IAccountsStore"/> must do, whatever database is behind it. The SQLite
/// store runs it here; a PostgreSQL store derives from it too.
/// </summary>
public abstract class AccountsStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    protected abstract IAccountsStore Store { get; }

    private static string NewId() => Guid.NewGuid().ToString("D");

    private static CustomerRecord Customer(string? email = null)
    {
        email ??= AccountsTestHost.NewEmail();
        return new CustomerRecord(NewId(), "Store Test", email, email.ToLowerInvariant(), 1_000);
    }

    private static CurrentAccountRecord Account(CustomerRecord customer, string? accountNumber = null) =>
        new(NewId(), customer.CustomerId, "Current account", "040075",
            accountNumber ?? Random.Shared.Next(0, 100_000_000).ToString("D8", System.Globalization.CultureInfo.InvariantCulture),
            "GBP", 0, AccountsTestHost.NewKey(), 1_000);

    private async Task<(CustomerRecord Customer, CurrentAccountRecord Account)> CreatedAsync()
    {
        var customer = Customer();
        var account = Account(customer);
        Assert.Equal(CreateCustomerOutcome.Created, await Store.CreateCustomerAsync(customer, null, account, None));
        return (customer, account);
    }

    [Fact]
    public async Task RevokeToken_New_IsRevokedAndOthersAreNot()
    {
        var tokenId = AccountsTestHost.NewKey();

        await Store.RevokeTokenAsync(new RevokedTokenRecord(tokenId, NewId(), 5_000, 1_000), 1_000, 100, None);
        await Store.RevokeTokenAsync(new RevokedTokenRecord(tokenId, NewId(), 6_000, 2_000), 2_000, 100, None);

        Assert.True(await Store.IsTokenRevokedAsync(tokenId, None));
        Assert.False(await Store.IsTokenRevokedAsync(AccountsTestHost.NewKey(), None));
    }

    [Fact]
    public async Task RevokeToken_PurgesExpiredRecordsUpToTheBatchLimit()
    {
        // Far in the past, so that only this test's records are old enough to purge.
        var expired = Enumerable.Range(0, 3).Select(_ => AccountsTestHost.NewKey()).ToList();
        foreach (var tokenId in expired)
        {
            await Store.RevokeTokenAsync(new RevokedTokenRecord(tokenId, NewId(), 10, 1), 1, 0, None);
        }
        var live = AccountsTestHost.NewKey();

        await Store.RevokeTokenAsync(new RevokedTokenRecord(live, NewId(), 100_000, 50), 50, 2, None);

        Assert.True(await Store.IsTokenRevokedAsync(live, None));
        Assert.Equal(1, (await Task.WhenAll(expired.Select(id => Store.IsTokenRevokedAsync(id, None)))).Count(revoked => revoked));
    }

    [Fact]
    public async Task GetOrAddSetting_FirstValueWinsAndIsReturnedAfter()
    {
        var name = "setting-" + NewId();

        Assert.Equal("first", await Store.GetOrAddSettingAsync(name, "first", None));
        Assert.Equal("first", await Store.GetOrAddSettingAsync(name, "second", None));
        Assert.Equal("other", await Store.GetOrAddSettingAsync(name + "-b", "other", None));
    }

    [Fact]
    public async Task CreateCustomer_New_ReadableByIdEmailAndAccountNumber()
    {
        var customer = Customer();
        var account = Account(customer);
        var credential = new CredentialRecord(customer.CustomerId, "pbkdf2-sha256", 1_000, new byte[16], new byte[32], 1_000);

        var outcome = await Store.CreateCustomerAsync(customer, credential, account, None);

        Assert.Equal(CreateCustomerOutcome.Created, outcome);
        Assert.Equal(customer, await Store.GetCustomerAsync(customer.CustomerId, None));
        Assert.Equal(customer, await Store.FindCustomerByEmailAsync(customer.EmailNormalised, None));
        Assert.Equal(account, await Store.GetCurrentAccountAsync(account.AccountId, None));
        Assert.Equal(account, await Store.FindCurrentAccountByNumberAsync(account.SortCode, account.AccountNumber, None));
        Assert.Equal([account], await Store.ListCurrentAccountsAsync(customer.CustomerId, None));
        var stored = await Store.GetCredentialAsync(customer.CustomerId, None);
        Assert.Equal(credential.Iterations, stored!.Iterations);
        Assert.Equal(credential.Hash, stored.Hash);
    }

    [Fact]
    public async Task CreateCustomer_EmailTaken_EmailTakenAndNothingWritten()
    {
        var (first, _) = await CreatedAsync();
        var second = Customer(first.Email);
        var account = Account(second);

        var outcome = await Store.CreateCustomerAsync(second, null, account, None);

        Assert.Equal(CreateCustomerOutcome.EmailTaken, outcome);
        Assert.Null(await Store.GetCustomerAsync(second.CustomerId, None));
        Assert.Null(await Store.GetCurrentAccountAsync(account.AccountId, None));
    }

    [Fact]
    public async Task CreateCustomer_AccountNumberTaken_AccountNumberTakenAndNothingWritten()
    {
        var (_, firstAccount) = await CreatedAsync();
        var second = Customer();

        var outcome = await Store.CreateCustomerAsync(second, null, Account(second, firstAccount.AccountNumber), None);

        Assert.Equal(CreateCustomerOutcome.AccountNumberTaken, outcome);
        Assert.Null(await Store.GetCustomerAsync(second.CustomerId, None));
    }

    [Fact]
    public async Task SetCredential_Existing_Replaced()
    {
        var (customer, _) = await CreatedAsync();
        await Store.SetCredentialAsync(new CredentialRecord(customer.CustomerId, "pbkdf2-sha256", 1_000, new byte[16], new byte[32], 1), None);

        await Store.SetCredentialAsync(new CredentialRecord(customer.CustomerId, "pbkdf2-sha256", 5_000, new byte[16], new byte[32], 2), None);

        Assert.Equal(5_000, (await Store.GetCredentialAsync(customer.CustomerId, None))!.Iterations);
    }

    [Fact]
    public async Task CreatePot_AtLimit_LimitReached()
    {
        var (customer, account) = await CreatedAsync();
        PotRecord Pot() => new(NewId(), customer.CustomerId, account.AccountId, "Pot", "GBP", AccountsTestHost.NewKey(), 0, 1_000);

        Assert.Equal(CreateLimitedOutcome.Created, await Store.CreatePotAsync(Pot(), 2, None));
        Assert.Equal(CreateLimitedOutcome.Created, await Store.CreatePotAsync(Pot(), 2, None));
        Assert.Equal(CreateLimitedOutcome.LimitReached, await Store.CreatePotAsync(Pot(), 2, None));
        Assert.Equal(2, (await Store.ListPotsAsync(customer.CustomerId, None)).Count);
    }

    [Fact]
    public async Task CreateCard_SameToken_AlreadyExists()
    {
        var (customer, account) = await CreatedAsync();
        var token = AccountsTestHost.NewKey() + AccountsTestHost.NewKey();
        CardRecord Card() => new(NewId(), customer.CustomerId, account.AccountId, token, "1234", 12, 2031, false, 1_000);

        Assert.Equal(CreateLimitedOutcome.Created, await Store.CreateCardAsync(Card(), 5, None));
        Assert.Equal(CreateLimitedOutcome.AlreadyExists, await Store.CreateCardAsync(Card(), 5, None));
        Assert.Single(await Store.ListCardsAsync(customer.CustomerId, None));
    }

    [Fact]
    public async Task SetCardFrozen_ExistingAndUnknown_TrueThenFalse()
    {
        var (customer, account) = await CreatedAsync();
        var card = new CardRecord(NewId(), customer.CustomerId, account.AccountId, AccountsTestHost.NewKey(), "1234", 12, 2031, false, 1_000);
        await Store.CreateCardAsync(card, 5, None);

        Assert.True(await Store.SetCardFrozenAsync(card.CardId, true, byStaff: false, None));
        Assert.True((await Store.GetCardAsync(card.CardId, None))!.Frozen);
        Assert.False(await Store.SetCardFrozenAsync(NewId(), true, byStaff: false, None));
    }

    [Fact]
    public async Task RecordMovement_SameKeyTwice_SecondReturnsFirst()
    {
        var key = AccountsTestHost.NewKey();
        var first = new MovementRecord(key, NewId(), "payment", "fingerprint-1", 100, "GBP", 1_000);
        var second = first with { RequestFingerprint = "fingerprint-2", Amount = 200 };

        Assert.Equal(first, await Store.RecordMovementAsync(first, None));
        Assert.Equal(first, await Store.RecordMovementAsync(second, None));
        Assert.Equal(first, await Store.GetMovementAsync(key, None));
    }

    [Fact]
    public async Task ListCustomers_PagesAfterACursor_EveryCustomerOnceInIdOrder()
    {
        var created = new List<CustomerRecord>();
        for (var i = 0; i < 5; i++)
        {
            created.Add((await CreatedAsync()).Customer);
        }
        var expected = created.OrderBy(c => c.CustomerId, StringComparer.Ordinal).ToList();

        var first = await Store.ListCustomersAsync(null, 2, None);
        var second = await Store.ListCustomersAsync(first[^1].CustomerId, 2, None);
        var third = await Store.ListCustomersAsync(second[^1].CustomerId, 2, None);
        var beyond = await Store.ListCustomersAsync(third[^1].CustomerId, 2, None);

        Assert.Equal(expected, [.. first, .. second, .. third]);
        Assert.Single(third);
        Assert.Empty(beyond);
        Assert.Equal(expected, await Store.ListCustomersAsync(null, 10, None));
    }

    [Fact]
    public async Task ListCustomers_SyntheticCustomer_KeptAndFoundButNeverListed()
    {
        var customer = await CreatedAsync();
        var email = $"coherence-{AccountsTestHost.NewKey()}@synthetic.bulwark.invalid";
        var synthetic = new CustomerRecord(NewId(), "Coherence check", email, email, 1_000, Synthetic: true);
        Assert.Equal(CreateCustomerOutcome.Created, await Store.CreateCustomerAsync(synthetic, null, Account(synthetic), None));

        Assert.Equal(synthetic, await Store.GetCustomerAsync(synthetic.CustomerId, None));
        Assert.Equal(synthetic, await Store.FindCustomerByEmailAsync(email, None));
        Assert.False((await Store.GetCustomerAsync(customer.Customer.CustomerId, None))!.Synthetic);
        var listed = await Store.ListCustomersAsync(null, 10, None);
        Assert.Contains(customer.Customer, listed);
        Assert.DoesNotContain(listed, listedCustomer => listedCustomer.Synthetic || listedCustomer.CustomerId == synthetic.CustomerId);
        // A page that starts after the synthetic customer's id is no different.
        Assert.DoesNotContain(await Store.ListCustomersAsync(customer.Customer.CustomerId, 10, None), listedCustomer => listedCustomer.Synthetic);
    }

    [Fact]
    public async Task SearchCustomers_ByNameEmailAccountNumberOrCardLastFour_FindsOnlyThoseMatchingEveryPartGiven()
    {
        // Names unique to this test run: the store may hold other tests' customers.
        var tag = AccountsTestHost.NewKey()[..10];
        var ada = Customer($"ada.{tag}@example.com") with { Name = $"Ada Lovelace {tag}" };
        var adaAccount = Account(ada);
        var alan = Customer($"alan.{tag}@example.com") with { Name = $"Alan Turing {tag}" };
        var alanAccount = Account(alan);
        var wild = Customer($"wild.{tag}@example.com") with { Name = $"Percent 100% Under_score {tag}" };
        var synthetic = Customer($"coherence-{tag}@synthetic.bulwark.invalid") with { Name = $"Ada Synthetic {tag}", Synthetic = true };
        foreach (var (customer, account) in new[] { (ada, adaAccount), (alan, alanAccount), (wild, Account(wild)), (synthetic, Account(synthetic)) })
        {
            Assert.Equal(CreateCustomerOutcome.Created, await Store.CreateCustomerAsync(customer, null, account, None));
        }
        var lastFour = Random.Shared.Next(0, 10_000).ToString("D4", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(CreateLimitedOutcome.Created, await Store.CreateCardAsync(
            new CardRecord(NewId(), alan.CustomerId, alanAccount.AccountId, AccountsTestHost.NewKey(), lastFour, 12, 2030, false, 1_000), 5, None));

        async Task<List<string>> Found(CustomerQuery query) => [.. (await Store.SearchCustomersAsync(query, 10, None)).Select(customer => customer.Name)];

        // Name: any part, any case; ordered by name; the synthetic customer never.
        Assert.Equal([ada.Name, alan.Name, wild.Name], await Found(new CustomerQuery(tag.ToUpperInvariant(), null, null, null, null)));
        Assert.Equal([ada.Name], await Found(new CustomerQuery("lovelace " + tag, null, null, null, null)));
        Assert.Equal([alan.Name], await Found(new CustomerQuery(null, $"ALAN.{tag}", null, null, null)));
        Assert.Equal([ada.Name], await Found(new CustomerQuery(null, null, adaAccount.SortCode, adaAccount.AccountNumber, null)));
        Assert.Contains(alan.Name, await Found(new CustomerQuery(null, null, null, null, lastFour)));
        // Every part given must match.
        Assert.Empty(await Found(new CustomerQuery("Ada Lovelace " + tag, null, null, null, lastFour)));
        Assert.Equal([alan.Name], await Found(new CustomerQuery(tag, null, null, null, lastFour)));
        // LIKE's own characters are text: "%" and "_" match only themselves.
        Assert.Equal([wild.Name], await Found(new CustomerQuery($"100% under_score {tag}", null, null, null, null)));
        Assert.Empty(await Found(new CustomerQuery($"100%_under {tag}", null, null, null, null)));
        // The limit holds.
        Assert.Single(await Store.SearchCustomersAsync(new CustomerQuery(tag, null, null, null, null), 1, None));
    }

    [Fact]
    public async Task ListMovements_PagesAfterACursor_EveryMovementOnceInTransferIdOrder()
    {
        var customer = NewId();
        var recorded = new List<MovementRecord>();
        for (var i = 0; i < 5; i++)
        {
            recorded.Add(await Store.RecordMovementAsync(new MovementRecord(AccountsTestHost.NewKey(), customer, "payment", "fingerprint", 100 + i, "GBP", 1_000 + i), None));
        }
        var expected = recorded.OrderBy(movement => movement.TransferId, StringComparer.Ordinal).ToList();

        var first = await Store.ListMovementsAsync(null, 2, None);
        var second = await Store.ListMovementsAsync(first[^1].TransferId, 2, None);
        var third = await Store.ListMovementsAsync(second[^1].TransferId, 2, None);
        var beyond = await Store.ListMovementsAsync(third[^1].TransferId, 2, None);

        Assert.Equal(expected, [.. first, .. second, .. third]);
        Assert.Single(third);
        Assert.Empty(beyond);
    }

    [Fact]
    public async Task GetOrAddMovementTransferId_SameCustomerAndKeyTwice_FirstIdKeptAndOtherCustomersSeparate()
    {
        var customer = NewId();
        var key = AccountsTestHost.NewKey();
        var firstId = AccountsTestHost.NewKey();

        Assert.Equal(firstId, await Store.GetOrAddMovementTransferIdAsync(customer, key, firstId, 1_000, None));
        Assert.Equal(firstId, await Store.GetOrAddMovementTransferIdAsync(customer, key, AccountsTestHost.NewKey(), 2_000, None));
        Assert.Equal(firstId, await Store.FindMovementTransferIdAsync(customer, key, None));
        var otherId = AccountsTestHost.NewKey();
        Assert.Equal(otherId, await Store.GetOrAddMovementTransferIdAsync(NewId(), key, otherId, 1_000, None));
        Assert.Null(await Store.FindMovementTransferIdAsync(NewId(), key, None));
    }

    [Fact]
    public async Task ClaimRefund_ClaimsOfOneOriginalNeverExceedIt_TheSameApprovalGetsItsClaimBack_AReleaseFreesIt()
    {
        var original = AccountsTestHost.NewKey();
        var first = new RefundClaim(NewId(), original, 600, 1_000);

        var claimed = await Store.ClaimRefundAsync(first, 1_000, None);
        var again = await Store.ClaimRefundAsync(first, 1_000, None);
        var changed = await Store.ClaimRefundAsync(first with { Amount = 700 }, 1_000, None);
        var over = await Store.ClaimRefundAsync(new RefundClaim(NewId(), original, 401, 1_000), 1_000, None);
        var otherOriginal = await Store.ClaimRefundAsync(new RefundClaim(NewId(), AccountsTestHost.NewKey(), 900, 1_000), 1_000, None);
        await Store.ReleaseRefundClaimAsync(first.ApprovalId, None);
        var afterRelease = await Store.ClaimRefundAsync(new RefundClaim(NewId(), original, 1_000, 1_000), 1_000, None);

        Assert.Equal((true, 0L), (claimed.Claimed, claimed.RefundedBefore));
        Assert.Equal((true, first), (again.Claimed, again.Existing));
        Assert.False(changed.Claimed);
        Assert.Equal((false, (RefundClaim?)null, 600L), (over.Claimed, over.Existing, over.RefundedBefore));
        Assert.True(otherOriginal.Claimed);
        Assert.Equal((true, 0L), (afterRelease.Claimed, afterRelease.RefundedBefore));
    }

    [Fact]
    public async Task ClaimRefund_ConcurrentClaimsOfOneOriginal_TogetherNeverMoreThanIt()
    {
        var original = AccountsTestHost.NewKey();

        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ =>
            Task.Run(() => Store.ClaimRefundAsync(new RefundClaim(NewId(), original, 250, 1_000), 1_000, None))));

        Assert.Equal(4, results.Count(r => r.Claimed));
    }

    [Fact]
    public async Task Lookups_Unknown_Null()
    {
        Assert.Null(await Store.GetCustomerAsync(NewId(), None));
        Assert.Null(await Store.FindCustomerByEmailAsync("nobody@example.com", None));
        Assert.Null(await Store.GetCurrentAccountAsync(NewId(), None));
        Assert.Null(await Store.FindCurrentAccountByNumberAsync("000000", "00000000", None));
        Assert.Null(await Store.GetPotAsync(NewId(), None));
        Assert.Null(await Store.GetCardAsync(NewId(), None));
        Assert.Null(await Store.FindCardByTokenAsync("no-such-token", None));
        Assert.Null(await Store.GetMovementAsync(AccountsTestHost.NewKey(), None));
        Assert.Empty(await Store.ListCurrentAccountsAsync(NewId(), None));
        Assert.Empty(await Store.ListCustomersAsync(null, 10, None));
    }
}

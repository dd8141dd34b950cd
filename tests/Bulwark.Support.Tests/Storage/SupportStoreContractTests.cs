using System.Data.Common;
using Bulwark.Support.Storage;

namespace Bulwark.Support.Tests.Storage;

/// <summary>
/// What every <see cref="ISupportStore"/> must do, whatever database is behind it: the SQLite and
/// the PostgreSQL store both run it. <see cref="ExecuteRawAsync"/> is an attacker (or a careless
/// operator) with direct access to the database, going round the store.
/// </summary>
public abstract partial class SupportStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static readonly LockPolicy Policy = new(5, 60, 3_600);

    protected abstract ISupportStore Store { get; }

    /// <summary>Runs SQL on the store's database directly (the audit table is <c>audit_entries</c> in both).</summary>
    protected abstract Task ExecuteRawAsync(string sql);

    private static StaffRecord NewStaff(string? email = null)
    {
        email ??= SupportTestHost.NewEmail();
        var id = Guid.CreateVersion7().ToString("D");
        return new StaffRecord(id, email, email.ToLowerInvariant(), "Store Test", ["admin", "support"], 1_000,
            new StaffPassword("pbkdf2-sha512", 1_000, [1, 2, 3], [4, 5, 6]),
            new TotpSecret(1, new byte[12], new byte[36]));
    }

    private static AuditDraft Draft(string action = "customer.viewed", string actor = "operator", string subject = "c1", long time = 1_000) =>
        new(time, actor, action, subject, "a reason", """{"k":"v"}""", "10.0.0.7");

    private async Task<StaffRecord> CreatedAsync(string? email = null)
    {
        var staff = NewStaff(email);
        var (outcome, entry) = await Store.CreateStaffAsync(staff, Draft("staff.created", subject: staff.StaffId), None);
        Assert.Equal(CreateStaffOutcome.Created, outcome);
        Assert.NotNull(entry);
        return staff;
    }

    [Fact]
    public async Task CreateStaff_ThenGetAndFindByEmail_RoundTripsEveryField()
    {
        var staff = await CreatedAsync();

        var found = await Store.GetStaffAsync(staff.StaffId, None);
        var byEmail = await Store.FindStaffByEmailAsync(staff.EmailNormalised, None);

        Assert.NotNull(found);
        Assert.Equal(staff.StaffId, byEmail?.StaffId);
        Assert.Equal((staff.Email, staff.Name, staff.CreatedAtUnixMs, false, 0L), (found.Email, found.Name, found.CreatedAtUnixMs, found.Disabled, found.TotpLastStep));
        Assert.Equal(staff.Roles, found.Roles);
        Assert.Equal((staff.Password.Algorithm, staff.Password.Iterations), (found.Password.Algorithm, found.Password.Iterations));
        Assert.Equal(staff.Password.Salt, found.Password.Salt);
        Assert.Equal(staff.Password.Hash, found.Password.Hash);
        Assert.Equal(staff.Totp.KeyId, found.Totp.KeyId);
        Assert.Equal(staff.Totp.Ciphertext, found.Totp.Ciphertext);
        Assert.Null(await Store.GetStaffAsync(Guid.NewGuid().ToString("D"), None));
    }

    [Fact]
    public async Task CreateStaff_EmailTakenInOtherCase_RefusedAndNothingAudited()
    {
        var first = await CreatedAsync();
        var before = await Store.ListAuditAsync(new AuditFilter(null, null, null, 0, 0, 0), 1_000, None);

        var (outcome, entry) = await Store.CreateStaffAsync(NewStaff(first.Email.ToUpperInvariant()), Draft("staff.created"), None);

        Assert.Equal(CreateStaffOutcome.EmailTaken, outcome);
        Assert.Null(entry);
        Assert.Equal(before.Count, (await Store.ListAuditAsync(new AuditFilter(null, null, null, 0, 0, 0), 1_000, None)).Count);
    }

    [Fact]
    public async Task ListStaff_PagesInIdOrder()
    {
        var created = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            created.Add((await CreatedAsync()).StaffId);
        }

        var first = await Store.ListStaffAsync(null, 2, None);
        var rest = await Store.ListStaffAsync(first[^1].StaffId, 10, None);

        Assert.Equal(created.Order(StringComparer.Ordinal), first.Concat(rest).Select(s => s.StaffId));
    }

    [Fact]
    public async Task AppendAudit_NumbersAndChainsEntries_AndTheWalkFindsThemIntact()
    {
        var entries = new List<AuditEntryRecord>();
        for (var i = 0; i < 5; i++)
        {
            entries.Add(await Store.AppendAuditAsync(Draft(time: 1_000 + i), None));
        }

        Assert.Equal([1L, 2, 3, 4, 5], entries.Select(e => e.Sequence));
        Assert.Equal(AuditChain.GenesisHash, entries[0].PreviousHash);
        Assert.All(entries.Skip(1).Zip(entries), pair => Assert.Equal(pair.Second.Hash, pair.First.PreviousHash));
        Assert.All(entries, entry => Assert.Equal(AuditChain.Hash(entry), entry.Hash));
        var verification = await AuditChain.VerifyAsync(Store, pageEntries: 2, None);
        Assert.True(verification.Intact, verification.Problem);
        Assert.Equal((5L, 5L, entries[^1].Hash), (verification.EntriesChecked, verification.HeadSequence, verification.HeadHash));
    }

    [Fact]
    public async Task AppendAudit_ConcurrentAppenders_OneChainWithoutGapsOrForks()
    {
        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => Store.AppendAuditAsync(Draft(subject: "c" + i), None))));

        var verification = await AuditChain.VerifyAsync(Store, 1_000, None);

        Assert.True(verification.Intact, verification.Problem);
        Assert.Equal(16, verification.EntriesChecked);
    }

    [Fact]
    public async Task ListAudit_FiltersByActorSubjectActionAndTime_NewestFirst_PagedBySequence()
    {
        await Store.AppendAuditAsync(Draft("customer.viewed", actor: "a1", subject: "c1", time: 1_000), None);
        await Store.AppendAuditAsync(Draft("customer.viewed", actor: "a2", subject: "c1", time: 2_000), None);
        await Store.AppendAuditAsync(Draft("payment.approved", actor: "a1", subject: "c2", time: 3_000), None);
        await Store.AppendAuditAsync(Draft("customer.viewed", actor: "a1", subject: "c1", time: 4_000), None);

        var all = await Store.ListAuditAsync(new AuditFilter(null, null, null, 0, 0, 0), 10, None);
        var c1 = await Store.ListAuditAsync(new AuditFilter(null, "c1", null, 0, 0, 0), 10, None);
        var a1Viewed = await Store.ListAuditAsync(new AuditFilter("a1", null, "customer.viewed", 0, 0, 0), 10, None);
        var window = await Store.ListAuditAsync(new AuditFilter(null, null, null, 2_000, 4_000, 0), 10, None);
        var page = await Store.ListAuditAsync(new AuditFilter(null, "c1", null, 0, 0, 4), 1, None);

        Assert.Equal([4L, 3, 2, 1], all.Select(e => e.Sequence));
        Assert.Equal([4L, 2, 1], c1.Select(e => e.Sequence));
        Assert.Equal([4L, 1], a1Viewed.Select(e => e.Sequence));
        Assert.Equal([3L, 2], window.Select(e => e.Sequence));
        Assert.Equal([2L], page.Select(e => e.Sequence));
    }

    [Fact]
    public async Task DisableStaff_Twice_DisabledOnceWithOneAuditEntry()
    {
        var staff = await CreatedAsync();

        var (first, firstEntry) = await Store.DisableStaffAsync(staff.StaffId, "left the bank", 5_000, Draft("staff.disabled", subject: staff.StaffId), None);
        var (second, secondEntry) = await Store.DisableStaffAsync(staff.StaffId, "again", 6_000, Draft("staff.disabled", subject: staff.StaffId), None);

        Assert.True(first?.Disabled);
        Assert.NotNull(firstEntry);
        Assert.Null(secondEntry);
        Assert.Equal(("left the bank", 5_000L), (second?.DisabledReason, second?.DisabledAtUnixMs ?? 0));
        Assert.Single(await Store.ListAuditAsync(new AuditFilter(null, staff.StaffId, "staff.disabled", 0, 0, 0), 10, None));
        var (missing, none) = await Store.DisableStaffAsync(Guid.NewGuid().ToString("D"), "x", 1, Draft(), None);
        Assert.Null(missing);
        Assert.Null(none);
    }

    [Fact]
    public async Task RecordAuthentication_SameStepTwice_SecondRefused_AndALaterStepAccepted()
    {
        var staff = await CreatedAsync();

        Assert.True(await Store.RecordAuthenticationAsync(staff.StaffId, 100, Draft("staff.authenticated"), None));
        Assert.False(await Store.RecordAuthenticationAsync(staff.StaffId, 100, Draft("staff.authenticated"), None));
        Assert.False(await Store.RecordAuthenticationAsync(staff.StaffId, 99, Draft("staff.authenticated"), None));
        Assert.True(await Store.RecordAuthenticationAsync(staff.StaffId, 101, Draft("staff.authenticated"), None));
        Assert.Equal(101, (await Store.GetStaffAsync(staff.StaffId, None))!.TotpLastStep);
    }

    [Fact]
    public async Task RecordAuthentication_RacingWithTheSameStep_ExactlyOneWins()
    {
        var staff = await CreatedAsync();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Store.RecordAuthenticationAsync(staff.StaffId, 500, Draft("staff.authenticated"), None))));

        Assert.Single(outcomes, won => won);
    }

    [Fact]
    public async Task RecordFailure_FifthLocks_NextLockTwiceAsLong_SuccessClearsIt()
    {
        var staff = await CreatedAsync();
        FailureOutcome? outcome = null;
        for (var i = 0; i < 5; i++)
        {
            outcome = await Store.RecordFailureAsync(staff.StaffId, 10_000, Policy, until => Draft("staff.locked", subject: staff.StaffId), None);
        }
        Assert.Equal(new FailureOutcome(0, 1, 70_000, LockedNow: true), outcome);
        for (var i = 0; i < 5; i++)
        {
            outcome = await Store.RecordFailureAsync(staff.StaffId, 100_000, Policy, until => Draft("staff.locked", subject: staff.StaffId), None);
        }
        Assert.Equal(new FailureOutcome(0, 2, 220_000, LockedNow: true), outcome);
        Assert.Equal(2, (await Store.ListAuditAsync(new AuditFilter(null, staff.StaffId, "staff.locked", 0, 0, 0), 10, None)).Count);

        Assert.True(await Store.RecordAuthenticationAsync(staff.StaffId, 1, Draft("staff.authenticated"), None));
        var cleared = await Store.GetStaffAsync(staff.StaffId, None);
        Assert.Equal((0, 0), (cleared!.Failures, cleared.Locks));
        Assert.Null(await Store.RecordFailureAsync(Guid.NewGuid().ToString("D"), 1, Policy, _ => Draft(), None));
    }

    [Fact]
    public async Task ResetTotp_ReplacesTheSecretForgetsTheStep_AndAudits()
    {
        var staff = await CreatedAsync();
        await Store.RecordAuthenticationAsync(staff.StaffId, 100, Draft("staff.authenticated"), None);
        var secret = new TotpSecret(2, new byte[12], [9, 9, 9]);

        var (reset, entry) = await Store.ResetTotpAsync(staff.StaffId, secret, Draft("staff.totp_reset", subject: staff.StaffId), None);

        Assert.NotNull(entry);
        var stored = await Store.GetStaffAsync(staff.StaffId, None);
        Assert.Equal((2, 0L), (stored!.Totp.KeyId, stored.TotpLastStep));
        Assert.Equal(secret.Ciphertext, stored.Totp.Ciphertext);
        Assert.Equal([staff.StaffId], await Store.ListStaffWithTotpKeyOtherThanAsync(1, 10, None));
        Assert.True(await Store.ReplaceTotpSecretAsync(staff.StaffId, secret, new TotpSecret(1, new byte[12], [7]), None));
        Assert.False(await Store.ReplaceTotpSecretAsync(staff.StaffId, secret, new TotpSecret(1, new byte[12], [8]), None));
        Assert.Empty(await Store.ListStaffWithTotpKeyOtherThanAsync(1, 10, None));
        Assert.NotNull(reset);
    }

    [Fact]
    public async Task AuditTable_UpdateAndDelete_RefusedByTheDatabaseItself()
    {
        await Store.AppendAuditAsync(Draft(), None);

        var update = await Assert.ThrowsAnyAsync<DbException>(() => ExecuteRawAsync("UPDATE audit_entries SET reason = 'nothing happened'"));
        var delete = await Assert.ThrowsAnyAsync<DbException>(() => ExecuteRawAsync("DELETE FROM audit_entries"));

        Assert.Contains("append-only", update.Message, StringComparison.Ordinal);
        Assert.Contains("append-only", delete.Message, StringComparison.Ordinal);
        Assert.True((await AuditChain.VerifyAsync(Store, 100, None)).Intact);
    }

    [Fact]
    public async Task Verify_EntryChangedAfterTheTriggerWasDropped_ReportsThatEntry()
    {
        for (var i = 0; i < 4; i++)
        {
            await Store.AppendAuditAsync(Draft(time: 1_000 + i), None);
        }

        await ExecuteRawAsync(DropUpdateTrigger);
        await ExecuteRawAsync("UPDATE audit_entries SET reason = 'nothing to see' WHERE sequence = 3");
        var verification = await AuditChain.VerifyAsync(Store, 100, None);

        Assert.False(verification.Intact);
        Assert.Equal(3, verification.BrokenSequence);
        Assert.Equal((2L, 2L), (verification.EntriesChecked, verification.HeadSequence));
        Assert.Contains("does not match its hash", verification.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_EntryChangedWithItsHashRecomputed_ReportsTheNextEntry()
    {
        for (var i = 0; i < 4; i++)
        {
            await Store.AppendAuditAsync(Draft(time: 1_000 + i), None);
        }
        var second = (await Store.ReadAuditAsync(1, 1, None)).Single();
        var forged = second with { Reason = "forged" };
        forged = forged with { Hash = AuditChain.Hash(forged) };

        await ExecuteRawAsync(DropUpdateTrigger);
        await ExecuteRawAsync($"UPDATE audit_entries SET reason = 'forged', hash = '{forged.Hash}' WHERE sequence = 2");
        var verification = await AuditChain.VerifyAsync(Store, 100, None);

        Assert.False(verification.Intact);
        Assert.Equal(3, verification.BrokenSequence);
        Assert.Contains("previous hash", verification.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_EntryDeletedAfterTheTriggerWasDropped_ReportsTheGap()
    {
        for (var i = 0; i < 4; i++)
        {
            await Store.AppendAuditAsync(Draft(time: 1_000 + i), None);
        }

        await ExecuteRawAsync(DropDeleteTrigger);
        await ExecuteRawAsync("DELETE FROM audit_entries WHERE sequence = 2");
        var verification = await AuditChain.VerifyAsync(Store, 100, None);

        Assert.False(verification.Intact);
        Assert.Equal(2, verification.BrokenSequence);
        Assert.Contains("entry 2 is missing", verification.Problem, StringComparison.Ordinal);
    }

    /// <summary>SQL that removes the trigger refusing UPDATE (each store names its own).</summary>
    protected abstract string DropUpdateTrigger { get; }

    /// <summary>SQL that removes the trigger refusing DELETE.</summary>
    protected abstract string DropDeleteTrigger { get; }
}

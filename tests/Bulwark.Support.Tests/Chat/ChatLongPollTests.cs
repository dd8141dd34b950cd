using Bulwark.Storage.Sqlite;
using Bulwark.Support.Chat;
using Bulwark.Support.Storage;
using Bulwark.Support.Tests.Grpc;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Bulwark.Support.Tests.Chat;

public sealed class ChatLongPollTests : IDisposable
{
    private readonly string _directory = SupportTestHost.NewDirectory();

    [Fact]
    public async Task ReadAsync_AMessagePostedThroughAnotherInstance_FoundByTheNextReRead()
    {
        Directory.CreateDirectory(_directory);
        var path = Path.Combine(_directory, "support.db");
        // Two instances of the service on one database: each has its own signals, so only the re-read can tell this one.
        var here = new SqliteSupportStore(new SqliteDatabase(path));
        var elsewhere = new SqliteSupportStore(new SqliteDatabase(path));
        var time = new FakeTimeProvider(SupportTestHost.Start);
        var signals = new ConversationSignals();
        var poll = new ChatLongPoll(here, signals, time, TimeSpan.FromSeconds(1));
        var customer = Guid.NewGuid().ToString("D");

        var read = poll.ReadAsync(customer, 0, 10, TimeSpan.FromSeconds(20), CancellationToken.None);
        await ChatTests.Eventually(() => signals.Waiters == 1);
        await elsewhere.PostChatMessageAsync(new ChatMessageDraft(customer, ChatAuthor.Customer, customer, "", "Hello", "c1", 1), null, CancellationToken.None);
        Assert.False(read.IsCompleted);
        for (var i = 0; i < 100 && !read.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.WhenAny(read, Task.Delay(25));
        }
        var messages = await read.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["Hello"], messages!.Select(m => m.Text));
        Assert.InRange(time.GetUtcNow() - SupportTestHost.Start, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task ReadAsync_OneConversationAtItsLimit_RefusesItsNextWaiterOnly()
    {
        Directory.CreateDirectory(_directory);
        var store = new SqliteSupportStore(new SqliteDatabase(Path.Combine(_directory, "support.db")));
        var signals = new ConversationSignals(waitersMax: 100, perConversationMax: 2);
        var poll = new ChatLongPoll(store, signals, new FakeTimeProvider(SupportTestHost.Start), TimeSpan.FromSeconds(1));
        var greedy = Guid.NewGuid().ToString("D");
        using var cancel = new CancellationTokenSource();

        var waiting = new[] { poll.ReadAsync(greedy, 0, 10, TimeSpan.FromSeconds(20), cancel.Token), poll.ReadAsync(greedy, 0, 10, TimeSpan.FromSeconds(20), cancel.Token) };
        await ChatTests.Eventually(() => signals.Waiters == 2);
        var third = await poll.ReadAsync(greedy, 0, 10, TimeSpan.FromSeconds(20), CancellationToken.None);
        var other = poll.ReadAsync(Guid.NewGuid().ToString("D"), 0, 10, TimeSpan.FromSeconds(20), cancel.Token);
        await ChatTests.Eventually(() => signals.Waiters == 3);
        await cancel.CancelAsync();
        foreach (var wait in waiting.Append(other))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        }

        Assert.Null(third);
        Assert.Equal(0, signals.Waiters);
    }

    [Fact]
    public async Task ReadAsync_WokenWithNothingNew_KeepsWaitingInItsPlace_TheLimitCannotRefuseItHalfway()
    {
        Directory.CreateDirectory(_directory);
        var store = new SqliteSupportStore(new SqliteDatabase(Path.Combine(_directory, "support.db")));
        var signals = new ConversationSignals(waitersMax: 1);
        var poll = new ChatLongPoll(store, signals, new FakeTimeProvider(SupportTestHost.Start), TimeSpan.FromSeconds(1));
        var customer = Guid.NewGuid().ToString("D");

        var read = poll.ReadAsync(customer, 0, 10, TimeSpan.FromSeconds(20), CancellationToken.None);
        await ChatTests.Eventually(() => signals.Waiters == 1);
        // Woken with nothing after its sequence (as by a post it had already read): it waits on.
        signals.Notify(customer);
        await Task.Delay(100);
        var refused = await poll.ReadAsync(Guid.NewGuid().ToString("D"), 0, 10, TimeSpan.FromSeconds(20), CancellationToken.None);
        Assert.False(read.IsCompleted);
        await store.PostChatMessageAsync(new ChatMessageDraft(customer, ChatAuthor.Customer, customer, "", "Still there?", "c1", 1), null, CancellationToken.None);
        signals.Notify(customer);
        var messages = await read.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Null(refused);
        Assert.Equal(["Still there?"], messages!.Select(m => m.Text));
        Assert.Equal(0, signals.Waiters);
    }

    [Fact]
    public async Task ReadAsync_TooManyWaiters_AnswersNullAtOnce_AndAWaiterThatLeftFreesItsPlace()
    {
        Directory.CreateDirectory(_directory);
        var store = new SqliteSupportStore(new SqliteDatabase(Path.Combine(_directory, "support.db")));
        var time = new FakeTimeProvider(SupportTestHost.Start);
        var signals = new ConversationSignals(waitersMax: 1);
        var poll = new ChatLongPoll(store, signals, time, TimeSpan.FromSeconds(1));
        using var cancel = new CancellationTokenSource();

        var waiting = poll.ReadAsync(Guid.NewGuid().ToString("D"), 0, 10, TimeSpan.FromSeconds(20), cancel.Token);
        await ChatTests.Eventually(() => signals.Waiters == 1);
        var refused = await poll.ReadAsync(Guid.NewGuid().ToString("D"), 0, 10, TimeSpan.FromSeconds(20), CancellationToken.None);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        Assert.Null(refused);
        Assert.Equal(0, signals.Waiters);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

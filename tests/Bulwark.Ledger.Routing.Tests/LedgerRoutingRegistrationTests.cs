using Bulwark.Ledger.Protos;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Routing.Tests;

public sealed class LedgerRoutingRegistrationTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"bulwark-routing-{Guid.NewGuid():N}");

    [Fact]
    public async Task AddLedgerRouting_ClientOfLedger_ReachesEachCellThroughDiscovery()
    {
        const int count = 256;
        var registry = new InMemoryServiceRegistry();
        var map = PlacementMap.CreateInitial("bank-test", count, ["a", "b"]);
        var cellA = new FakeCell("a", count);
        cellA.Own(map.PartitionsOf("a"));
        var cellB = new FakeCell("b", count);
        cellB.Own(map.PartitionsOf("b"));
        await using var hostA = await StartAsync(registry, cellA, client: false);
        await using var hostB = await StartAsync(registry, cellB, client: true);
        var mapPath = Path.Combine(_directory, "placement.json");
        await new FilePlacementStore(mapPath, TimeProvider.System).CreateIfAbsentAsync(map, CancellationToken.None);
        await using var caller = await StartAsync(registry, null, client: true, mapPath);
        var client = caller.Services.GetRequiredService<Protos.Ledger.LedgerClient>();
        var inA = Ids.In(map.PartitionsOf("a")[0], count);
        var inB = Ids.In(map.PartitionsOf("b")[0], count);

        var response = await client.CreateAccountsAsync(new CreateAccountsRequest
        {
            Accounts = { new Account { Id = inB, Currency = "GBP" }, new Account { Id = inA, Currency = "GBP" } },
        }, deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.All(response.Results, result => Assert.Equal(CreateAccountStatus.Ok, result.Status));
        Assert.Single(cellA.Calls);
        Assert.Single(cellB.Calls);
        Assert.IsType<LedgerCellRouter>(caller.Services.GetRequiredService<IServiceChannelFactory>().GetChannel("ledger"));
    }

    /// <summary>A Bulwark host serving <paramref name="cell"/> as <c>ledger-&lt;name&gt;</c>, or a caller with the placement file and the router.</summary>
    private static async Task<WebApplication> StartAsync(IServiceRegistry registry, FakeCell? cell, bool client, string? mapPath = null)
    {
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Warning }, registry);
        if (cell is not null)
        {
            builder.Services.AddHostedBulwarkService(PlacementMap.ServiceOf(cell.Name));
            builder.Services.AddSingleton(cell);
        }
        if (client && mapPath is not null)
        {
            builder.Services.AddPlacement(provider => new FilePlacementStore(mapPath, TimeProvider.System));
            builder.Services.AddLedgerRouting();
            builder.Services.AddServiceClient("ledger", channel => new Protos.Ledger.LedgerClient(channel));
        }
        var app = builder.Build();
        app.UsePlatform();
        if (cell is not null)
        {
            app.MapGrpcService<FakeCell>();
        }
        await app.StartAsync();
        return app;
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

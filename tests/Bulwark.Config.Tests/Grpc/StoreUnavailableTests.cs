using Bulwark.Config.Protos;
using Bulwark.Config.Tests.Watch;
using Bulwark.Ledger.Tests.Support;
using Grpc.Core;
using Npgsql;

namespace Bulwark.Config.Tests.Grpc;

/// <summary>R14: a store that cannot be reached is UNAVAILABLE — which a consumer rides out on its last good values — never NOT_FOUND.</summary>
public sealed class StoreUnavailableTests
{
    [Fact]
    public async Task StoreGone_ReadsWritesAndWatchesAnswerUnavailable_NeverNotFound()
    {
        var database = PostgresTestServer.NewDatabase("config_gone");
        await using var host = await ConfigTestHost.StartAsync(database);
        await host.Client.PutAsync(new PutRequest { Key = "edge/allow", Value = "[]", Reason = "start" });

        await using (var admin = new NpgsqlConnection(PostgresTestServer.Instance.ConnectionString()))
        {
            await admin.OpenAsync();
            var name = new NpgsqlConnectionStringBuilder(database).Database;
            await using var drop = new NpgsqlCommand($"DROP DATABASE \"{name}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }

        var get = await RpcAssert.FailsAsync(StatusCode.Unavailable, () => host.Client.GetAsync(new GetRequest { Key = "edge/allow" }).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.Unavailable, () => host.Client.GetAsync(new GetRequest { Key = "never/held" }).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.Unavailable, () => host.Client.PutAsync(new PutRequest { Key = "edge/allow", Value = "x", ExpectedVersion = 1, Reason = "r" }).ResponseAsync);
        using var watch = new WatchStream(host.Client, new WatchRequest { FromRevision = 1 });
        Assert.Equal(StatusCode.Unavailable, (await watch.FailureAsync()).StatusCode);
        Assert.Contains("the configuration store is unavailable", get.Status.Detail, StringComparison.Ordinal);
    }
}

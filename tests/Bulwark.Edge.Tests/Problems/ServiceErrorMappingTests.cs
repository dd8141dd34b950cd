using System.Net;
using Bulwark.Edge.Tests.Fakes;
using Grpc.Core;

// The folder mirrors src/Bulwark.Edge/Problems; the namespace cannot, because the Problems assertions class has that name.
namespace Bulwark.Edge.Tests;

/// <summary>What a service says reaches the customer only in the app API's spelling.</summary>
public sealed class ServiceErrorMappingTests
{
    [Fact]
    public async Task CreatePot_ServiceRefusesNamingSnakeCaseFields_ProblemNamesOnlyCamelCase()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Refuse(FakeAccounts.Service, new RpcException(
            new Status(StatusCode.InvalidArgument, "goal_amount must be at most 5000 minor units for this account_id"),
            new Metadata { { "bulwark-field", "goal_amount" } }));

        using var response = await host.SendAsync(HttpMethod.Post, "/api/pots",
            $$"""{"accountId":"{{FakeBank.DemoAccountId}}","name":"Bike","goalAmount":6000}""", token);

        var problem = await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "goalAmount");
        var body = problem.GetRawText();
        Assert.DoesNotContain("goal_amount", body, StringComparison.Ordinal);
        Assert.DoesNotContain("account_id", body, StringComparison.Ordinal);
        Assert.Equal("goalAmount must be at most 5000 minor units for this accountId", problem.GetProperty("detail").GetString());
    }
}

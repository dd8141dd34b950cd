using Bulwark.Accounts.Protos;
using Bulwark.Edge.Authentication;
using Bulwark.Edge.Problems;
using Bulwark.Edge.Services;
using Bulwark.Edge.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Edge.Api;

/// <summary>Maps the app API under <c>/api</c> and turns every failure into a problem document, here and only here.</summary>
internal static class AppApiEndpoints
{
    public const string Prefix = "/api";

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup(Prefix)
            .WithMetadata(EdgeEndpointMetadata.Instance)
            .AddEndpointFilter(ProblemFilterAsync);

        api.MapPost("/login", (HttpContext http, AppApi app) => app.LoginAsync(http)).AllowAnonymous();
        // Unknown API paths get a problem document rather than an empty 404.
        api.MapFallback("{**path}", (HttpContext http) =>
            new ProblemResult(ProblemType.NotFound, $"There is no API endpoint {http.Request.Method} {http.Request.Path}.")).AllowAnonymous();

        var customer = api.MapGroup("").RequireAuthorization(CustomerTokens.PolicyName);
        customer.MapPost("/logout", (HttpContext http, AppApi app) => app.LogoutAsync(http));
        customer.MapGet("/me", (HttpContext http, AppApi app) => app.MeAsync(http));
        customer.MapGet("/accounts", (HttpContext http, AppApi app) => app.AccountsAsync(http));
        customer.MapGet("/accounts/{accountId}/balance", (HttpContext http, AppApi app, string accountId) => app.BalanceAsync(http, accountId));
        customer.MapGet("/accounts/{accountId}/spent-today", (HttpContext http, AppApi app, string accountId) => app.SpentTodayAsync(http, accountId));
        customer.MapGet("/accounts/{accountId}/feed", (HttpContext http, AppApi app, string accountId) => app.FeedAsync(http, accountId));
        customer.MapGet("/pots", (HttpContext http, AppApi app) => app.PotsAsync(http));
        customer.MapPost("/pots", (HttpContext http, AppApi app) => app.CreatePotAsync(http));
        customer.MapPost("/pots/{potId}/deposit", (HttpContext http, AppApi app, string potId) => app.MovePotMoneyAsync(http, potId, MoveDirection.IntoPot));
        customer.MapPost("/pots/{potId}/withdraw", (HttpContext http, AppApi app, string potId) => app.MovePotMoneyAsync(http, potId, MoveDirection.OutOfPot));
        customer.MapPost("/payments", (HttpContext http, AppApi app) => app.PayAsync(http));
        customer.MapGet("/cards", (HttpContext http, AppApi app) => app.CardsAsync(http));
        customer.MapPost("/cards/{cardId}/freeze", (HttpContext http, AppApi app, string cardId) => app.SetCardFrozenAsync(http, cardId, frozen: true));
        customer.MapPost("/cards/{cardId}/unfreeze", (HttpContext http, AppApi app, string cardId) => app.SetCardFrozenAsync(http, cardId, frozen: false));
        customer.MapGet(AppApi.HelpMessagesPath, (HttpContext http, AppApi app) => app.HelpMessagesAsync(http));
        customer.MapPost(AppApi.HelpMessagesPath, (HttpContext http, AppApi app) => app.PostHelpMessageAsync(http));

        // The problem types are URIs relative to the edge; each resolves to a short description.
        endpoints.MapGet(ProblemType.PathPrefix + "{slug}", (string slug) =>
            ProblemType.All.FirstOrDefault(p => p.Slug == slug) is { } problem
                ? Results.Text($"{problem.Title} ({problem.Status})\n\n{problem.Description}\n", "text/plain; charset=utf-8")
                : (IResult)new ProblemResult(ProblemType.NotFound, "There is no such problem type; the list is at docs/guides/app-api.md."))
            .WithMetadata(EdgeEndpointMetadata.Instance);
        // Every 404 the edge answers is a problem document, outside /api too (the web app's paths are exact).
        endpoints.MapFallback("{**path}", (HttpContext http) =>
            new ProblemResult(ProblemType.NotFound, $"There is nothing at {http.Request.Method} {http.Request.Path}."))
            .WithMetadata(EdgeEndpointMetadata.Instance)
            .AllowAnonymous();
    }

    /// <summary>Turns every failure of an endpoint into a problem document (the app API's and the staff API's).</summary>
    internal static async ValueTask<object?> ProblemFilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        // Customer data must not be kept by browsers or proxies.
        http.Response.Headers.CacheControl = "no-store";
        try
        {
            return await next(context);
        }
        catch (ProblemException problem)
        {
            return ProblemResult.From(problem);
        }
        catch (ServiceCallException error)
        {
            return ServiceProblem(http, error);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody reads the answer.
            return Results.Empty;
        }
#pragma warning disable CA1031 // Every unexpected failure must still be answered with a problem document, never a bare 500.
        catch (Exception error)
#pragma warning restore CA1031
        {
            EdgeLog.UnexpectedError(Logger(http), error, http.Request.Method, http.Request.Path);
            return new ProblemResult(ProblemType.Internal, "Something went wrong on our side; it has been logged.");
        }
    }

    private static ProblemResult ServiceProblem(HttpContext http, ServiceCallException error)
    {
        var problem = ServiceErrorMapping.Map(error);
        var statusName = error.StatusCode.ToString();
        var metrics = http.RequestServices.GetRequiredService<EdgeMetrics>();
        metrics.RecordServiceError(error.Service, statusName);
        if (problem.ProblemType == ProblemType.Overloaded)
        {
            metrics.RecordShed("service");
        }
        var logger = Logger(http);
        if (problem.ProblemType.Status >= StatusCodes.Status500InternalServerError)
        {
            EdgeLog.ServiceCallFailed(logger, http.Request.Method, http.Request.Path, error.Service, statusName, error.ServiceMessage);
        }
        else
        {
            EdgeLog.ServiceCallRefused(logger, http.Request.Method, http.Request.Path, error.Service, statusName);
        }
        return problem;
    }

    private static ILogger Logger(HttpContext http) =>
        http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Bulwark.Edge.Api");
}

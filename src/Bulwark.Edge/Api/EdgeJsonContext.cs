using System.Text.Json.Serialization;
using Bulwark.Edge.Problems;

namespace Bulwark.Edge.Api;

/// <summary>Source-generated JSON for every body the app API writes: camelCase, nulls left out.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ProblemDocument))]
[JsonSerializable(typeof(LoginResponse))]
[JsonSerializable(typeof(MeResponse))]
[JsonSerializable(typeof(AccountsResponse))]
[JsonSerializable(typeof(BalanceDto))]
[JsonSerializable(typeof(PotsResponse))]
[JsonSerializable(typeof(PotDto))]
[JsonSerializable(typeof(SpentTodayResponse))]
[JsonSerializable(typeof(FeedResponse))]
[JsonSerializable(typeof(MoneyMovementResponse))]
[JsonSerializable(typeof(CardsResponse))]
[JsonSerializable(typeof(CardDto))]
[JsonSerializable(typeof(HelpMessageDto))]
[JsonSerializable(typeof(HelpMessagesResponse))]
internal sealed partial class EdgeJsonContext : JsonSerializerContext;

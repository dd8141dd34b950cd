using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bulwark.Cli.Hosting;

/// <summary>
/// <c>DATA/bank.json</c>: where a running <c>bulwark run</c> bank answers its internal gRPC
/// contracts, so that operator commands in another process (<c>bulwark customers ...</c>) reach it
/// through the same contracts its own services use. Written once the bank listens and deleted
/// when it stops; a file left by a bank that died names a PID that no longer runs, which readers
/// check. The endpoint is on loopback and the contracts are the same ones every local process
/// could already connect to: the file adds no access, only the port number.
/// </summary>
public sealed record BankEndpointFile(int FormatVersion, int Pid, string InternalGrpc, DateTimeOffset StartedAt)
{
    public const string FileName = "bank.json";

    /// <summary>
    /// The staff edge's operator port (HTTP/2, gRPC): where operator commands send their calls, as a
    /// staff member with a reason, checked and audited by the operator gateway. Null in a file from
    /// before the gateway.
    /// </summary>
    public string? OperatorGrpc { get; init; }

    /// <summary>The staff edge's HTTP port (staff login, the console): where <c>bulwark staff login</c> logs in.</summary>
    public string? StaffHttp { get; init; }

    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, FileName);

    /// <summary>Writes the file atomically (a temporary file, then rename); disposing the result deletes it.</summary>
    public static IDisposable Write(string dataDirectory, IPEndPoint internalGrpc, IPEndPoint? operatorGrpc = null, IPEndPoint? staffHttp = null)
    {
        ArgumentNullException.ThrowIfNull(internalGrpc);
        var path = PathIn(dataDirectory);
        var file = new BankEndpointFile(1, Environment.ProcessId, internalGrpc.ToString(), DateTimeOffset.UtcNow)
        {
            OperatorGrpc = operatorGrpc?.ToString(),
            StaffHttp = staffHttp?.ToString(),
        };
        var temporary = path + $".{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(file, BankEndpointJsonContext.Default.BankEndpointFile));
        File.Move(temporary, path, overwrite: true);
        return new Deletion(path);
    }

    /// <summary>The file in <paramref name="dataDirectory"/>, or null when there is none; <see cref="JsonException"/> when it is not one.</summary>
    public static BankEndpointFile? Read(string dataDirectory)
    {
        var path = PathIn(dataDirectory);
        if (!File.Exists(path))
        {
            return null;
        }
        return JsonSerializer.Deserialize(File.ReadAllText(path), BankEndpointJsonContext.Default.BankEndpointFile)
            ?? throw new JsonException($"{path} is empty.");
    }

    private sealed class Deletion(string path) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
                // Readers check the PID: a file left behind names a process that no longer runs.
            }
        }
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(BankEndpointFile))]
internal sealed partial class BankEndpointJsonContext : JsonSerializerContext;

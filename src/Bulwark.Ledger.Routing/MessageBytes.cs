using System.Buffers;
using Grpc.Core;

namespace Bulwark.Ledger.Routing;

/// <summary>
/// Reads and writes a caller's message through its method's marshallers. Generated gRPC
/// marshallers are contextual only (their plain serializer throws), so the router gives them the
/// contexts a transport would.
/// </summary>
internal static class MessageBytes
{
    public static byte[] Serialize<T>(Marshaller<T> marshaller, T message)
    {
        var context = new WriteContext();
        marshaller.ContextualSerializer(message, context);
        return context.Payload ?? throw new InvalidOperationException("The marshaller did not complete the message.");
    }

    public static T Deserialize<T>(Marshaller<T> marshaller, byte[] payload) =>
        marshaller.ContextualDeserializer(new ReadContext(payload));

    private sealed class WriteContext : SerializationContext
    {
        private ArrayBufferWriter<byte>? _writer;

        public byte[]? Payload { get; private set; }

        public override void Complete(byte[] payload) => Payload = payload;

        public override IBufferWriter<byte> GetBufferWriter() => _writer ??= new ArrayBufferWriter<byte>();

        public override void SetPayloadLength(int payloadLength) => _writer ??= new ArrayBufferWriter<byte>(Math.Max(payloadLength, 1));

        public override void Complete() => Payload = _writer?.WrittenSpan.ToArray() ?? [];
    }

    private sealed class ReadContext(byte[] payload) : DeserializationContext
    {
        public override int PayloadLength => payload.Length;

        public override byte[] PayloadAsNewBuffer() => (byte[])payload.Clone();

        public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(payload);
    }
}

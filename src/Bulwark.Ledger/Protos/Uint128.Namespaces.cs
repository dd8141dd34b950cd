namespace Bulwark.Ledger.Protos;

// This file is compiled into the ledger and linked into every client of ledger.proto, beside the
// generated Uint128 (public in the ledger, internal in a client): one definition of the id layout.
// No accessibility modifier on purpose: each part takes the generated class's.
#pragma warning disable IDE0040
partial class Uint128
#pragma warning restore IDE0040
{
    /// <summary>A transfer id's namespace is its top byte: bits 120 to 127.</summary>
    public const int NamespaceShift = 120;

    /// <summary>The bits below the namespace byte, which the id's maker chooses.</summary>
    public static readonly UInt128 NamespaceFreeBits = (UInt128.One << NamespaceShift) - 1;

    /// <summary>The namespace an id carries (its top byte). Ids made before namespaces carry an arbitrary byte.</summary>
    public static IdNamespace NamespaceOf(UInt128 id) => (IdNamespace)(int)(byte)(id >> NamespaceShift);

    /// <summary>
    /// <paramref name="value"/> with its top byte replaced by <paramref name="idNamespace"/>: never
    /// zero, and never equal to an id of another namespace, whatever <paramref name="value"/> is.
    /// </summary>
    public static UInt128 InNamespace(IdNamespace idNamespace, UInt128 value)
    {
        if (idNamespace is IdNamespace.Unspecified || (int)idNamespace is < 0 or > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(idNamespace), idNamespace, "A ledger id namespace is 1 to 255.");
        }
        return ((UInt128)(byte)idNamespace << NamespaceShift) | (value & NamespaceFreeBits);
    }
}

using System.Collections;

namespace Bulwark.Ledger.Tests.Support;

/// <summary>
/// A list of ids that runs an action (once) just before it yields one index, by enumerator or
/// indexer: a test commits a batch in the middle of a store's multi-id read with it.
/// </summary>
public sealed class CallbackList(UInt128[] ids, int beforeIndex, Action action) : IReadOnlyList<UInt128>
{
    private bool _ran;

    public int Count => ids.Length;

    public UInt128 this[int index]
    {
        get
        {
            Run(index);
            return ids[index];
        }
    }

    public IEnumerator<UInt128> GetEnumerator()
    {
        for (var index = 0; index < ids.Length; index++)
        {
            Run(index);
            yield return ids[index];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private void Run(int index)
    {
        if (index == beforeIndex && !_ran)
        {
            _ran = true;
            action();
        }
    }
}

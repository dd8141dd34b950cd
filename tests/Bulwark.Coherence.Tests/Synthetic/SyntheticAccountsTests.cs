using Bulwark.Coherence.Synthetic;
using Bulwark.Ledger;

namespace Bulwark.Coherence.Tests.Synthetic;

public sealed class SyntheticAccountsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(256)]
    public void ProbeAndFunding_EveryPartition_AreInThatPartitionByTheLedgersOwnHash(int partitionCount)
    {
        for (var partition = 0; partition < partitionCount; partition++)
        {
            var probe = SyntheticAccounts.Probe(partition, partitionCount);
            var funding = SyntheticAccounts.Funding(partition, partitionCount);

            Assert.Equal(partition, LedgerPartitioner.PartitionOf(probe, partitionCount));
            Assert.Equal(partition, LedgerPartitioner.PartitionOf(funding, partitionCount));
            Assert.NotEqual(probe, funding);
            Assert.True(SyntheticAccounts.IsSynthetic(probe));
            Assert.True(SyntheticAccounts.IsSynthetic(funding));
        }
    }

    [Fact]
    public void IsSynthetic_TheDemoBanksOwnAccounts_AreNot()
    {
        // DemoSeeder's funding and card settlement accounts: "Bulwark" and 0x00.
        Assert.False(SyntheticAccounts.IsSynthetic(new UInt128(0x42_75_6C_77_61_72_6B_00UL, 1)));
        Assert.False(SyntheticAccounts.IsSynthetic(new UInt128(0x42_75_6C_77_61_72_6B_00UL, 2)));
    }
}

using Iced.Intel;
using Vtx.Apic;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Smp;

/// <summary>
/// Inter-processor interrupts between the processors of one machine (SDM Vol. 3A, 11.6): delivery
/// modes, destination modes and shorthands, checked against a destination model written here from
/// 11.6.2; and IPIs exchanged by guests (ping-pong, NMI to another processor).
/// </summary>
public class SmpIpiTests
{
    private const uint Fixed = 0, Lowest = 1u << 8, Smi = 2u << 8, Nmi = 4u << 8, Init = 5u << 8, StartUp = 6u << 8;
    private const uint Logical = 1u << 11, Assert_ = 1u << 14, Level = 1u << 15;
    private const uint Self = 1u << 18, AllIncl = 2u << 18, AllExcl = 3u << 18;

    /// <summary>The SDM's destination rules (11.6.2.1-11.6.2.2, xAPIC): physical = APIC ID or FFh; logical flat = LDR bit AND; cluster = cluster equal and a member bit.</summary>
    private static bool ModelIsDestination(uint dest, bool logical, uint id, uint ldr, bool cluster)
    {
        if (!logical) return dest == 0xFF || dest == id;
        if (dest == 0xFF) return true;
        if (!cluster) return (dest & ldr) != 0;
        return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xF) != 0;
    }

    private static Machine Machine4(out Cpu[] cpus)
    {
        var m = new Machine(new MachineOptions { Cpus = 4, MemoryMiB = 2 });
        cpus = m.Cpus.ToArray();
        foreach (var c in cpus) c.Apic.Write(0xF0, 0x1FF); // software-enabled
        return m;
    }

    private static bool InIrr(Cpu c, int v) => (c.Apic.Read(0x200 + (uint)(v >> 5) * 0x10) & (1u << (v & 31))) != 0;

    public static TheoryData<uint, bool, bool> Destinations()
    {
        var d = new TheoryData<uint, bool, bool>();
        foreach (uint dest in new uint[] { 0, 1, 2, 3, 4, 0xFF, 0x03, 0x06, 0x0F, 0x12, 0x21, 0x1F, 0xF0 })
            foreach (bool logical in new[] { false, true })
                foreach (bool cluster in new[] { false, true })
                    d.Add(dest, logical, cluster);
        return d;
    }

    [Theory]
    [MemberData(nameof(Destinations))]
    public void AFixedIpiReachesExactlyTheProcessorsTheDestinationNames(uint dest, bool logical, bool cluster)
    {
        Machine4(out var cpus);
        var ldrs = new uint[4];
        for (int i = 0; i < 4; i++)
        {
            // Flat: one bit per processor; cluster: clusters 1 and 2, two members each.
            ldrs[i] = cluster ? (uint)((1 + i / 2) << 4 | 1 << (i % 2)) : 1u << i;
            cpus[i].Apic.Write(0xE0, cluster ? 0x0FFF_FFFFu : 0xFFFF_FFFFu);
            cpus[i].Apic.Write(0xD0, ldrs[i] << 24);
        }
        cpus[1].Apic.Write(0x310, dest << 24);
        cpus[1].Apic.Write(0x300, (logical ? Logical : 0) | 0x61);
        for (int i = 0; i < 4; i++)
            Assert.Equal(ModelIsDestination(dest, logical, (uint)i, ldrs[i], cluster), InIrr(cpus[i], 0x61));
        Assert.Equal(0u, cpus[1].Apic.Read(0x300) & (1u << 12)); // delivery status idle once sent
    }

    [Theory]
    [InlineData(Self, new[] { 2 })]
    [InlineData(AllIncl, new[] { 0, 1, 2, 3 })]
    [InlineData(AllExcl, new[] { 0, 1, 3 })]
    public void ShorthandsIgnoreTheDestinationField(uint shorthand, int[] expected)
    {
        Machine4(out var cpus);
        cpus[2].Apic.Write(0x310, 1u << 24); // names processor 1: ignored with a shorthand
        cpus[2].Apic.Write(0x300, shorthand | 0x70);
        for (int i = 0; i < 4; i++) Assert.Equal(expected.Contains(i), InIrr(cpus[i], 0x70));
    }

    [Fact]
    public void X2ApicIcrMsrDeliversToThe32BitIdAndLogicalClusters()
    {
        Machine4(out var cpus);
        foreach (var c in cpus) Assert.True(c.Apic.TryWriteBaseMsr(LocalApic.DefaultBase | LocalApic.BaseEnable | LocalApic.BaseExtd | (c.IsBootstrapProcessor ? LocalApic.BaseBsp : 0)));
        Assert.True(cpus[0].Apic.TryWriteMsr(0x830, (3UL << 32) | 0x51));
        Assert.Equal(new[] { false, false, false, true }, cpus.Select(c => InIrr(c, 0x51)).ToArray());
        Assert.True(cpus[0].Apic.TryWriteMsr(0x830, (0x103UL << 32) | 0x52)); // 32-bit compare: no APIC 103h
        Assert.DoesNotContain(cpus, c => InIrr(c, 0x52));
        // x2APIC logical: cluster = ID[19:4] in bits 31:16, member bit 1 << ID[3:0] (SDM 11.12.10.2).
        Assert.True(cpus[3].Apic.TryWriteMsr(0x830, (0b0110UL << 32) | Logical | 0x53));
        Assert.Equal(new[] { false, true, true, false }, cpus.Select(c => InIrr(c, 0x53)).ToArray());
        Assert.True(cpus[3].Apic.TryWriteMsr(0x830, (0xFFFF_FFFFUL << 32) | 0x54)); // broadcast
        Assert.All(cpus, c => Assert.True(InIrr(c, 0x54)));
    }

    [Fact]
    public void LowestPriorityGoesToTheLowestProcessorPriorityThenTheLowestApicId()
    {
        Machine4(out var cpus);
        int[] tprs = [0x50, 0x20, 0x40, 0x20];
        for (int i = 0; i < 4; i++) cpus[i].Apic.Tpr = (byte)tprs[i];
        cpus[0].Apic.Write(0x310, 0xFFu << 24);
        cpus[0].Apic.Write(0x300, Lowest | 0x81);
        // Processors 1 and 3 tie at PPR 20h: the lower APIC ID (1) takes it, and only it.
        Assert.Equal(new[] { false, true, false, false }, cpus.Select(c => InIrr(c, 0x81)).ToArray());
        cpus[1].Apic.Tpr = 0x60;
        cpus[0].Apic.Write(0x300, Lowest | 0x82);
        Assert.Equal(new[] { false, false, false, true }, cpus.Select(c => InIrr(c, 0x82)).ToArray());
    }

    [Fact]
    public void NmiInitAndStartUpReachOnlyTheirDestinations()
    {
        var m = Machine4(out var cpus);
        foreach (var c in cpus.Skip(1)) c.RaiseSipi(0x10); // all running
        cpus[0].Apic.Write(0x310, 2u << 24);
        cpus[0].Apic.Write(0x300, Nmi);
        Assert.Equal(new[] { false, false, true, false }, cpus.Select(c => c.NmiPending).ToArray());
        cpus[0].Apic.Write(0x310, 3u << 24);
        cpus[0].Apic.Write(0x300, Init | Assert_ | Level);
        Assert.True(cpus[3].IsWaitingForSipi);
        Assert.False(cpus[1].IsWaitingForSipi || cpus[2].IsWaitingForSipi);
        cpus[0].Apic.Write(0x300, Init | Level); // de-assert: no effect
        cpus[0].Apic.Write(0x300, StartUp | 0x9A);
        Assert.False(cpus[3].IsWaitingForSipi);
        Assert.Equal(0x9A000UL, cpus[3].GetSegmentBase(SegmentRegister.Cs));
        cpus[0].Apic.Write(0x300, AllIncl | Smi); // no SMM: nothing happens to anyone
        cpus[1].Apic.Write(0x300, AllExcl | Init | Assert_);
        Assert.True(cpus[0].IsWaitingForSipi == false && cpus[0].Rip == 0xFFF0); // the BSP runs from the reset vector after INIT
        Assert.False(cpus[1].IsWaitingForSipi); // never INITs itself
        Assert.True(cpus[2].IsWaitingForSipi && cpus[3].IsWaitingForSipi);
        Assert.DoesNotContain(m.Cpus, c => c.Apic.Read(0x280) != 0);
    }

    [Fact]
    public void AnIllegalVectorIsASendErrorAndReachesNobody()
    {
        Machine4(out var cpus);
        cpus[0].Apic.Write(0x300, AllIncl | 0x0E);
        cpus[0].Apic.Write(0x280, 0);
        Assert.Equal(1u << 5, cpus[0].Apic.Read(0x280));
        Assert.All(cpus, c => Assert.False(c.Apic.HasDeliverable));
    }

    /// <summary>
    /// Two processors play ping-pong with fixed IPIs: the BSP sends vector 40h to APIC 1, whose
    /// handler counts and answers with vector 41h to APIC 0, whose handler counts and serves again,
    /// <c>rounds</c> times; both wait in HLT with interrupts on.
    /// </summary>
    [Theory]
    [InlineData(1000, 10)]
    [InlineData(7, 25)]
    [InlineData(100_000, 3)]
    public void IpiPingPongAlternatesBetweenTwoProcessors(int quantum, int rounds)
    {
        var rig = new SmpRig(2, quantum);
        const long Pings = 0x9000, Pongs = 0x9008;
        Label apMain = default, ping = default, pong = default;
        rig.Load(a =>
        {
            apMain = a.CreateLabel(); ping = a.CreateLabel(); pong = a.CreateLabel();
            var loop = a.CreateLabel(); var apLoop = a.CreateLabel();
            // BSP: enable the APIC, serve, wait for the answers.
            a.mov(rbx, SmpRig.ApicBase);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x310], 1 << 24);
            a.mov(__dword_ptr[rbx + 0x300], 0x40);
            a.sti();
            a.Label(ref loop);
            a.hlt();
            a.cmp(__qword_ptr[Pongs], rounds);
            a.jb(loop);
            a.cli();
            a.hlt();
            // AP: enable its APIC, wait.
            a.Label(ref apMain);
            a.mov(rbx, SmpRig.ApicBase);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.sti();
            a.Label(ref apLoop);
            a.hlt();
            a.cmp(__qword_ptr[Pings], rounds);
            a.jb(apLoop);
            a.cli();
            a.hlt();
            // AP handler (40h): count, answer to APIC 0 with 41h, EOI.
            a.Label(ref ping);
            a.inc(__qword_ptr[Pings]);
            a.mov(__dword_ptr[rbx + 0x310], 0);
            a.mov(__dword_ptr[rbx + 0x300], 0x41);
            a.mov(__dword_ptr[rbx + 0xB0], 0);
            a.iretq();
            // BSP handler (41h): count, serve again unless done, EOI.
            a.Label(ref pong);
            var done = a.CreateLabel();
            a.inc(__qword_ptr[Pongs]);
            a.cmp(__qword_ptr[Pongs], rounds);
            a.jae(done);
            a.mov(__dword_ptr[rbx + 0x310], 1 << 24);
            a.mov(__dword_ptr[rbx + 0x300], 0x40);
            a.Label(ref done);
            a.mov(__dword_ptr[rbx + 0xB0], 0);
            a.iretq();
        });
        rig.Gate(0x40, ping);
        rig.Gate(0x41, pong);
        rig.StartHost(1, apMain);
        var r = rig.Run(1_000_000);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal((ulong)rounds, rig.R64(Pings));
        Assert.Equal((ulong)rounds, rig.R64(Pongs));
        // The deliveries alternate 40h on processor 1, 41h on processor 0, in cycle order on each.
        var ext = rig.Events.Where(e => e.Kind == EventKind.ExternalInterrupt).ToList();
        Assert.Equal(2 * rounds, ext.Count);
        for (int k = 0; k < ext.Count; k++)
            Assert.Equal(k % 2 == 0 ? (1, (byte)0x40) : (0, (byte)0x41), (ext[k].Cpu, ext[k].Vector));
        for (int k = 2; k < ext.Count; k++) Assert.True(ext[k].Cycle >= ext[k - 2].Cycle);
    }

    [Fact]
    public void AnNmiIpiInterruptsAProcessorSpinningWithInterruptsOff()
    {
        var rig = new SmpRig(2, 100);
        const long Flag = 0x9000, Seen = 0x9008;
        Label apMain = default, nmi = default, spin = default;
        rig.Load(a =>
        {
            apMain = a.CreateLabel(); nmi = a.CreateLabel(); spin = a.CreateLabel();
            var wait = a.CreateLabel();
            a.Label(ref wait);                                  // BSP: wait until the AP spins, then NMI it
            a.cmp(__qword_ptr[Flag], 1);
            a.jne(wait);
            a.mov(rbx, SmpRig.ApicBase);
            a.mov(__dword_ptr[rbx + 0x310], 1 << 24);
            a.mov(__dword_ptr[rbx + 0x300], 0x400);             // NMI, physical, APIC 1
            a.hlt();
            a.Label(ref apMain);
            a.cli();
            a.mov(__qword_ptr[Flag], 1);
            a.Label(ref spin);
            a.jmp(spin);
            a.Label(ref nmi);
            a.mov(rax, __qword_ptr[rsp]);                       // the interrupted RIP
            a.mov(__qword_ptr[Seen], rax);
            a.hlt();
        });
        rig.Gate(2, nmi);
        rig.StartHost(1, apMain);
        var r = rig.Run(200_000);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(rig.At(spin), rig.R64(Seen));
        Assert.Single(rig.Events, e => e.Kind == EventKind.Nmi);
        Assert.Equal((1, (byte)2), rig.Events.Single(e => e.Kind == EventKind.Nmi) is var e ? (e.Cpu, e.Vector) : default);
        Assert.True(rig[1].NmiBlocked);
        Assert.False(rig[0].NmiBlocked);
    }
}

using Iced.Intel;
using Vtx.Apic;
using Vtx.Tests.Core;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Smp;

/// <summary>
/// Machine options, the INIT state of application processors and the INIT/SIPI start-up (SDM Vol. 3A,
/// 9.1 Table 9-1, 9.4 "Multiple-processor (MP) initialization", 11.6.1 ICR delivery modes).
/// </summary>
public class SmpStartupTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65)]
    [InlineData(int.MaxValue)]
    public void AProcessorCountOutside1To64IsRejectedNamingTheOption(int cpus)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new Machine(new MachineOptions { Cpus = cpus }));
        Assert.Contains("Cpus", e.Message);
        Assert.Contains("64", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void AQuantumBelowOneCycleIsRejectedNamingTheOption(int quantum)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new Machine(new MachineOptions { Cpus = 2, SmpQuantum = quantum }));
        Assert.Contains("SmpQuantum", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(64)]
    public void ProcessorsGetApicIds0ToNMinus1AndOnlyTheFirstIsTheBsp(int cpus)
    {
        var m = new Machine(new MachineOptions { Cpus = cpus, MemoryMiB = 2 });
        Assert.Equal(cpus, m.Cpus.Count);
        Assert.Same(m.Cpu, m.Cpus[0]);
        for (int i = 0; i < cpus; i++)
        {
            var c = m.Cpus[i];
            Assert.Equal((uint)i, c.Apic.Id);
            Assert.Equal((uint)i, c.Apic.InitialId);
            Assert.Equal((uint)i << 24, c.Apic.Read(0x20)); // xAPIC ID register: ID in bits 31:24
            Assert.Equal(i == 0, c.IsBootstrapProcessor);
            Assert.Equal(i == 0, (c.Apic.BaseMsr & LocalApic.BaseBsp) != 0);
            Assert.Equal(i != 0, c.IsWaitingForSipi);
            if (i > 0) Assert.Same(m.Cpu.Io, c.Io); // devices are shared
            if (i > 0) Assert.Same(m.Cpu.Mmio, c.Mmio);
        }
    }

    [Fact]
    public void AnApplicationProcessorStartsInTheInitStateOfTable9_1()
    {
        var m = new Machine(new MachineOptions { Cpus = 2, MemoryMiB = 2 });
        var ap = m.Cpus[1];
        // SDM Vol. 3A Table 9-1 (INIT column): real mode at F000:FFF0 with CS base FFFF0000h, EDX = the
        // family/model/stepping signature, CR0 = 60000010h, DR6/DR7 at their reset values.
        Assert.Equal(0xFFF0UL, ap.Rip);
        Assert.Equal((ushort)0xF000, ap.GetSelector(SegmentRegister.Cs));
        Assert.Equal(0xFFFF_0000UL, ap.GetSegmentBase(SegmentRegister.Cs));
        Assert.Equal((ulong)ap.Model.Cpuid(1, 0).Eax, ap[Gpr.Rdx]);
        Assert.Equal(0x6000_0010UL, ap.Cr0Value);
        Assert.Equal(0UL, ap.Cr4Value);
        Assert.Equal(0UL, ap.EferValue);
        Assert.Equal(2UL, ap.Rflags);
        Assert.Equal(0xFFFF_0FF0UL, ap.GetDebugRegister(6));
        Assert.Equal(0x400UL, ap.GetDebugRegister(7));
        Assert.True(ap.IsHalted);
    }

    [Fact]
    public void InitKeepsTheApicModeAndIdAndResetsTheOtherApicRegisters()
    {
        var m = new Machine(new MachineOptions { Cpus = 3, MemoryMiB = 2 });
        var ap = m.Cpus[2];
        Assert.True(ap.Apic.TryWriteBaseMsr(LocalApic.DefaultBase | LocalApic.BaseEnable | LocalApic.BaseExtd)); // x2APIC
        Assert.True(ap.Apic.TryWriteMsr(0x808, 0x30)); // TPR
        Assert.True(ap.Apic.TryWriteMsr(0x80F, 0x1FF)); // SVR
        ap.RaiseSipi(0x10);
        Assert.False(ap.IsWaitingForSipi);
        ap.RaiseInit();
        // SDM Vol. 3A 11.12.5.1: INIT keeps x2APIC mode and the 32-bit ID; every other register is initialised.
        Assert.True(ap.Apic.X2ApicMode);
        Assert.Equal(2u, ap.Apic.Id);
        Assert.True(ap.Apic.TryReadMsr(0x802, out ulong id) && id == 2);
        Assert.True(ap.Apic.TryReadMsr(0x80D, out ulong ldr) && ldr == ((2u >> 4) << 16 | 1u << 2)); // derived LDR
        Assert.True(ap.Apic.TryReadMsr(0x808, out ulong tpr) && tpr == 0);
        Assert.True(ap.Apic.TryReadMsr(0x80F, out ulong svr) && svr == 0xFF);
        Assert.True(ap.IsWaitingForSipi);
    }

    [Fact]
    public void InitKeepsTheX87AndSseStateAndCacheDisableBits()
    {
        var m = new Machine(new MachineOptions { Cpus = 2, MemoryMiB = 2 });
        var ap = m.Cpus[1];
        ap.RaiseSipi(0);
        ap.SetFlatMode(64);
        ap.Mxcsr = 0x1F80 ^ 0x6000; // round toward zero
        ap.Cr0Value = Cr0.PE | Cr0.ET | Cr0.NE | Cr0.CD;
        ap.RaiseInit();
        Assert.Equal(0x1F80u ^ 0x6000u, ap.Mxcsr);
        Assert.Equal(0x4000_0010UL, ap.Cr0Value); // CD kept, NW kept clear, ET set, the rest cleared
    }

    [Fact]
    public void SipiOutsideWaitForSipiIsDiscarded()
    {
        var m = new Machine(new MachineOptions { Cpus = 2, MemoryMiB = 2 });
        m.Cpu.RaiseSipi(0x20); // the BSP is running, not waiting
        Assert.Equal(0UL, m.Cpu.Rip);
        var ap = m.Cpus[1];
        ap.RaiseSipi(0x20);
        Assert.Equal(0x20000UL, ap.GetSegmentBase(SegmentRegister.Cs)); // vector 20h: CS = 2000h, base 20000h
        ap.RaiseSipi(0x30); // a second SIPI finds it running: discarded
        Assert.Equal(0x20000UL, ap.GetSegmentBase(SegmentRegister.Cs));
        Assert.Equal((ushort)0x2000, ap.GetSelector(SegmentRegister.Cs));
        Assert.Equal(0UL, ap.Rip);
        Assert.Equal(16, ap.CodeSize);
    }

    /// <summary>
    /// The MP start-up the SDM describes (9.4.4.1): the BSP broadcasts INIT (assert, then de-assert),
    /// then a SIPI with vector 08h; every AP runs the real-mode trampoline at 8000h, reads its initial
    /// APIC ID with CPUID, stores it and counts itself with LOCK INC.
    /// </summary>
    [Theory]
    [InlineData(2, 1000)]
    [InlineData(4, 1000)]
    [InlineData(4, 1)]
    [InlineData(8, 97)]
    public void InitSipiStartsEveryApplicationProcessorInRealModeAtTheVector(int cpus, int quantum)
    {
        var rig = new SmpRig(cpus, quantum);
        const ulong Table = 0x9000, Count = 0x9100;
        rig.Load(a =>
        {
            var wait = a.CreateLabel();
            a.mov(rbx, SmpRig.ApicBase);
            a.mov(__dword_ptr[rbx + 0x310], 0);
            a.mov(__dword_ptr[rbx + 0x300], 0xC4500);     // all excluding self, INIT, assert
            a.mov(__dword_ptr[rbx + 0x300], 0xC8500);     // INIT level de-assert (no effect)
            a.mov(__dword_ptr[rbx + 0x300], 0xC4608);     // all excluding self, start-up, vector 08h
            a.Label(ref wait);
            a.pause();
            a.cmp(__dword_ptr[Count], cpus - 1);
            a.jne(wait);
            a.hlt();
        });
        var tramp = Support.Guest.Assemble(a =>
        {
            a.mov(eax, 1);
            a.cpuid();
            a.shr(ebx, 24);
            a.mov(si, bx);
            a.shl(si, 2);
            a.lea(eax, __dword_ptr[ebx + 0xA0]);
            a.mov(__dword_ptr[si + (int)Table], eax);
            a.@lock.inc(__dword_ptr[(int)Count]);
            a.cli();
            a.hlt();
        }, 0x8000, 16);
        rig.M.WriteMemory(0x8000, tramp);

        var r = rig.Run(10_000_000);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal((uint)cpus - 1, rig.R32(Count));
        for (int i = 1; i < cpus; i++)
        {
            Assert.Equal(0xA0u + (uint)i, rig.R32(Table + (ulong)i * 4));
            Assert.Equal((ushort)0x0800, rig[i].GetSelector(SegmentRegister.Cs));
            Assert.Equal(0x8000UL, rig[i].GetSegmentBase(SegmentRegister.Cs));
            Assert.True(rig[i].IsHalted);
            Assert.False(rig[i].IsWaitingForSipi);
        }
        Assert.Equal(0u, rig.R32(Table)); // the BSP ran no trampoline
    }

    [Fact]
    public void TheStartUpIsTheSameOnEveryRunAndAllProcessorsAdvanceTogether()
    {
        string Once()
        {
            var rig = new SmpRig(3, 50);
            rig.Load(a =>
            {
                var wait = a.CreateLabel();
                a.mov(rbx, SmpRig.ApicBase);
                a.mov(__dword_ptr[rbx + 0x300], 0xC4500);
                a.mov(__dword_ptr[rbx + 0x300], 0xC4609);
                a.Label(ref wait);
                a.cmp(__dword_ptr[0x9100], 2);
                a.jne(wait);
                a.hlt();
            });
            rig.M.WriteMemory(0x9000, Support.Guest.Assemble(a =>
            {
                a.@lock.inc(__dword_ptr[0x9100]);
                a.cli();
                a.hlt();
            }, 0x9000, 16));
            var r = rig.Run(1_000_000);
            Assert.Equal(StopReason.Halted, r.Reason);
            // Idle processors let time pass with the others: every clock ends within one quantum of the BSP's.
            foreach (var c in rig.M.Cpus) Assert.InRange((long)c.Cycles - (long)rig[0].Cycles, -50 - 200, 50 + 200);
            return rig.StateDigest() + r;
        }
        Assert.Equal(Once(), Once());
    }
}

using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Apic;
using Xunit;

namespace Vtx.Tests.ApicTests;

/// <summary>
/// The local APIC on its own (xAPIC register interface, SDM Vol. 3A, chapter 11): the ID and
/// version registers and reset values, task and processor priority, acceptance by priority class,
/// INTA/EOI with nested vectors, the software enable, the LINT pins, the error status register and
/// the interrupt command register with its destinations and shorthands.
/// </summary>
public class ApicRegisterTests
{
    // ------------------------------------------------------------------ ID, version, reset values

    [Fact]
    public void IdRegisterHoldsTheApicIdInBits31To24AndIsWritableInXApicMode()
    {
        var r = new ApicRig(id: 3);
        Assert.Equal(3u << 24, r.A.Read(Reg.Id));
        r.A.Write(Reg.Id, 0x0700_0000);
        Assert.Equal(0x0700_0000u, r.A.Read(Reg.Id));
    }

    [Fact]
    public void VersionRegisterReportsAnIntegratedApicWithSevenLvtEntriesAndIsReadOnly()
    {
        // SDM Vol. 3A, 11.4.8, Figure 11-7: version 1xh = integrated APIC; bits 23:16 = LVT entries - 1
        // (six, with CMCI: timer, thermal, perf, LINT0, LINT1, error, CMCI); bit 24 = EOI-broadcast
        // suppression, not offered.
        var a = new ApicRig().A;
        uint v = a.Read(Reg.Version);
        Assert.InRange(v & 0xFF, 0x10u, 0x15u);
        Assert.Equal(6u, (v >> 16) & 0xFF);
        Assert.Equal(0u, v & (1u << 24));
        a.Write(Reg.Version, 0);
        Assert.Equal(v, a.Read(Reg.Version));
    }

    [Fact]
    public void PowerUpValues()
    {
        // SDM Vol. 3A, 11.4.7.1: LVT entries masked (0001_0000h), SVR = 0000_00FFh, DFR all ones, the
        // rest zero; IA32_APIC_BASE = FEE0_0000h | BSP | EN (11.4.4).
        var r = new ApicRig();
        var a = r.A;
        foreach (uint lvt in new[] { Reg.LvtCmci, Reg.LvtTimer, Reg.LvtThermal, Reg.LvtPerf, Reg.LvtLint0, Reg.LvtLint1, Reg.LvtError })
            Assert.Equal(0x0001_0000u, a.Read(lvt));
        Assert.Equal(0xFFu, a.Read(Reg.Svr));
        Assert.Equal(0xFFFF_FFFFu, a.Read(Reg.Dfr));
        foreach (uint z in new[] { Reg.Tpr, Reg.Ppr, Reg.Ldr, Reg.Esr, Reg.IcrLow, Reg.IcrHigh, Reg.InitialCount, Reg.CurrentCount, Reg.Divide })
            Assert.Equal(0u, a.Read(z));
        Assert.True(r.IrrEmpty && r.IsrEmpty);
        Assert.Equal(0xFEE0_0900UL, a.BaseMsr);
        Assert.True(a.XApicMode);
        Assert.False(a.X2ApicMode);
        Assert.False(a.SoftwareEnabled);
        Assert.Equal(ulong.MaxValue, a.NextTimerDeadline);
    }

    [Fact]
    public void LdrKeepsBits31To24AndDfrKeepsItsModelField()
    {
        var a = new ApicRig().A;
        a.Write(Reg.Ldr, 0x5A12_3456);
        Assert.Equal(0x5A00_0000u, a.Read(Reg.Ldr));
        a.Write(Reg.Dfr, 0x0000_0000);
        Assert.Equal(0x0FFF_FFFFu, a.Read(Reg.Dfr)); // cluster model; bits 27:0 read as ones
    }

    // ------------------------------------------------------------------ TPR, PPR, acceptance

    /// <summary>In-service vectors (one per class in a random set of classes), a TPR, and a vector that arrives afterwards.</summary>
    private static readonly Gen<(int[] Isr, byte Tpr, byte Incoming)> PriorityCase =
        from classes in Gen.Choose(0, 0x7FFF)
        from low in Gen.Choose(0, int.MaxValue)
        from tpr in Gen.Choose(0, 255)
        from incoming in Gen.Choose(16, 255)
        select (Enumerable.Range(1, 15).Where(c => (classes & (1 << (c - 1))) != 0).Select(c => c * 16 + ((low >> c) & 0xF)).ToArray(),
            (byte)tpr, (byte)incoming);

    [Property(MaxTest = 600)]
    public Property PprIsTprOrTheClassOfTheHighestInServiceVectorAndGatesAcceptance() => Prop.ForAll(Arb.From(PriorityCase), c =>
    {
        // SDM Vol. 3A, 11.8.3.1: PPR = TPR when TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0000b. An IRR
        // vector is delivered only when its class is above PPR[7:4]; INTA then moves it to the ISR.
        var r = new ApicRig().Enable();
        var a = r.A;
        foreach (int v in c.Isr) // ascending classes: each one outranks the one in service
        {
            a.Accept((byte)v);
            Assert.True(a.HasDeliverable);
            Assert.Equal((byte)v, a.Acknowledge());
        }
        a.Write(Reg.Tpr, c.Tpr);
        int isrv = c.Isr.Length == 0 ? 0 : c.Isr.Max();
        uint ppr = (c.Tpr >> 4) >= (isrv >> 4) ? c.Tpr : (uint)(isrv & 0xF0);
        Assert.Equal(c.Tpr, (byte)a.Read(Reg.Tpr));
        Assert.Equal(ppr, a.Read(Reg.Ppr));
        Assert.Equal(ppr, a.Ppr);

        a.Accept(c.Incoming);
        Assert.True(r.InIrr(c.Incoming));
        bool deliverable = (c.Incoming >> 4) > (ppr >> 4);
        Assert.Equal(deliverable, a.HasDeliverable);
        if (deliverable)
        {
            Assert.Equal(c.Incoming, a.Acknowledge());
            Assert.False(r.InIrr(c.Incoming));
            Assert.True(r.InIsr(c.Incoming));
        }
        else
        {
            // An INTA with nothing deliverable returns the spurious vector and leaves the IRR alone.
            Assert.Equal((byte)0xFF, a.Acknowledge());
            Assert.True(r.InIrr(c.Incoming));
        }
    });

    [Fact]
    public void TprAboveTheVectorClassHoldsItInIrrUntilLowered()
    {
        var r = new ApicRig().Enable();
        var a = r.A;
        a.Write(Reg.Tpr, 0x5F);
        a.Accept(0x55);
        Assert.False(a.HasDeliverable);
        a.Write(Reg.Tpr, 0x50);
        Assert.False(a.HasDeliverable); // same class: still held
        a.Write(Reg.Tpr, 0x4F);
        Assert.True(a.HasDeliverable);
        Assert.Equal((byte)0x55, a.Acknowledge());
    }

    [Fact]
    public void NestedVectorsAreAcknowledgedByPriorityAndRetiredHighestFirst()
    {
        var r = new ApicRig().Enable();
        var a = r.A;
        a.Accept(0x40);
        Assert.Equal((byte)0x40, a.Acknowledge());
        Assert.Equal(0x40u, a.Read(Reg.Ppr));

        a.Accept(0x45);                // same class as the one in service: held
        Assert.False(a.HasDeliverable);
        a.Accept(0x80);                // higher class: nests
        Assert.True(a.HasDeliverable);
        Assert.Equal((byte)0x80, a.Acknowledge());
        Assert.True(r.InIsr(0x40) && r.InIsr(0x80));
        Assert.Equal(0x80u, a.Read(Reg.Ppr));

        a.Write(Reg.Eoi, 0);           // retires 0x80, the highest in service
        Assert.False(r.InIsr(0x80));
        Assert.True(r.InIsr(0x40));
        Assert.Equal(0x40u, a.Read(Reg.Ppr));
        Assert.False(a.HasDeliverable); // 0x45 is still below the 0x40 in service

        a.Write(Reg.Eoi, 0);
        Assert.True(r.IsrEmpty);
        Assert.Equal(0u, a.Read(Reg.Ppr));
        Assert.True(a.HasDeliverable);
        Assert.Equal((byte)0x45, a.Acknowledge());
        a.Write(Reg.Eoi, 0);
        Assert.True(r.IrrEmpty && r.IsrEmpty);
        a.Write(Reg.Eoi, 0); // EOI with nothing in service: no effect
        Assert.True(r.IsrEmpty);
    }

    [Fact]
    public void IrrIsServedHighestVectorFirstAndOneVectorPerClassAtATime()
    {
        var r = new ApicRig().Enable();
        foreach (byte v in new byte[] { 0x31, 0x72, 0x55, 0x5A, 0x52 }) r.A.Accept(v);
        Assert.Equal(new byte[] { 0x72, 0x5A, 0x55, 0x52, 0x31 }, r.DrainAll());
        // Within a class the second vector waits for the EOI of the first.
        r.A.Accept(0x52);
        r.A.Accept(0x5A);
        Assert.Equal((byte)0x5A, r.A.Acknowledge());
        Assert.False(r.A.HasDeliverable);
        r.A.EndOfInterrupt();
        Assert.Equal((byte)0x52, r.A.Acknowledge());
    }

    [Fact]
    public void AVectorPendingAgainWhileInServiceIsDeliveredAfterTheEoi()
    {
        var r = new ApicRig().Enable();
        r.A.Accept(0x60);
        Assert.Equal((byte)0x60, r.A.Acknowledge());
        r.A.Accept(0x60);
        Assert.True(r.InIrr(0x60) && r.InIsr(0x60));
        Assert.False(r.A.HasDeliverable);
        r.A.EndOfInterrupt();
        Assert.Equal((byte)0x60, r.A.Acknowledge());
    }

    [Fact]
    public void IllegalVectorsAreNotAcceptedAndSetReceiveIllegalVector()
    {
        // SDM Vol. 3A, 11.5.2: vectors 0-15 are illegal; the APIC records an illegal-vector error.
        var r = new ApicRig().Enable();
        for (int v = 0; v < 16; v++) r.A.Accept((byte)v);
        Assert.True(r.IrrEmpty);
        Assert.Equal(1u << 6, r.LatchEsr());
    }

    // ------------------------------------------------------------------ software enable, LVT, LINT

    [Fact]
    public void SoftwareDisableMasksEveryLvtEntryAndKeepsThemMasked()
    {
        // SDM Vol. 3A, 11.4.7.2: in the software-disabled state all LVT mask bits are set and attempts
        // to clear them are ignored; enabling again leaves them masked until software writes them.
        var r = new ApicRig().Enable();
        var a = r.A;
        a.Write(Reg.LvtLint0, 0x30);
        a.Write(Reg.LvtTimer, 0x41);
        a.Write(Reg.LvtError, 0xE0);
        Assert.Equal(0x30u, a.Read(Reg.LvtLint0));
        a.Write(Reg.Svr, 0xFF);
        Assert.False(a.SoftwareEnabled);
        foreach (uint lvt in new[] { Reg.LvtCmci, Reg.LvtTimer, Reg.LvtThermal, Reg.LvtPerf, Reg.LvtLint0, Reg.LvtLint1, Reg.LvtError })
            Assert.NotEqual(0u, a.Read(lvt) & Reg.Masked);
        Assert.Equal(0x30u | Reg.Masked, a.Read(Reg.LvtLint0));
        a.Write(Reg.LvtLint0, 0x31); // unmasking is ignored, the vector is written
        Assert.Equal(0x31u | Reg.Masked, a.Read(Reg.LvtLint0));
        a.RaiseLint(0);
        Assert.True(r.IrrEmpty);

        r.Enable();
        Assert.Equal(0x31u | Reg.Masked, a.Read(Reg.LvtLint0));
        a.RaiseLint(0);
        Assert.True(r.IrrEmpty);
        a.Write(Reg.LvtLint0, 0x31);
        a.RaiseLint(0);
        Assert.True(r.InIrr(0x31));
    }

    [Fact]
    public void SvrKeepsTheSpuriousVectorAndTheAcknowledgeOfNothingReturnsIt()
    {
        var r = new ApicRig().Enable(0x3F);
        Assert.Equal(0x13Fu, r.A.Read(Reg.Svr));
        Assert.Equal((byte)0x3F, r.A.Acknowledge());
    }

    [Fact]
    public void LintFixedDeliveryPutsTheVectorInIrrWithItsTriggerMode()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtLint0, 0x30);                 // fixed, edge
        r.A.Write(Reg.LvtLint1, 0x38 | Reg.Level);     // fixed, level
        r.A.RaiseLint(0);
        r.A.RaiseLint(1);
        Assert.True(r.InIrr(0x30) && r.InIrr(0x38));
        Assert.False(r.InTmr(0x30));
        Assert.True(r.InTmr(0x38));
        Assert.Equal(0, r.Nmis);
    }

    [Fact]
    public void LintNmiDeliveryRaisesNmiAndIgnoresTheVector()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtLint1, Reg.Nmi | 0x77);
        r.A.RaiseLint(1);
        Assert.Equal(1, r.Nmis);
        Assert.True(r.IrrEmpty);
        r.A.Write(Reg.LvtLint0, Reg.Nmi);
        r.A.RaiseLint(0);
        Assert.Equal(2, r.Nmis);
    }

    [Fact]
    public void MaskedLintIsIgnored()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtLint0, Reg.Masked | 0x30);
        r.A.Write(Reg.LvtLint1, Reg.Masked | Reg.Nmi);
        r.A.RaiseLint(0);
        r.A.RaiseLint(1);
        Assert.True(r.IrrEmpty);
        Assert.Equal(0, r.Nmis);
        Assert.Throws<ArgumentOutOfRangeException>(() => r.A.RaiseLint(2));
    }

    [Fact]
    public void LintOnAGloballyDisabledApicIsIgnored()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtLint1, Reg.Nmi);
        Assert.True(r.A.TryWriteBaseMsr(LocalApic.DefaultBase | LocalApic.BaseBsp));
        r.A.RaiseLint(1);
        r.A.Accept(0x40);
        Assert.Equal(0, r.Nmis);
        Assert.False(r.A.HasDeliverable);
    }

    // ------------------------------------------------------------------ ESR and the error LVT

    [Fact]
    public void IllegalVectorSentThroughIcrSetsSendIllegalVectorAfterTheEsrWrite()
    {
        // SDM Vol. 3A, 11.5.3: ESR bit 5 = send illegal vector; the register is updated by a write
        // (which latches and clears the errors collected so far), not by the error itself.
        var r = new ApicRig().Enable();
        r.SendIcr(Reg.ToSelf | 0x05);
        Assert.Equal(0u, r.A.Read(Reg.Esr));
        Assert.Equal(1u << 5, r.LatchEsr() & (1u << 5));
        Assert.False(r.InIrr(5));
        Assert.Equal(0u, r.LatchEsr()); // the next write latches nothing new
    }

    [Fact]
    public void AnErrorRaisesTheErrorLvtInterrupt()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtError, 0xE3);
        r.SendIcr(Reg.ToSelf | 0x0F);
        Assert.True(r.InIrr(0xE3));
        Assert.Equal(new byte[] { 0xE3 }, r.DrainAll());
        // Masked: the error is still recorded, no interrupt.
        r.A.Write(Reg.LvtError, 0xE3 | Reg.Masked);
        r.LatchEsr();
        r.SendIcr(Reg.ToSelf | 0x01);
        Assert.True(r.IrrEmpty);
        Assert.NotEqual(0u, r.LatchEsr());
    }

    [Fact]
    public void AnLvtWithAnIllegalVectorSetsReceiveIllegalVector()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtLint0, 0x08);
        r.A.RaiseLint(0);
        Assert.True(r.IrrEmpty);
        Assert.Equal(1u << 6, r.LatchEsr());
    }

    // ------------------------------------------------------------------ ICR

    [Theory]
    // physical destination mode: own ID, another ID, broadcast
    [InlineData(0x03, false, 0u, 0xFFFF_FFFFu, true)]
    [InlineData(0x04, false, 0u, 0xFFFF_FFFFu, false)]
    [InlineData(0x00, false, 0u, 0xFFFF_FFFFu, false)]
    [InlineData(0xFF, false, 0u, 0xFFFF_FFFFu, true)]
    // logical, flat model: any common bit of the 8-bit MDA and LDR
    [InlineData(0x02, true, 0x0200_0000u, 0xFFFF_FFFFu, true)]
    [InlineData(0x06, true, 0x0200_0000u, 0xFFFF_FFFFu, true)]
    [InlineData(0x04, true, 0x0200_0000u, 0xFFFF_FFFFu, false)]
    [InlineData(0x00, true, 0x0200_0000u, 0xFFFF_FFFFu, false)]
    [InlineData(0xFF, true, 0x0200_0000u, 0xFFFF_FFFFu, true)]
    // logical, cluster model: same cluster (bits 7:4) and a common member bit (bits 3:0)
    [InlineData(0x12, true, 0x1200_0000u, 0x0FFF_FFFFu, true)]
    [InlineData(0x13, true, 0x1200_0000u, 0x0FFF_FFFFu, true)]
    [InlineData(0x11, true, 0x1200_0000u, 0x0FFF_FFFFu, false)]
    [InlineData(0x22, true, 0x1200_0000u, 0x0FFF_FFFFu, false)]
    [InlineData(0xFF, true, 0x1200_0000u, 0x0FFF_FFFFu, true)]
    public void FixedIpiReachesThisApicWhenItIsADestination(byte dest, bool logical, uint ldr, uint dfr, bool expected)
    {
        var r = new ApicRig(id: 3).Enable();
        r.A.Write(Reg.Ldr, ldr);
        r.A.Write(Reg.Dfr, dfr);
        r.SendIcr(Reg.Fixed | (logical ? Reg.Logical : 0) | 0x50, dest);
        Assert.Equal(expected, r.InIrr(0x50));
        Assert.Equal(0u, r.LatchEsr());
        // Lowest priority with a single processor: the same destinations.
        var r2 = new ApicRig(id: 3).Enable();
        r2.A.Write(Reg.Ldr, ldr);
        r2.A.Write(Reg.Dfr, dfr);
        r2.SendIcr(Reg.LowestPriority | (logical ? Reg.Logical : 0) | 0x51, dest);
        Assert.Equal(expected, r2.InIrr(0x51));
    }

    [Theory]
    [InlineData(1u << 18, true)]   // self
    [InlineData(2u << 18, true)]   // all including self
    [InlineData(3u << 18, false)]  // all excluding self
    public void ShorthandsIgnoreTheDestinationField(uint shorthand, bool expected)
    {
        var r = new ApicRig(id: 3).Enable();
        r.SendIcr(shorthand | 0x66, dest: 0x09); // the destination names another APIC
        Assert.Equal(expected, r.InIrr(0x66));
    }

    [Fact]
    public void IcrReadsBackWithDeliveryStatusIdle()
    {
        var r = new ApicRig(id: 3).Enable();
        r.A.Write(Reg.IcrHigh, 0xAB12_3456);
        Assert.Equal(0xAB00_0000u, r.A.Read(Reg.IcrHigh));
        r.A.Write(Reg.IcrLow, Reg.ToSelf | Reg.Level | Reg.Assert | 0x70);
        Assert.Equal(Reg.ToSelf | Reg.Level | Reg.Assert | 0x70, r.A.Read(Reg.IcrLow));
        Assert.Equal(0u, r.A.Read(Reg.IcrLow) & (1u << 12));
        Assert.True(r.InIrr(0x70));
        Assert.True(r.InTmr(0x70)); // level-triggered
    }

    [Fact]
    public void InitAndStartupToAllButSelfAreAcceptedAndChangeNothingHere()
    {
        // The usual AP wake-up sequence of an SMP kernel on a one-processor machine (SDM Vol. 3A, 9.4.4.1).
        var r = new ApicRig(id: 0).Enable();
        r.SendIcr(Reg.AllButSelf | Reg.Init | Reg.Level | Reg.Assert);
        Assert.Equal(0u, r.A.Read(Reg.IcrLow) & (1u << 12));
        r.SendIcr(Reg.AllButSelf | Reg.Init | Reg.Level);
        r.SendIcr(Reg.AllButSelf | Reg.StartUp | 0x08); // vector 08h = start at 8000h: not an illegal vector here
        Assert.Equal(0u, r.A.Read(Reg.IcrLow) & (1u << 12));
        r.SendIcr(Reg.AllButSelf | Reg.StartUp | 0x08);
        Assert.True(r.IrrEmpty);
        Assert.Equal(0, r.Nmis);
        Assert.Equal(0u, r.LatchEsr());
        Assert.True(r.A.SoftwareEnabled);
    }

    [Fact]
    public void NmiThroughIcrRaisesTheNmiWhenThisApicIsADestination()
    {
        var r = new ApicRig(id: 2).Enable();
        r.SendIcr(Reg.ToSelf | Reg.Nmi);
        Assert.Equal(1, r.Nmis);
        r.SendIcr(Reg.Nmi, dest: 2);
        Assert.Equal(2, r.Nmis);
        r.SendIcr(Reg.Nmi, dest: 5);
        r.SendIcr(Reg.AllButSelf | Reg.Nmi);
        Assert.Equal(2, r.Nmis);
        r.SendIcr(Reg.AllIncludingSelf | Reg.Nmi);
        Assert.Equal(3, r.Nmis);
        Assert.True(r.IrrEmpty);
    }

    [Fact]
    public void NmiIpiIsDeliveredWhileSoftwareDisabled()
    {
        // SDM Vol. 3A, 11.4.7.2: a software-disabled APIC still responds to NMI messages.
        var r = new ApicRig();
        r.SendIcr(Reg.ToSelf | Reg.Nmi);
        Assert.Equal(1, r.Nmis);
    }
}

using System.Numerics;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // APIC virtualization and virtual interrupts (SDM Vol. 3C, chapter 29 in the 2016 numbering,
    // chapter 30 in 2020+ editions): the virtual-APIC page (VTPR 80h, VPPR A0h, VEOI B0h, VISR 100h,
    // VIRR 200h, VICR 300h/310h), RVI and SVI (the guest interrupt status, field 0810h), TPR, PPR and
    // EOI virtualization, self-IPI virtualization, evaluation and delivery of pending virtual
    // interrupts, and posted-interrupt processing. The trap-like work that follows an instruction
    // (TPR virtualization after MOV to CR8 / WRMSR 808h / a write to offset 80h of the APIC-access
    // page, EOI virtualization, APIC-write emulation) is left pending as ApicVirtTrap, the
    // highest-priority boundary event, so its VM exits (43, 45, 56) save RIP after the instruction.
    //
    // RVI/SVI live in the processor while the guest runs (loaded at VM entry, saved at VM exit, as
    // the SDM describes them: "the guest interrupt status"); VIRR, VISR, VTPR and VPPR live on the
    // virtual-APIC page in memory, read and written where the SDM's pseudocode does.

    private const int TrapTpr = 1, TrapEoi = 2, TrapApicWrite = 4, TrapSelfIpi = 8;
    private int _apicVirtTrap;          // pending trap-like APIC-virtualization work (Trap* bits)
    private uint _apicWriteOffset;      // page offset of the virtualized write to the APIC-access page
    private byte _selfIpiVector;        // vector written to the virtualized x2APIC SELF IPI MSR
    private bool _apicWriteDone;        // a write to the APIC-access page was virtualized in this operation
    private bool _vintrRecognized;      // a pending virtual interrupt is recognized (29.2.1)
    private byte _rvi, _svi;            // requesting / servicing virtual interrupt (guest interrupt status)
    private bool _apicAccessArmed;      // "virtualize APIC accesses" in force (non-root)
    private ulong _apicAccessPage;      // APIC-access address (4-KiB aligned)
    private ulong _eoiExit0, _eoiExit1, _eoiExit2, _eoiExit3;
    private byte _piVector;             // posted-interrupt notification vector
    private ulong _piDescriptor;        // posted-interrupt descriptor address
    private bool _lastAckFromApic;      // the last acknowledged interrupt came from the local APIC (not the INTR line)

    private const uint VApicTpr = 0x80, VApicPpr = 0xA0, VApicEoi = 0xB0, VApicIsr = 0x100, VApicIrr = 0x200, VApicIcrLow = 0x300, VApicIcrHigh = 0x310, VApicSelfIpi = 0x3F0;

    /// <summary>RVI: the requesting virtual interrupt, low byte of the guest interrupt status (SDM Vol. 3C, 24.4.2, 29.1.1); meaningful in non-root operation with virtual-interrupt delivery.</summary>
    public byte RequestingVirtualInterrupt => _rvi;

    /// <summary>SVI: the servicing virtual interrupt, high byte of the guest interrupt status (SDM Vol. 3C, 24.4.2, 29.1.1); meaningful in non-root operation with virtual-interrupt delivery.</summary>
    public byte ServicingVirtualInterrupt => _svi;

    private uint VApicRead(uint offset) => (uint)ReadPhysical(_nr.VirtualApic + offset, 4);
    private void VApicWrite(uint offset, uint value) => WritePhysical(_nr.VirtualApic + offset, 4, value);

    /// <summary>
    /// VM entry (SDM Vol. 3C, 26.3.2.5, 26.6): caches the APIC-virtualization controls and, with
    /// virtual-interrupt delivery, loads RVI/SVI from the guest interrupt status, then performs PPR
    /// virtualization and evaluates pending virtual interrupts.
    /// </summary>
    private void ApicVirtEnter(Vmcs v)
    {
        _apicVirtTrap = 0;
        _apicWriteDone = false;
        _vintrRecognized = false;
        _apicAccessArmed = NrProc2(SecondaryProcessorBasedControls.VirtualizeApicAccesses);
        _apicAccessPage = _apicAccessArmed ? v.Read(VmcsField.ApicAccessAddress) & ~0xFFFUL : 0;
        if (NrPin(PinBasedControls.ProcessPostedInterrupts))
        {
            _piVector = (byte)v.Read(VmcsField.PostedInterruptNotificationVector);
            _piDescriptor = v.Read(VmcsField.PostedInterruptDescriptorAddress);
        }
        if (!NrProc2(SecondaryProcessorBasedControls.VirtualInterruptDelivery)) return;
        _eoiExit0 = v.Read(VmcsField.EoiExitBitmap0);
        _eoiExit1 = v.Read(VmcsField.EoiExitBitmap1);
        _eoiExit2 = v.Read(VmcsField.EoiExitBitmap2);
        _eoiExit3 = v.Read(VmcsField.EoiExitBitmap3);
        ulong status = v.Read(VmcsField.GuestInterruptStatus);
        _rvi = (byte)status;
        _svi = (byte)(status >> 8);
        PprVirtualization();
        EvaluatePendingVirtualInterrupts();
    }

    /// <summary>VM exit (SDM Vol. 3C, 27.3.3): saves RVI/SVI into the guest interrupt status and drops the non-root APIC-virtualization state.</summary>
    private void ApicVirtSave(Vmcs v)
    {
        if (NrProc2(SecondaryProcessorBasedControls.VirtualInterruptDelivery))
            v.Write(VmcsField.GuestInterruptStatus, (ulong)_rvi | (ulong)_svi << 8);
        _apicVirtTrap = 0;
        _apicWriteDone = false;
        _vintrRecognized = false;
        _apicAccessArmed = false;
    }

    /// <summary>PPR virtualization (SDM Vol. 3C, 29.1.3): VPPR = VTPR when VTPR[7:4] ≥ SVI[7:4], else SVI &amp; F0h; bytes 3:1 of VPPR cleared.</summary>
    private void PprVirtualization()
    {
        uint vtpr = VApicRead(VApicTpr) & 0xFF;
        uint vppr = (vtpr >> 4) >= (uint)(_svi >> 4) ? vtpr : (uint)(_svi & 0xF0);
        VApicWrite(VApicPpr, vppr);
    }

    /// <summary>
    /// Evaluation of pending virtual interrupts (SDM Vol. 3C, 29.2.1): with "interrupt-window exiting"
    /// 0, a virtual interrupt is recognized when RVI[7:4] &gt; VPPR[7:4]; otherwise none is.
    /// </summary>
    private void EvaluatePendingVirtualInterrupts()
    {
        uint vppr = VApicRead(VApicPpr) & 0xFF;
        _vintrRecognized = !NrProc(PrimaryProcessorBasedControls.InterruptWindowExiting) && (uint)(_rvi >> 4) > vppr >> 4;
        UpdateVmxWatch();
    }

    /// <summary>The highest vector set in the 256-bit VIRR or VISR at <paramref name="baseOffset"/> (-1 when none).</summary>
    private int VApicHighest(uint baseOffset)
    {
        for (int i = 7; i >= 0; i--)
        {
            uint w = VApicRead(baseOffset + (uint)i * 16);
            if (w != 0) return i * 32 + 31 - BitOperations.LeadingZeroCount(w);
        }
        return -1;
    }

    private void VApicSetBit(uint baseOffset, int vector, bool set)
    {
        uint off = baseOffset + (uint)(vector >> 5) * 16;
        uint w = VApicRead(off), bit = 1u << (vector & 31);
        VApicWrite(off, set ? w | bit : w & ~bit);
    }

    /// <summary>
    /// Virtual-interrupt delivery (SDM Vol. 3C, 29.2.2): VISR[RVI] = 1, SVI = RVI, VPPR = RVI &amp; F0h,
    /// VIRR[RVI] = 0, RVI = the highest remaining VIRR bit (or 0), recognition ceases, and the vector is
    /// delivered through the guest IDT as an external interrupt. It ends the HLT state.
    /// </summary>
    private void DeliverVirtualInterrupt()
    {
        byte vector = _rvi;
        VApicSetBit(VApicIsr, vector, true);
        _svi = vector;
        VApicWrite(VApicPpr, (uint)(vector & 0xF0));
        VApicSetBit(VApicIrr, vector, false);
        int next = VApicHighest(VApicIrr);
        _rvi = next < 0 ? (byte)0 : (byte)next;
        _vintrRecognized = false;
        UpdateVmxWatch();
        _halted = false;
        _guestActivity = 0;
        DeliverEvent(vector, EventKind.ExternalInterrupt, 0, false, _rip);
    }

    /// <summary>
    /// TPR virtualization (SDM Vol. 3C, 29.1.2), after MOV to CR8, WRMSR 808h or a write to offset 80h
    /// of the APIC-access page: with virtual-interrupt delivery, PPR virtualization and evaluation of
    /// pending virtual interrupts; otherwise a TPR-below-threshold VM exit (43) when VTPR[7:4] is below
    /// TPR threshold[3:0]. Returns true when it exited.
    /// </summary>
    private bool TprVirtualization()
    {
        if (NrProc2(SecondaryProcessorBasedControls.VirtualInterruptDelivery))
        {
            PprVirtualization();
            EvaluatePendingVirtualInterrupts();
            return false;
        }
        if (((VApicRead(VApicTpr) >> 4) & 0xF) >= (_nr.TprThreshold & 0xF)) return false;
        VmExit(VmxExitReason.TprBelowThreshold);
        return true;
    }

    /// <summary>
    /// EOI virtualization (SDM Vol. 3C, 29.1.4): VISR[SVI] = 0, SVI = the highest remaining VISR bit
    /// (or 0), PPR virtualization; then an EOI-induced VM exit (45, qualification = the vector) when
    /// the vector's EOI-exit bit is set, else evaluation of pending virtual interrupts. Returns true
    /// when it exited.
    /// </summary>
    private bool EoiVirtualization()
    {
        byte vector = _svi;
        VApicSetBit(VApicIsr, vector, false);
        int next = VApicHighest(VApicIsr);
        _svi = next < 0 ? (byte)0 : (byte)next;
        PprVirtualization();
        ulong bitmap = (vector >> 6) switch { 0 => _eoiExit0, 1 => _eoiExit1, 2 => _eoiExit2, _ => _eoiExit3 };
        if (((bitmap >> (vector & 63)) & 1) != 0)
        {
            VmExit(VmxExitReason.VirtualizedEoi, vector);
            return true;
        }
        EvaluatePendingVirtualInterrupts();
        return false;
    }

    /// <summary>Self-IPI virtualization (SDM Vol. 3C, 29.1.5): VIRR[vector] = 1, RVI = max(RVI, vector), evaluation of pending virtual interrupts.</summary>
    private void SelfIpiVirtualization(byte vector)
    {
        VApicSetBit(VApicIrr, vector, true);
        if (vector > _rvi) _rvi = vector;
        EvaluatePendingVirtualInterrupts();
    }

    /// <summary>Leaves trap-like APIC-virtualization work for the boundary after the current instruction (or REP iteration).</summary>
    private void RequestApicVirtTrap(int kind)
    {
        _apicVirtTrap |= kind;
        _signal |= SignalEvent;
        UpdateVmxWatch();
    }

    /// <summary>
    /// The trap-like APIC-virtualization work left by the previous instruction (SDM Vol. 3C, 29.1.2,
    /// 29.1.4, 29.4.3.2, 29.5), in the order the instruction caused it. Returns true when it took a VM
    /// exit; otherwise the arbiter goes on to the other events of this boundary.
    /// </summary>
    private bool RunApicVirtTrap()
    {
        int trap = _apicVirtTrap;
        _apicVirtTrap = 0;
        _apicWriteDone = false;
        UpdateVmxWatch();
        if ((trap & TrapTpr) != 0 && TprVirtualization()) return true;
        if ((trap & TrapEoi) != 0 && EoiVirtualization()) return true;
        if ((trap & TrapSelfIpi) != 0)
        {
            if (_selfIpiVector < 16)
            {
                VmExit(VmxExitReason.ApicWrite, VApicSelfIpi);
                return true;
            }
            SelfIpiVirtualization(_selfIpiVector);
        }
        if ((trap & TrapApicWrite) != 0 && ApicWriteEmulation()) return true;
        return ArbitrateNonRoot(CurrentShadow);
    }

    /// <summary>
    /// APIC-write emulation (SDM Vol. 3C, 29.4.3.2) after a virtualized write to the APIC-access page:
    /// TPR (80h): bytes 81h-83h cleared, then TPR virtualization; EOI (B0h) with virtual-interrupt
    /// delivery: EOI virtualization; ICR low (300h) with virtual-interrupt delivery: a fixed, edge,
    /// self-shorthand IPI with a vector of 16 or more is self-IPI virtualization; ICR high (310h): bits
    /// 23:0 cleared, no exit; every other case an APIC-write VM exit (56) with the page offset.
    /// Returns true when it exited.
    /// </summary>
    private bool ApicWriteEmulation()
    {
        uint offset = _apicWriteOffset;
        bool vid = NrProc2(SecondaryProcessorBasedControls.VirtualInterruptDelivery);
        switch (offset & 0xFF0)
        {
            case VApicTpr:
                VApicWrite(VApicTpr, VApicRead(VApicTpr) & 0xFF);
                return TprVirtualization();
            case VApicEoi when vid:
                return EoiVirtualization();
            case VApicIcrLow when vid:
            {
                uint icr = VApicRead(VApicIcrLow);
                // Reserved bits 31:20, 17:16, 13 and delivery status (12) 0, edge (15 = 0), fixed (10:8 = 0), shorthand self (19:18 = 01b).
                if ((icr & 0xFFF3_B700u) == 0 && ((icr >> 18) & 3) == 1 && (icr & 0xFF) >= 16)
                {
                    SelfIpiVirtualization((byte)icr);
                    return false;
                }
                break;
            }
            case VApicIcrHigh:
                VApicWrite(VApicIcrHigh, VApicRead(VApicIcrHigh) & 0xFF00_0000u);
                return false;
        }
        VmExit(VmxExitReason.ApicWrite, offset);
        return true;
    }

    /// <summary>
    /// Posted-interrupt processing (SDM Vol. 3C, 29.6), for an external interrupt acknowledged in
    /// non-root operation with "process posted interrupts": when <paramref name="vector"/> is the
    /// notification vector, the descriptor's ON bit (bit 256) is cleared, the local APIC gets an EOI,
    /// PIR (bits 255:0) is ORed into VIRR and cleared, RVI becomes the larger of RVI and the highest
    /// PIR bit, and pending virtual interrupts are evaluated — with no VM exit. Returns false for any
    /// other vector (the interrupt then exits as usual).
    /// </summary>
    /// <remarks>
    /// The descriptor is read and written through physical memory, so a sender on another processor
    /// (when Vtx models several) posts by setting PIR bits and ON and sending the notification vector
    /// to this processor's local APIC; nothing here assumes the sender is this processor.
    /// </remarks>
    private bool ProcessPostedInterrupts(byte vector)
    {
        if (!NrPin(PinBasedControls.ProcessPostedInterrupts) || vector != _piVector) return false;
        ulong desc = _piDescriptor;
        WritePhysical(desc + 32, 1, ReadPhysical(desc + 32, 1) & ~1UL);
        if (_lastAckFromApic) Apic.EndOfInterrupt();
        int highest = -1;
        for (int i = 0; i < 8; i++)
        {
            uint pir = (uint)ReadPhysical(desc + (ulong)i * 4, 4);
            if (pir == 0) continue;
            WritePhysical(desc + (ulong)i * 4, 4, 0);
            VApicWrite(VApicIrr + (uint)i * 16, VApicRead(VApicIrr + (uint)i * 16) | pir);
            highest = i * 32 + 31 - BitOperations.LeadingZeroCount(pir);
        }
        if (highest > _rvi) _rvi = (byte)highest;
        EvaluatePendingVirtualInterrupts();
        return true;
    }
}

using Vtx.Memory.Paging;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // EPT (SDM Vol. 3C, chapter 28): with "enable EPT" in non-root operation every guest-physical
    // address — the final address of a linear translation, every guest paging-structure access and
    // the PAE PDPTE loads — is translated through the 4-level EPT paging structures. A failed
    // translation is an EPT violation (exit 48) or EPT misconfiguration (exit 49). It is raised like
    // a fault (a private vector) so every instruction handler stops without committing, then turned
    // into the VM exit by the fault path or, during event delivery, with IDT-vectoring information.
    // Not modelled: EPT accessed/dirty flags, mode-based execute control, sub-page permissions,
    // #VE conversion, memory types (the model does not offer them); 5-level EPT.

    /// <summary>The private "vector" an EPT violation/misconfiguration is carried by through the fault path.</summary>
    private const byte EptExitVector = 0xFE;

    private bool _eptOn;
    private ulong _eptRoot;
    private VmxExitReason _eptExitReason;
    private ulong _eptGpa, _eptGla, _eptQual;
    private bool _eptPending; // an EPT failure happened inside a guest page walk

    private ulong PhysAddrMask => ((1UL << Model.PhysicalAddressBits) - 1) & ~0xFFFUL;

    /// <summary>Starts or stops EPT translation at VM entry / exit.</summary>
    private void SetEpt(bool on, ulong eptp)
    {
        _eptOn = on;
        _eptRoot = eptp & PhysAddrMask;
        _eptPending = false;
    }

    /// <summary>
    /// Translates guest-physical <paramref name="gpa"/> through the EPT paging structures (SDM Vol. 3C,
    /// 28.2.2-28.2.3). On failure records the VM exit to take (violation with its qualification, or
    /// misconfiguration) and returns false.
    /// </summary>
    private bool EptTranslate(ulong gpa, Access access, bool final, ulong gla, bool glaValid, out ulong hpa)
    {
        hpa = 0;
        ulong cap = Model.Vmx!.EptVpidCapabilities;
        int maxPa = Model.PhysicalAddressBits;
        ulong reservedHigh = maxPa < 52 ? ((1UL << 52) - 1) & ~((1UL << maxPa) - 1) : 0;
        ulong table = _eptRoot;
        ulong rwx = 7;
        for (int level = 4; level >= 1; level--)
        {
            int shift = 12 + 9 * (level - 1);
            ulong e = ReadPhysical(table + ((gpa >> shift) & 511) * 8, 8);
            ulong perm = e & 7;
            if (perm == 0) return EptViolation(gpa, access, 0, final, gla, glaValid);
            bool large = (e & 0x80) != 0 && level is 2 or 3;
            bool leaf = level == 1 || large;
            // Misconfigurations (28.2.3.1): write without read, execute-only where not offered,
            // reserved bits, unsupported large pages, reserved memory types.
            bool bad = perm is 2 or 6 || (perm == 4 && (cap & EptVpidCapability.ExecuteOnly) == 0) || (e & reservedHigh) != 0;
            if (level == 4) bad |= (e & 0xF8) != 0;
            else if (!leaf) bad |= (e & 0x78) != 0;
            if (large)
            {
                bad |= level == 3 ? (cap & EptVpidCapability.Pdpte1GbPages) == 0 || (e & 0x3FFF_F000) != 0
                                  : (cap & EptVpidCapability.Pde2MbPages) == 0 || (e & 0x1F_F000) != 0;
            }
            if (leaf) bad |= ((e >> 3) & 7) is 2 or 3 or 7;
            if (bad)
            {
                _eptExitReason = VmxExitReason.EptMisconfiguration;
                _eptGpa = gpa;
                _eptGla = 0;
                _eptQual = 0;
                return false;
            }
            rwx &= perm;
            if (leaf)
            {
                ulong need = access switch { Access.Write => 2, Access.Execute => 4, _ => 1 };
                if ((rwx & need) == 0) return EptViolation(gpa, access, rwx, final, gla, glaValid);
                ulong pageMask = (1UL << shift) - 1;
                hpa = (e & PhysAddrMask & ~pageMask) | (gpa & pageMask);
                return true;
            }
            table = e & PhysAddrMask;
        }
        return false; // not reached: level 1 is always a leaf
    }

    private bool EptViolation(ulong gpa, Access access, ulong rwx, bool final, ulong gla, bool glaValid)
    {
        ulong q = access switch { Access.Write => 2UL, Access.Execute => 4UL, _ => 1UL };
        q |= rwx << 3;
        if (glaValid)
        {
            q |= 1UL << 7;
            if (final) q |= 1UL << 8;
        }
        _eptExitReason = VmxExitReason.EptViolation;
        _eptGpa = gpa;
        _eptGla = glaValid ? gla : 0;
        _eptQual = q;
        return false;
    }

    /// <summary>Raises the recorded EPT failure through the fault path (handlers stop, nothing commits).</summary>
    private bool RaiseEptExit() => Fault((ExceptionVector)EptExitVector);

    /// <summary>Takes the VM exit for the recorded EPT failure (SDM Vol. 3C, 27.2.1): GPA, guest-linear address, qualification (bit 12 after an IRET that unblocked NMIs).</summary>
    private void TakeEptExit()
    {
        ulong qual = _eptQual;
        if (_eptExitReason == VmxExitReason.EptViolation && _iretNmiUnblockAt == _retired && _vectoringInfo == 0
            && !(NrPin(PinBasedControls.NmiExiting) && !NrPin(PinBasedControls.VirtualNmis)))
            qual |= 1UL << 12;
        if (_vectoringInfo == 0) _rflags |= (ulong)RFlags.RF;
        Vmcs.Write(VmcsField.GuestPhysicalAddress, _eptGpa);
        VmExit(_eptExitReason, _eptExitReason == VmxExitReason.EptViolation ? qual : 0, guestRip: _rip,
            guestLinear: (_eptQual & (1UL << 7)) != 0 ? _eptGla : null);
    }

    /// <summary>Guest paging-structure accesses under EPT: each guest-physical address is translated; a failure is recorded and reads as 0.</summary>
    private readonly struct EptWalkAccess(Cpu cpu, ulong gla) : IPhysicalMemoryAccess
    {
        private bool Map(ulong gpa, Access access, out ulong hpa)
        {
            hpa = 0;
            if (cpu._eptPending) return false;
            if (cpu.EptTranslate(gpa, access, final: false, gla, glaValid: true, out hpa)) return true;
            cpu._eptPending = true;
            return false;
        }

        public ulong ReadU64(ulong address) => Map(address, Access.Read, out ulong h) ? cpu.ReadPhysical(h, 8) : 0;
        public uint ReadU32(ulong address) => Map(address, Access.Read, out ulong h) ? (uint)cpu.ReadPhysical(h, 4) : 0;
        public void WriteU64(ulong address, ulong value) { if (Map(address, Access.Write, out ulong h)) cpu.WritePhysical(h, 8, value); }
        public void WriteU32(ulong address, uint value) { if (Map(address, Access.Write, out ulong h)) cpu.WritePhysical(h, 4, value); }
    }

    /// <summary>The guest page walk and final translation under EPT (called by <see cref="Translate"/> when EPT is on).</summary>
    private bool TranslateEpt(ulong lin, Access access, PageAccess acc, out ulong pa)
    {
        pa = 0;
        ulong gpa;
        if ((_cr0 & Cr0.PG) == 0)
        {
            gpa = lin;
            _lastRights = PageRights.All;
            _lastDirty = true;
            _lastGlobal = false;
        }
        else
        {
            _eptPending = false;
            var r = PageWalker.Walk(new EptWalkAccess(this, lin), in _paging, lin, acc);
            if (_eptPending)
            {
                _eptPending = false;
                return RaiseEptExit();
            }
            if (!TakeWalk(in r, lin)) return false;
            gpa = r.PhysicalAddress;
        }
        if (!EptTranslate(gpa, access, final: true, lin, glaValid: true, out pa)) return RaiseEptExit();
        return true;
    }

    /// <summary>Loads the PAE PDPTEs from guest CR3 through EPT (MOV to CR3/CR0/CR4 in a PAE guest).</summary>
    private bool LoadPdptesEpt(ulong cr3, out PaePdptes pdptes)
    {
        _eptPending = false;
        bool ok = PageWalker.LoadPdptes(new EptWalkAccess(this, 0), cr3, Model.PhysicalAddressBits, out pdptes);
        if (_eptPending)
        {
            _eptPending = false;
            // A PDPTE load by MOV to CR has no guest-linear address (qualification bit 7 clear).
            _eptQual &= ~(3UL << 7);
            RaiseEptExit();
            return false;
        }
        return ok;
    }
}

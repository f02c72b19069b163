using Vtx.Memory.Paging;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // EPT (SDM Vol. 3C, chapter 28; chapter 29 in 2020+ editions): with "enable EPT" in non-root
    // operation every guest-physical address — the final address of a linear translation, every guest
    // paging-structure access and the PAE PDPTE loads — is translated through the 4-level EPT paging
    // structures. A failed translation is an EPT violation (exit 48), an EPT misconfiguration (exit 49)
    // or a page-modification log-full event (exit 62). It is raised like a fault (a private vector) so
    // every instruction handler stops without committing, then turned into the VM exit (or, for a
    // convertible violation, a #VE in the guest) by the fault path or, during event delivery, into the
    // VM exit with IDT-vectoring information.
    // Modelled: accessed/dirty flags (EPTP bit 6), page-modification logging, EPT-violation #VE,
    // mode-based execute control, cached guest-physical mappings (Cpu.EptTlb.cs).
    // Not modelled: sub-page write permissions, memory types (PAT/MTRR combination), 5-level EPT,
    // supervisor shadow-stack control, advanced VM-exit information (qualification bits 9-11).

    /// <summary>The private "vector" an EPT violation/misconfiguration/PML-full event is carried by through the fault path.</summary>
    private const byte EptExitVector = 0xFE;

    // EPT paging-structure entry bits (SDM Vol. 3C, 28.2.2, Tables 28-1 to 28-6).
    private const ulong EptRead = 1, EptWrite = 2, EptExec = 4, EptLarge = 1UL << 7, EptAccessed = 1UL << 8,
        EptDirty = 1UL << 9, EptUserExec = 1UL << 10, EptSuppressVe = 1UL << 63;

    /// <summary>What a guest-physical access is for: it decides how EPT A/D treats it and how a violation is reported.</summary>
    private enum GpaUse : byte
    {
        /// <summary>The final guest-physical address of a linear access (or any access with guest paging off).</summary>
        Final,
        /// <summary>A guest paging-structure entry read or its A/D update during a guest page walk.</summary>
        GuestPaging,
        /// <summary>A PAE PDPTE load by MOV to CR0/CR3/CR4 (no guest-linear address; never treated as a write).</summary>
        PdpteLoad,
    }

    private bool _eptOn;
    private ulong _eptRoot;          // EPTRTA: EPTP bits 51:12 (within MAXPHYADDR)
    private bool _eptAd;             // EPTP bit 6: accessed and dirty flags
    private bool _eptMbec;           // "mode-based execute control for EPT"
    private bool _eptPml;            // "enable PML" (logs only with _eptAd)
    private bool _eptVe;             // "EPT-violation #VE"
    private ulong _pmlAddress, _veInfoAddress;
    private VmxExitReason _eptExitReason;
    private ulong _eptGpa, _eptGla, _eptQual;
    private bool _eptConvertible;    // the recorded violation's deciding entry has suppress #VE = 0
    private bool _eptPending;        // an EPT failure happened inside a guest page walk

    private ulong PhysAddrMask => ((1UL << Model.PhysicalAddressBits) - 1) & ~0xFFFUL;

    /// <summary>Starts or stops EPT translation at VM entry / exit, taking the controls it depends on from the current VMCS.</summary>
    private void SetEpt(bool on, ulong eptp)
    {
        _eptOn = on;
        _eptPending = false;
        if (!on)
        {
            _eptRoot = 0;
            _eptAd = _eptMbec = _eptPml = _eptVe = false;
            return;
        }
        _eptMbec = NrProc2(SecondaryProcessorBasedControls.ModeBasedExecuteControl);
        _eptPml = NrProc2(SecondaryProcessorBasedControls.EnablePml);
        _eptVe = NrProc2(SecondaryProcessorBasedControls.EptViolationVe);
        _pmlAddress = _eptPml ? Vmcs.Read(VmcsField.PmlAddress) : 0;
        _veInfoAddress = _eptVe ? Vmcs.Read(VmcsField.VirtualizationExceptionInformationAddress) : 0;
        LoadEptp(eptp);
    }

    /// <summary>Makes <paramref name="eptp"/> the EPT pointer in use (VM entry, EPTP switching).</summary>
    private void LoadEptp(ulong eptp)
    {
        _eptRoot = eptp & PhysAddrMask;
        // VM entry and VMFUNC accept bit 6 only where A/D flags are offered (26.2.1.1).
        _eptAd = (eptp & (1UL << 6)) != 0;
    }

    /// <summary>
    /// Translates guest-physical <paramref name="gpa"/> through EPT (SDM Vol. 3C, 28.2.2-28.2.5, 28.3):
    /// a cached guest-physical mapping when one allows the access without a flag update, else a walk of
    /// the EPT paging structures that checks for misconfigurations (28.2.3.1) and violations (28.2.3.2),
    /// sets accessed/dirty flags (28.2.4) and logs newly dirtied pages (28.2.5, PML). On failure records
    /// the VM exit to take and returns false.
    /// </summary>
    /// <param name="gpa">The guest-physical address.</param>
    /// <param name="access">Read, write or instruction fetch.</param>
    /// <param name="use">What the access is for.</param>
    /// <param name="gla">The guest-linear address that led to the access (when <paramref name="use"/> is not <see cref="GpaUse.PdpteLoad"/>).</param>
    /// <param name="userFetch">An instruction fetch from a user-mode linear address (U/S = 1 at every guest paging level): checked against bit 10 under mode-based execute control.</param>
    /// <param name="hpa">The host-physical address.</param>
    private bool EptTranslate(ulong gpa, Access access, GpaUse use, ulong gla, bool userFetch, out ulong hpa)
    {
        // With A/D flags on, guest paging-structure accesses are writes for EPT (28.2.4): they need
        // write permission and set the dirty flag. PDPTE loads are the documented exception.
        bool write = access == Access.Write || (_eptAd && use == GpaUse.GuestPaging);
        ulong need = access == Access.Execute ? (_eptMbec && userFetch ? EptUserExec : EptExec) : write ? EptWrite : EptRead;
        if (EptTlbLookup(gpa, need, write, out hpa)) return true;

        ulong cap = Model.Vmx!.EptVpidCapabilities;
        int maxPa = Model.PhysicalAddressBits;
        ulong reservedHigh = maxPa < 52 ? ((1UL << 52) - 1) & ~((1UL << maxPa) - 1) : 0;
        ulong presentMask = _eptMbec ? EptRead | EptWrite | EptExec | EptUserExec : EptRead | EptWrite | EptExec;
        Span<ulong> addresses = stackalloc ulong[4];
        Span<ulong> entries = stackalloc ulong[4];
        ulong table = _eptRoot;
        ulong rights = ulong.MaxValue; // AND of every entry used
        for (int level = 4; level >= 1; level--)
        {
            int shift = 12 + 9 * (level - 1);
            ulong address = table + ((gpa >> shift) & 511) * 8;
            ulong e = ReadPhysical(address, 8);
            if ((e & presentMask) == 0)
                return EptViolation(gpa, access, use, write, 0, convertible: (e & EptSuppressVe) == 0, gla);
            bool large = (e & EptLarge) != 0 && level is 2 or 3;
            bool leaf = level == 1 || large;
            // Misconfigurations (28.2.3.1): write without read, execute-only where not offered,
            // reserved bits, unsupported large pages, reserved memory types.
            ulong perm = e & 7;
            bool executeOnly = perm == 4 || (perm == 0 && (e & EptUserExec) != 0);
            bool bad = (perm & 3) == 2 || (executeOnly && (cap & EptVpidCapability.ExecuteOnly) == 0) || (e & reservedHigh) != 0;
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
                _eptConvertible = false;
                return false;
            }
            rights &= e;
            int n = 4 - level;
            addresses[n] = address;
            entries[n] = e;
            if (!leaf)
            {
                table = e & PhysAddrMask;
                continue;
            }
            if ((rights & need) == 0)
                return EptViolation(gpa, access, use, write, rights, convertible: (e & EptSuppressVe) == 0, gla);
            ulong pageMask = (1UL << shift) - 1;
            hpa = (e & PhysAddrMask & ~pageMask) | (gpa & pageMask);
            bool dirty = (e & EptDirty) != 0;
            if (_eptAd && !SetEptFlags(gpa, addresses[..(n + 1)], entries[..(n + 1)], write, ref dirty)) return false;
            EptTlbFill(gpa, hpa, rights, accessed: _eptAd || AllAccessed(entries[..(n + 1)]), dirty);
            return true;
        }
        return false; // not reached: level 1 is always a leaf
    }

    private static bool AllAccessed(ReadOnlySpan<ulong> entries)
    {
        foreach (ulong e in entries) if ((e & EptAccessed) == 0) return false;
        return true;
    }

    /// <summary>
    /// Sets the accessed flag of every entry of a successful translation and, for a write, the dirty
    /// flag of the entry that maps the page (SDM Vol. 3C, 28.2.4). With PML (28.2.5): an update that
    /// is needed while the PML index is outside 0-511 is a page-modification log-full event (no flag
    /// is set, the access does not happen); a dirty flag set from 0 to 1 logs the 4-KByte aligned
    /// guest-physical address at PML address + 8 * index and decrements the index.
    /// </summary>
    private bool SetEptFlags(ulong gpa, ReadOnlySpan<ulong> addresses, ReadOnlySpan<ulong> entries, bool write, ref bool dirty)
    {
        int leaf = entries.Length - 1;
        bool any = write && (entries[leaf] & EptDirty) == 0;
        for (int i = 0; i <= leaf && !any; i++) any = (entries[i] & EptAccessed) == 0;
        if (!any) return true;
        ushort index = 0;
        if (_eptPml)
        {
            index = (ushort)Vmcs.Read(VmcsField.PmlIndex);
            if (index > 511)
            {
                _eptExitReason = VmxExitReason.PmlFull;
                _eptGpa = gpa;
                _eptGla = 0;
                _eptQual = 0;
                _eptConvertible = false;
                return false;
            }
        }
        for (int i = 0; i <= leaf; i++)
        {
            ulong set = i == leaf && write ? EptAccessed | EptDirty : EptAccessed;
            if ((entries[i] & set) != set) WritePhysical(addresses[i], 8, entries[i] | set);
        }
        if (write && !dirty)
        {
            dirty = true;
            if (_eptPml)
            {
                WritePhysical(_pmlAddress + 8UL * index, 8, gpa & ~0xFFFUL);
                Vmcs.Write(VmcsField.PmlIndex, (ushort)(index - 1));
            }
        }
        return true;
    }

    /// <summary>
    /// Records an EPT violation (SDM Vol. 3C, 28.2.3.2) with its exit qualification (27.2.1, Table
    /// 27-7): bits 2:0 the access (a guest paging-structure access that A/D flags make a write sets
    /// bits 0 and 1), bits 5:3 the AND of bits 2:0 over the entries used, bit 6 the AND of bit 10
    /// under mode-based execute control, bits 8:7 the guest-linear-address information. Drops any
    /// cached mapping of the address (28.3.3.1: an EPT violation invalidates them).
    /// </summary>
    private bool EptViolation(ulong gpa, Access access, GpaUse use, bool write, ulong rights, bool convertible, ulong gla)
    {
        ulong q = access switch { Access.Execute => 4UL, _ => write ? 2UL : 1UL };
        if (use == GpaUse.GuestPaging && _eptAd) q |= 3;
        q |= (rights & 7) << 3;
        if (_eptMbec && (rights & EptUserExec) != 0) q |= 1UL << 6;
        bool glaValid = use != GpaUse.PdpteLoad;
        if (glaValid)
        {
            q |= 1UL << 7;
            if (use == GpaUse.Final) q |= 1UL << 8;
        }
        _eptExitReason = VmxExitReason.EptViolation;
        _eptGpa = gpa;
        _eptGla = glaValid ? gla : 0;
        _eptQual = q;
        _eptConvertible = convertible;
        EptTlbInvalidate(gpa);
        return false;
    }

    /// <summary>Raises the recorded EPT failure through the fault path (handlers stop, nothing commits).</summary>
    private bool RaiseEptExit() => Fault((ExceptionVector)EptExitVector);

    /// <summary>
    /// Takes the VM exit for the recorded EPT failure (SDM Vol. 3C, 27.2.1): GPA, guest-linear address,
    /// qualification (bit 12 after an IRET that unblocked NMIs, for violations and PML-full events).
    /// A convertible EPT violation becomes a virtualization exception instead (25.5.6): then the
    /// pending fault is rewritten to #VE for the caller to deliver, and this returns false.
    /// </summary>
    private bool TakeEptExit()
    {
        ulong qual = _eptQual;
        bool misconfig = _eptExitReason == VmxExitReason.EptMisconfiguration;
        if (!misconfig && _iretNmiUnblockAt == _retired && _vectoringInfo == 0
            && !(NrPin(PinBasedControls.NmiExiting) && !NrPin(PinBasedControls.VirtualNmis)))
            qual |= 1UL << 12;
        if (_eptExitReason == VmxExitReason.EptViolation && ConvertToVirtualizationException(qual)) return false;
        if (_vectoringInfo == 0) _rflags |= (ulong)RFlags.RF;
        if (_eptExitReason != VmxExitReason.PmlFull) Vmcs.Write(VmcsField.GuestPhysicalAddress, _eptGpa);
        VmExit(_eptExitReason, misconfig ? 0 : qual, guestRip: _rip,
            guestLinear: (_eptQual & (1UL << 7)) != 0 ? _eptGla : null);
        return true;
    }

    /// <summary>
    /// SDM Vol. 3C, 25.5.6.1-25.5.6.3: with "EPT-violation #VE" = 1, a convertible EPT violation (the
    /// entry that decided it — the not-present entry, or the entry mapping the page — has suppress #VE,
    /// bit 63, clear) causes a virtualization exception when CR0.PE = 1, no event is being delivered
    /// through the IDT and the dword at offset 4 of the virtualization-exception information area is 0.
    /// The area receives exit reason 48, FFFFFFFFh (the semaphore), the exit qualification, the
    /// guest-linear and guest-physical addresses and the EPTP index (Table 25-1); the #VE (vector 20,
    /// no error code) is then a fault of the instruction like any other exception (the exception bitmap
    /// may turn it into a VM exit).
    /// </summary>
    private bool ConvertToVirtualizationException(ulong qual)
    {
        if (!_eptVe || !_eptConvertible || (_cr0 & Cr0.PE) == 0 || _vectoringInfo != 0) return false;
        ulong area = _veInfoAddress;
        if ((uint)ReadPhysical(area + 4, 4) != 0) return false;
        WritePhysical(area, 4, (uint)VmxExitReason.EptViolation);
        WritePhysical(area + 4, 4, 0xFFFF_FFFF);
        WritePhysical(area + 8, 8, qual);
        WritePhysical(area + 16, 8, (qual & (1UL << 7)) != 0 ? _eptGla : 0);
        WritePhysical(area + 24, 8, _eptGpa);
        WritePhysical(area + 32, 2, Vmcs.Read(VmcsField.EptpIndex) & 0xFFFF);
        _faultVector = (byte)ExceptionVector.VE;
        _faultError = 0;
        _faultHasError = false;
        return true;
    }

    /// <summary>Guest paging-structure accesses under EPT: each guest-physical address is translated; a failure is recorded and reads as 0.</summary>
    private readonly struct EptWalkAccess(Cpu cpu, ulong gla, GpaUse use) : IPhysicalMemoryAccess
    {
        private bool Map(ulong gpa, Access access, out ulong hpa)
        {
            hpa = 0;
            if (cpu._eptPending) return false;
            if (cpu.EptTranslate(gpa, access, use, gla, userFetch: false, out hpa)) return true;
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
        bool userFetch = false;
        if ((_cr0 & Cr0.PG) == 0)
        {
            // Without guest paging every linear address is a supervisor-mode address (MBEC checks bit 2).
            gpa = lin;
            _lastRights = PageRights.All;
            _lastDirty = true;
            _lastGlobal = false;
        }
        else
        {
            _eptPending = false;
            var r = PageWalker.Walk(new EptWalkAccess(this, lin, GpaUse.GuestPaging), in _paging, lin, acc);
            if (_eptPending)
            {
                _eptPending = false;
                return RaiseEptExit();
            }
            if (!TakeWalk(in r, lin)) return false;
            gpa = r.PhysicalAddress;
            userFetch = (r.Rights & PageRights.User) != 0;
        }
        if (!EptTranslate(gpa, access, GpaUse.Final, lin, userFetch, out pa)) return RaiseEptExit();
        return true;
    }

    /// <summary>Loads the PAE PDPTEs from guest CR3 through EPT (MOV to CR3/CR0/CR4 in a PAE guest).</summary>
    private bool LoadPdptesEpt(ulong cr3, out PaePdptes pdptes)
    {
        _eptPending = false;
        bool ok = PageWalker.LoadPdptes(new EptWalkAccess(this, 0, GpaUse.PdpteLoad), cr3, Model.PhysicalAddressBits, out pdptes);
        if (_eptPending)
        {
            _eptPending = false;
            RaiseEptExit();
            return false;
        }
        return ok;
    }
}

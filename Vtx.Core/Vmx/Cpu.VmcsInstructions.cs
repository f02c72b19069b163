using Vtx.Decoding;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE (SDM Vol. 3C, 30.3) with the checks in the SDM's
    // order. Active VMCSs live in a cache keyed by region address, as on real parts; VMCLEAR writes
    // one back to memory and marks it clear.

    private readonly Dictionary<ulong, Vmcs> _activeVmcs = new();

    /// <summary>The current VMCS, or null (VMREAD/VMWRITE-level access for the host: read and write any field).</summary>
    public Vmcs? CurrentVmcs => _currentVmcs == ulong.MaxValue ? null : Vmcs;

    /// <summary>Deep copies of the active VMCSs (machine snapshots).</summary>
    internal List<Vmcs> CloneActiveVmcs() => _activeVmcs.Values.Select(v => v.Clone()).ToList();

    /// <summary>Replaces the active VMCSs with copies of <paramref name="saved"/> (machine snapshots).</summary>
    internal void RestoreActiveVmcs(List<Vmcs> saved)
    {
        _activeVmcs.Clear();
        _vmcsCache = null;
        foreach (var v in saved) _activeVmcs[v.Address] = v.Clone();
    }

    /// <summary>
    /// The prelude shared by VMX instructions other than VMXON (SDM Vol. 3C, 30.3): #UD outside VMX
    /// operation or in the wrong mode; in VMX non-root operation the VM exit <paramref name="reason"/>
    /// (before the CPL check); #GP(0) above CPL 0. Returns true when the instruction proceeds.
    /// </summary>
    private bool VmxPrelude(ref DecodedInstruction d, VmxExitReason reason)
    {
        if (!_vmxOn || VmxModeUd()) return Fault(ExceptionVector.UD);
        if (_nonRoot) { ExitForVmxInstruction(ref d, reason); return false; }
        if (_cpl > 0) return FaultGp0();
        return true;
    }

    private bool BadPhysicalAddress(ulong pa) => (pa & 0xFFF) != 0 || (pa >> Model.PhysicalAddressBits) != 0;

    /// <summary>VMfailValid also records the error in the current VMCS's VM-instruction error field (4400h).</summary>
    private void VmFailRecord(VmInstructionError error)
    {
        VmFail(error);
        if (_currentVmcs != ulong.MaxValue) Vmcs.Write(VmcsField.VmInstructionError, (uint)error);
    }

    private void ExecVmclear(ref DecodedInstruction d)
    {
        if (!VmxPrelude(ref d, VmxExitReason.Vmclear)) return;
        if (!Read(Lin(ref d), 8, out ulong pa, d.Segment == 2)) return;
        if (BadPhysicalAddress(pa)) { VmFailRecord(VmInstructionError.VmclearInvalidAddress); return; }
        if (pa == _vmxonPointer) { VmFailRecord(VmInstructionError.VmclearVmxonPointer); return; }
        // Write the VMCS data back to its region (the revision id and abort indicator stay as software wrote them).
        var image = new byte[Vmcs.ImageSize];
        _mem.Read(pa, image);
        var vmcs = _activeVmcs.TryGetValue(pa, out var active) ? active : Vmcs.Load(pa, image);
        vmcs.Launched = false;
        vmcs.Store(image);
        _mem.Write(pa + 8, image.AsSpan(8));
        _activeVmcs.Remove(pa);
        _vmcsCache = null;
        if (pa == _currentVmcs) _currentVmcs = ulong.MaxValue;
        VmSucceed();
    }

    /// <summary>Makes the VMCS at <paramref name="pa"/> active (loaded into the processor's VMCS cache from its region), if it is not yet.</summary>
    private Vmcs ActivateVmcs(ulong pa)
    {
        if (_activeVmcs.TryGetValue(pa, out var v)) return v;
        var image = new byte[Vmcs.ImageSize];
        _mem.Read(pa, image);
        v = Vmcs.Load(pa, image);
        v.IsShadow = (image[3] & 0x80) != 0;
        _activeVmcs[pa] = v;
        _vmcsCache = null;
        return v;
    }

    private void ExecVmptrld(ref DecodedInstruction d)
    {
        if (!VmxPrelude(ref d, VmxExitReason.Vmptrld)) return;
        if (!Read(Lin(ref d), 8, out ulong pa, d.Segment == 2)) return;
        if (BadPhysicalAddress(pa)) { VmFailRecord(VmInstructionError.VmptrldInvalidAddress); return; }
        if (pa == _vmxonPointer) { VmFailRecord(VmInstructionError.VmptrldVmxonPointer); return; }
        uint revision = (uint)ReadPhysical(pa, 4);
        // A shadow VMCS (bit 31) may be made current only when VMCS shadowing is offered (SDM 30.3
        // VMPTRLD); VMLAUNCH/VMRESUME then refuse it (26.1), VMREAD/VMWRITE use it as any VMCS.
        if ((revision & 0x7FFF_FFFF) != Model.Vmx!.RevisionId
            || ((revision & 0x8000_0000) != 0 && !Model.Vmx.Offers(VmxFeature.VmcsShadowing)))
        {
            VmFailRecord(VmInstructionError.VmptrldIncorrectRevisionId);
            return;
        }
        ActivateVmcs(pa);
        _currentVmcs = pa;
        VmSucceed();
    }

    private void ExecVmptrst(ref DecodedInstruction d)
    {
        if (!VmxPrelude(ref d, VmxExitReason.Vmptrst)) return;
        if (!Write(Lin(ref d), 8, _currentVmcs, d.Segment == 2)) return;
        VmSucceed();
    }

    /// <summary>
    /// VMREAD r/m, reg: the encoding comes from the register (in 64-bit mode bits 63:32 must be 0);
    /// no current VMCS → VMfailInvalid; unsupported component → VMfail(12); a memory destination
    /// is written only after those checks (SDM Vol. 3C, 30.3 VMREAD). In VMX non-root operation
    /// with VMCS shadowing and a clear VMREAD-bitmap bit it reads the shadow VMCS the VMCS link
    /// pointer names (VMfailInvalid if that is FFFFFFFF_FFFFFFFFh) instead of exiting (24.10, 25.1.3).
    /// </summary>
    private void ExecVmread(ref DecodedInstruction d)
    {
        int size = _codeBits == 64 ? 8 : 4;
        if (!ShadowingPrelude(ref d, VmxExitReason.Vmread, VmcsField.VmreadBitmapAddress, GetReg(d.Reg2, size))) return;
        Vmcs? target = _nonRoot ? ShadowVmcs() : CurrentVmcs;
        if (target is null) { VmFailInvalid(); return; }
        ulong enc = GetReg(d.Reg2, size);
        var field = new VmcsField((uint)enc);
        if ((enc >> 32) != 0 || !field.IsValid || !Model.Vmx!.Supports(field.FullAccess))
        {
            VmFailRecord(VmInstructionError.UnsupportedVmcsComponent);
            return;
        }
        ulong v = target.Read(field) & Execution.Sz.Mask(size);
        if ((d.Flags & DecodedFlags.MemA) != 0) { if (!Write(Lin(ref d), size, v, d.Segment == 2)) return; }
        else SetReg(d.Reg, size, v);
        VmSucceed();
    }

    /// <summary>
    /// VMWRITE reg, r/m: a memory source is read before the component checks; unsupported component
    /// → VMfail(12); a VM-exit information field without IA32_VMX_MISC[29] → VMfail(13)
    /// (SDM Vol. 3C, 30.3 VMWRITE). Values wider than the field are truncated. In VMX non-root
    /// operation with VMCS shadowing and a clear VMWRITE-bitmap bit it writes the shadow VMCS the
    /// VMCS link pointer names instead of exiting (24.10, 25.1.3).
    /// </summary>
    private void ExecVmwrite(ref DecodedInstruction d)
    {
        int size = _codeBits == 64 ? 8 : 4;
        if (!ShadowingPrelude(ref d, VmxExitReason.Vmwrite, VmcsField.VmwriteBitmapAddress, GetReg(d.Reg, size))) return;
        Vmcs? target = _nonRoot ? ShadowVmcs() : CurrentVmcs;
        if (target is null) { VmFailInvalid(); return; }
        if (!ReadB(ref d, size, out ulong value)) return;
        value &= Execution.Sz.Mask(size);
        ulong enc = GetReg(d.Reg, size);
        var field = new VmcsField((uint)enc);
        var caps = Model.Vmx!;
        if ((enc >> 32) != 0 || !field.IsValid || !caps.Supports(field.FullAccess))
        {
            VmFailRecord(VmInstructionError.UnsupportedVmcsComponent);
            return;
        }
        if (field.IsReadOnly(caps)) { VmFailRecord(VmInstructionError.VmwriteReadOnlyComponent); return; }
        target.Write(field, value);
        VmSucceed();
    }
}

using Vtx.Vmx;
using E = Vtx.Vmx.VmcsEncoding;

namespace Vtx.Samples;

/// <summary>
/// L0's view of a VMCS12 (the VMCS L1 thinks it runs L2 with): which fields L0 emulates and where each
/// lives in L0's field store. The store is kept in L1's own VMCS region, in L0's format — launch state at
/// offset 8, field values from offset 16, 8 bytes per field (L0's choice: the SDM leaves the region's data
/// format to the implementation, SDM Vol. 3C 24.2) — and the C# lists here become L0's data tables, which
/// its assembler loops walk (copy VMCS12 into VMCS02, sync back, shadow-VMCS sync).
/// </summary>
internal sealed class NestedFields
{
    /// <summary>Offset of the launch-state byte in a VMCS12 region (L0's format).</summary>
    public const int LaunchState = 8;

    /// <summary>Every field L0 emulates: the full-access encodings the processor itself supports (L0 offers L1 what its hardware has).</summary>
    public IReadOnlyList<uint> All { get; }
    /// <summary>Guest-state fields: copied VMCS12 → VMCS02 on L1's VMLAUNCH/VMRESUME and back on a reflected exit.</summary>
    public IReadOnlyList<uint> Guest { get; }
    /// <summary>Control fields copied as they are into VMCS02 (the execution, exit and entry controls themselves are merged).</summary>
    public IReadOnlyList<uint> Controls { get; }
    /// <summary>Exit-information fields copied VMCS02 → VMCS12 on a reflected exit (not the VM-instruction error: an exit does not write it).</summary>
    public IReadOnlyList<uint> ExitInfo { get; }
    /// <summary>
    /// Fields L1's VMREAD/VMWRITE reach in the shadow VMCS without an exit (when L0 uses VMCS shadowing): the ones a
    /// hypervisor touches on every exit (<see cref="Hot"/>). Every shadowed field costs L0 a copy in each direction on
    /// every reflected exit and every VMLAUNCH/VMRESUME, so shadowing all of them would trade each VMREAD/VMWRITE exit
    /// saved for hundreds of L0 copies; the rarely used ones (host state, segment registers...) keep exiting.
    /// </summary>
    public IReadOnlyList<uint> Shadowed { get; }
    /// <summary>Host-state fields (copied VMCS01 → VMCS02 once: both have L0's host state).</summary>
    public IReadOnlyList<uint> Host { get; }

    /// <summary>The controls L0 merges itself instead of copying.</summary>
    public static readonly uint[] Merged =
    [
        E.PinBasedVmExecControls, E.PrimaryProcBasedVmExecControls, E.SecondaryProcBasedVmExecControls,
        E.TertiaryProcBasedVmExecControls, E.VmExitControls, E.VmEntryControls, E.SecondaryVmExitControls,
    ];

    /// <summary>The fields L0 shadows: exit information, the guest registers an exit handler reads or moves, and the controls it flips or injects with.</summary>
    public static readonly uint[] Hot =
    [
        E.ExitReason, E.ExitQualification, E.VmExitInterruptionInformation, E.VmExitInterruptionErrorCode, E.IdtVectoringInformation,
        E.IdtVectoringErrorCode, E.VmExitInstructionLength, E.VmExitInstructionInformation, E.GuestLinearAddress, E.GuestPhysicalAddress,
        E.GuestRip, E.GuestRsp, E.GuestRflags, E.GuestInterruptibilityState, E.GuestActivityState, E.GuestCr0, E.GuestCr3, E.GuestCr4,
        E.PinBasedVmExecControls, E.PrimaryProcBasedVmExecControls, E.ExceptionBitmap, E.VmEntryInterruptionInformation,
        E.VmEntryExceptionErrorCode, E.VmEntryInstructionLength, E.Cr0ReadShadow, E.Cr4ReadShadow,
    ];

    /// <summary>
    /// Fields L0 never shadows, so L1's VMREAD/VMWRITE of them always exit: the link pointer
    /// (L0 must see where L1 points it) and the VM-instruction error (L0 writes it when it fails an emulated
    /// instruction, without a shadow sync).
    /// </summary>
    public static readonly uint[] NotShadowed = [E.VmcsLinkPointer, E.VmInstructionError];

    private readonly Dictionary<uint, int> _offset = new();

    public NestedFields(VmxCapabilities caps)
    {
        All = VmcsField.AllFields.Where(f => caps.Supports(f)).Select(f => f.Encoding).ToList();
        for (int i = 0; i < All.Count; i++) _offset[All[i]] = 16 + 8 * i;
        if (16 + 8 * All.Count > 4096) throw new InvalidOperationException("the VMCS12 store does not fit in a 4-KiB region");
        static VmcsFieldType T(uint e) => new VmcsField(e).Type;
        Guest = All.Where(e => T(e) == VmcsFieldType.GuestState).ToList();
        Controls = All.Where(e => T(e) == VmcsFieldType.Control && !Merged.Contains(e)).ToList();
        ExitInfo = All.Where(e => T(e) == VmcsFieldType.ExitInformation && e != E.VmInstructionError).ToList();
        Host = All.Where(e => T(e) == VmcsFieldType.HostState).ToList();
        Shadowed = All.Where(e => Hot.Contains(e) && !NotShadowed.Contains(e)).ToList();
    }

    /// <summary>Byte offset of <paramref name="encoding"/>'s value in the store.</summary>
    public int Offset(uint encoding) => _offset[encoding];

    /// <summary>A table for L0's copy loops: (encoding, store offset) pairs of 32 bits each, ended by encoding FFFFFFFFh.</summary>
    public byte[] Table(IEnumerable<uint> fields)
    {
        var b = new List<byte>();
        foreach (uint e in fields)
        {
            b.AddRange(BitConverter.GetBytes(e));
            b.AddRange(BitConverter.GetBytes(Offset(e)));
        }
        b.AddRange(BitConverter.GetBytes(uint.MaxValue));
        b.AddRange(BitConverter.GetBytes(0));
        return b.ToArray();
    }

    /// <summary>
    /// L0's encoding → store-offset lookup: 16384 16-bit entries indexed by encoding bits 14:1 (0 = L0 does
    /// not support the field, so VMREAD/VMWRITE fail with VM-instruction error 12, SDM Vol. 3C 30.3).
    /// </summary>
    public byte[] Lookup()
    {
        var t = new byte[0x4000 * 2];
        foreach (uint e in All) BitConverter.GetBytes((ushort)Offset(e)).CopyTo(t, (int)((e & 0x7FFE) >> 1) * 2);
        return t;
    }

    /// <summary>
    /// A VMREAD or VMWRITE bitmap (SDM Vol. 3C, 24.6.15): bit n set = the access to encoding n exits. Every
    /// bit is set but those of <paramref name="passed"/> (full and, for 64-bit fields, high access).
    /// </summary>
    public static byte[] Bitmap(IEnumerable<uint> passed)
    {
        var b = Enumerable.Repeat((byte)0xFF, 4096).ToArray();
        foreach (uint e in passed)
        {
            Clear(e);
            if (new VmcsField(e).Width == VmcsFieldWidth.Bits64) Clear(e | 1);
        }
        return b;
        void Clear(uint e) => b[(e & 0x7FFF) >> 3] &= (byte)~(1 << (int)(e & 7));
    }
}

namespace Vtx.Vmx;

/// <summary>The guest activity state, VMCS field 4826h (SDM Vol. 3C, 24.4.2, Table 24-3); IA32_VMX_MISC[8:6] says which of 1-3 an entry accepts.</summary>
public enum GuestActivity : uint
{
    /// <summary>0: executing instructions normally.</summary>
    Active = 0,
    /// <summary>1: halted by HLT.</summary>
    Hlt = 1,
    /// <summary>2: shut down after a triple fault.</summary>
    Shutdown = 2,
    /// <summary>3: waiting for a startup IPI.</summary>
    WaitForSipi = 3,
}

/// <summary>The guest interruptibility state, VMCS field 4824h (SDM Vol. 3C, 24.4.2, Table 24-3); bits 31:5 are reserved.</summary>
[Flags]
public enum Interruptibility : uint
{
    /// <summary>No blocking.</summary>
    None = 0,
    /// <summary>Bit 0: blocking by STI (the instruction after an STI that set IF).</summary>
    BlockingBySti = 1,
    /// <summary>Bit 1: blocking by MOV SS / POP SS.</summary>
    BlockingByMovSs = 2,
    /// <summary>Bit 2: blocking by SMI (in SMM).</summary>
    BlockingBySmi = 4,
    /// <summary>Bit 3: blocking by NMI (virtual-NMI blocking when "virtual NMIs" is 1).</summary>
    BlockingByNmi = 8,
    /// <summary>Bit 4: enclave interruption (SGX; not modelled, so reserved here).</summary>
    EnclaveInterruption = 16,
    /// <summary>Bits 1:0, the two instruction shadows.</summary>
    StiOrMovSs = BlockingBySti | BlockingByMovSs,
}

/// <summary>
/// An interruption-information value: the VM-entry interruption-information field (4016h), the VM-exit
/// interruption information (4404h) and the IDT-vectoring information (4408h) share this layout (SDM Vol.
/// 3C, 24.8.3 Table 24-13, 24.9.2 Tables 24-15/24-16): vector 7:0, type 10:8, deliver-error-code 11, NMI
/// unblocking due to IRET 12 (exit information only), reserved 30:13, valid 31. Types 0 and 2-6 are the
/// <see cref="EventKind"/> values; 1 is reserved and 7 is "other event" (MTF injection).
/// </summary>
/// <param name="Value">The raw 32-bit field value.</param>
public readonly record struct InterruptionInfo(uint Value)
{
    /// <summary>Type 7, "other event" (with vector 0: a pending MTF VM exit injected at entry).</summary>
    public const int OtherEventType = 7;

    /// <summary>Bits 7:0: the vector.</summary>
    public byte Vector => (byte)Value;

    /// <summary>Bits 10:8: the interruption type, 0-7.</summary>
    public int Type => (int)(Value >> 8) & 7;

    /// <summary>The type as an event kind; meaningful when <see cref="Type"/> is not 1 (reserved) or 7 (other event).</summary>
    public EventKind Kind => (EventKind)Type;

    /// <summary>Bit 11: an error code is delivered (pushed) with the event.</summary>
    public bool DeliverErrorCode => (Value & 0x800) != 0;

    /// <summary>Bit 12 (VM-exit information only): the exit arose while IRET was unblocking NMIs.</summary>
    public bool NmiUnblockingDueToIret => (Value & 0x1000) != 0;

    /// <summary>Bits 30:12 of a VM-entry interruption-information field, which must be 0 (SDM 26.2.1.3).</summary>
    public uint EntryReservedBits => Value & 0x7FFF_F000;

    /// <summary>Bit 31: the information is valid.</summary>
    public bool Valid => (Value & 0x8000_0000) != 0;

    /// <summary>A valid value for an event of <paramref name="kind"/>.</summary>
    public static InterruptionInfo Create(EventKind kind, byte vector, bool deliverErrorCode = false) =>
        new(0x8000_0000 | (uint)kind << 8 | vector | (deliverErrorCode ? 0x800u : 0));

    /// <summary>The valid "other event" value (type 7, vector 0) that injects a pending MTF VM exit (SDM 26.5.2).</summary>
    public static InterruptionInfo OtherEvent => new(0x8000_0000 | OtherEventType << 8);

    /// <inheritdoc/>
    public override string ToString() => Valid ? $"{(Type is 1 or OtherEventType ? $"type {Type}" : Kind.ToString())} vector {Vector}{(DeliverErrorCode ? " +error code" : "")}" : "none";
}

/// <summary>The access a control-register exit reports, exit-qualification bits 5:4 (SDM Vol. 3C, Table 27-3).</summary>
public enum ControlRegisterAccessType
{
    /// <summary>0: MOV to CR.</summary>
    MovToCr = 0,
    /// <summary>1: MOV from CR.</summary>
    MovFromCr = 1,
    /// <summary>2: CLTS.</summary>
    Clts = 2,
    /// <summary>3: LMSW.</summary>
    Lmsw = 3,
}

/// <summary>
/// The exit qualification of a control-register access (exit reason 28; SDM Vol. 3C, 27.2.1 Table 27-3):
/// CR number 3:0, access type 5:4, LMSW operand type 6 (1 = memory), general-purpose register 11:8
/// (MOV CR), LMSW source data 31:16.
/// </summary>
/// <param name="Value">The raw qualification.</param>
public readonly record struct ControlRegisterAccessQualification(ulong Value)
{
    /// <summary>Bits 3:0: the control register (0 for CLTS and LMSW).</summary>
    public int ControlRegister => (int)(Value & 15);

    /// <summary>Bits 5:4: the kind of access.</summary>
    public ControlRegisterAccessType Access => (ControlRegisterAccessType)((Value >> 4) & 3);

    /// <summary>Bit 6: the LMSW operand was in memory.</summary>
    public bool LmswMemoryOperand => (Value & 0x40) != 0;

    /// <summary>Bits 11:8: the general-purpose register of a MOV CR (0 = RAX ... 15 = R15).</summary>
    public int Register => (int)((Value >> 8) & 15);

    /// <summary>Bits 31:16: the LMSW source data.</summary>
    public ushort LmswSourceData => (ushort)(Value >> 16);

    /// <summary>A MOV to/from CR, CLTS or LMSW qualification.</summary>
    public static ControlRegisterAccessQualification Create(int controlRegister, ControlRegisterAccessType access, int register,
        bool lmswMemoryOperand = false, ushort lmswSourceData = 0) =>
        new((uint)(controlRegister & 15) | (uint)access << 4 | (lmswMemoryOperand ? 0x40u : 0) | (uint)(register & 15) << 8 | (ulong)lmswSourceData << 16);
}

/// <summary>
/// The exit qualification of a MOV DR (exit reason 29; SDM Vol. 3C, 27.2.1 Table 27-4): debug register 2:0,
/// direction 4 (1 = MOV from DR), general-purpose register 11:8.
/// </summary>
/// <param name="Value">The raw qualification.</param>
public readonly record struct DebugRegisterAccessQualification(ulong Value)
{
    /// <summary>Bits 2:0: the debug register.</summary>
    public int DebugRegister => (int)(Value & 7);

    /// <summary>Bit 4: 1 for MOV from DR, 0 for MOV to DR.</summary>
    public bool FromDebugRegister => (Value & 0x10) != 0;

    /// <summary>Bits 11:8: the general-purpose register.</summary>
    public int Register => (int)((Value >> 8) & 15);

    /// <summary>A MOV DR qualification.</summary>
    public static DebugRegisterAccessQualification Create(int debugRegister, bool fromDebugRegister, int register) =>
        new((uint)(debugRegister & 7) | (fromDebugRegister ? 0x10u : 0) | (uint)(register & 15) << 8);
}

/// <summary>
/// The exit qualification of an I/O instruction (exit reason 30; SDM Vol. 3C, 27.2.1 Table 27-5): size of
/// access − 1 in 2:0 (0, 1 or 3), direction 3 (1 = IN/INS), string 4, REP 5, operand encoding 6 (1 = immediate
/// port), port number 31:16.
/// </summary>
/// <param name="Value">The raw qualification.</param>
public readonly record struct IoQualification(ulong Value)
{
    /// <summary>Bits 2:0 + 1: the access size in bytes (1, 2 or 4).</summary>
    public int Size => (int)(Value & 7) + 1;

    /// <summary>Bit 3: an input (IN, INS).</summary>
    public bool In => (Value & 8) != 0;

    /// <summary>Bit 4: a string instruction (INS, OUTS).</summary>
    public bool String => (Value & 0x10) != 0;

    /// <summary>Bit 5: the string instruction has a REP prefix.</summary>
    public bool Rep => (Value & 0x20) != 0;

    /// <summary>Bit 6: the port came from an immediate operand (0: from DX).</summary>
    public bool ImmediatePort => (Value & 0x40) != 0;

    /// <summary>Bits 31:16: the port.</summary>
    public ushort Port => (ushort)(Value >> 16);

    /// <summary>An I/O qualification.</summary>
    public static IoQualification Create(int size, bool input, bool isString, bool rep, bool immediatePort, ushort port) =>
        new((uint)(size - 1) & 7 | (input ? 8u : 0) | (isString ? 0x10u : 0) | (rep ? 0x20u : 0) | (immediatePort ? 0x40u : 0) | (ulong)port << 16);
}

/// <summary>
/// The exit qualification of an EPT violation (exit reason 48; SDM Vol. 3C, 27.2.1 Table 27-7): the access
/// (read 0, write 1, fetch 2), the permissions of the translation (readable 3, writable 4, executable 5,
/// user-mode executable 6 with mode-based execute control), guest-linear address valid 7, access to the
/// translated address (1) or to a paging-structure entry (0) 8, NMI unblocking due to IRET 12.
/// </summary>
/// <param name="Value">The raw qualification.</param>
public readonly record struct EptViolationQualification(ulong Value)
{
    /// <summary>Bit 0: the access was a data read.</summary>
    public bool Read => (Value & 1) != 0;

    /// <summary>Bit 1: the access was a data write.</summary>
    public bool Write => (Value & 2) != 0;

    /// <summary>Bit 2: the access was an instruction fetch.</summary>
    public bool Fetch => (Value & 4) != 0;

    /// <summary>Bit 3: the guest-physical address was readable (AND of the R bits of the EPT entries used).</summary>
    public bool Readable => (Value & 8) != 0;

    /// <summary>Bit 4: writable.</summary>
    public bool Writable => (Value & 0x10) != 0;

    /// <summary>Bit 5: executable (supervisor-mode executable with mode-based execute control).</summary>
    public bool Executable => (Value & 0x20) != 0;

    /// <summary>Bit 6: user-mode executable (mode-based execute control).</summary>
    public bool UserExecutable => (Value & 0x40) != 0;

    /// <summary>Bit 7: the guest-linear address field is valid.</summary>
    public bool GuestLinearAddressValid => (Value & 0x80) != 0;

    /// <summary>Bit 8 (with bit 7): the access was to the translated address, not to a guest paging-structure entry.</summary>
    public bool TranslatedAccess => (Value & 0x100) != 0;

    /// <summary>Bit 12: NMI unblocking due to IRET.</summary>
    public bool NmiUnblockingDueToIret => (Value & 0x1000) != 0;
}

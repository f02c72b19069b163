namespace Vtx;

/// <summary>The sixteen general-purpose registers in architectural encoding order (SDM Vol. 1, 3.4.1.1; Vol. 2, Table 2-2).</summary>
public enum Gpr
{
    /// <summary>RAX (0).</summary>
    Rax = 0,
    /// <summary>RCX (1).</summary>
    Rcx,
    /// <summary>RDX (2).</summary>
    Rdx,
    /// <summary>RBX (3).</summary>
    Rbx,
    /// <summary>RSP (4).</summary>
    Rsp,
    /// <summary>RBP (5).</summary>
    Rbp,
    /// <summary>RSI (6).</summary>
    Rsi,
    /// <summary>RDI (7).</summary>
    Rdi,
    /// <summary>R8.</summary>
    R8,
    /// <summary>R9.</summary>
    R9,
    /// <summary>R10.</summary>
    R10,
    /// <summary>R11.</summary>
    R11,
    /// <summary>R12.</summary>
    R12,
    /// <summary>R13.</summary>
    R13,
    /// <summary>R14.</summary>
    R14,
    /// <summary>R15.</summary>
    R15,
}

/// <summary>Segment registers in architectural encoding order (SDM Vol. 3A, 3.4.2).</summary>
public enum SegmentRegister
{
    /// <summary>ES (0).</summary>
    Es = 0,
    /// <summary>CS (1).</summary>
    Cs,
    /// <summary>SS (2).</summary>
    Ss,
    /// <summary>DS (3).</summary>
    Ds,
    /// <summary>FS (4).</summary>
    Fs,
    /// <summary>GS (5).</summary>
    Gs,
}

/// <summary>RFLAGS bits (SDM Vol. 1, 3.4.3, Figure 3-8).</summary>
[Flags]
public enum RFlags : ulong
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>Carry flag (bit 0).</summary>
    CF = 1UL << 0,
    /// <summary>Reserved bit 1, always reads 1.</summary>
    Reserved1 = 1UL << 1,
    /// <summary>Parity flag (bit 2): set when the low byte of a result has an even number of 1 bits.</summary>
    PF = 1UL << 2,
    /// <summary>Auxiliary carry flag (bit 4): carry/borrow out of bit 3.</summary>
    AF = 1UL << 4,
    /// <summary>Zero flag (bit 6).</summary>
    ZF = 1UL << 6,
    /// <summary>Sign flag (bit 7).</summary>
    SF = 1UL << 7,
    /// <summary>Trap flag (bit 8).</summary>
    TF = 1UL << 8,
    /// <summary>Interrupt enable flag (bit 9).</summary>
    IF = 1UL << 9,
    /// <summary>Direction flag (bit 10).</summary>
    DF = 1UL << 10,
    /// <summary>Overflow flag (bit 11).</summary>
    OF = 1UL << 11,
    /// <summary>I/O privilege level (bits 13:12).</summary>
    IOPL = 3UL << 12,
    /// <summary>Nested task (bit 14).</summary>
    NT = 1UL << 14,
    /// <summary>Resume flag (bit 16).</summary>
    RF = 1UL << 16,
    /// <summary>Virtual-8086 mode (bit 17).</summary>
    VM = 1UL << 17,
    /// <summary>Alignment check / access control (bit 18).</summary>
    AC = 1UL << 18,
    /// <summary>Virtual interrupt flag (bit 19).</summary>
    VIF = 1UL << 19,
    /// <summary>Virtual interrupt pending (bit 20).</summary>
    VIP = 1UL << 20,
    /// <summary>CPUID available (bit 21).</summary>
    ID = 1UL << 21,
    /// <summary>The six arithmetic status flags (CF, PF, AF, ZF, SF, OF).</summary>
    Status = CF | PF | AF | ZF | SF | OF,
}

/// <summary>Architectural exception and interrupt vectors 0-21 (SDM Vol. 3A, 6.3.1, Table 6-1).</summary>
public enum ExceptionVector : byte
{
    /// <summary>#DE divide error.</summary>
    DE = 0,
    /// <summary>#DB debug.</summary>
    DB = 1,
    /// <summary>NMI.</summary>
    NMI = 2,
    /// <summary>#BP breakpoint (INT3).</summary>
    BP = 3,
    /// <summary>#OF overflow (INTO).</summary>
    OF = 4,
    /// <summary>#BR BOUND range exceeded.</summary>
    BR = 5,
    /// <summary>#UD invalid opcode.</summary>
    UD = 6,
    /// <summary>#NM device not available.</summary>
    NM = 7,
    /// <summary>#DF double fault.</summary>
    DF = 8,
    /// <summary>#TS invalid TSS.</summary>
    TS = 10,
    /// <summary>#NP segment not present.</summary>
    NP = 11,
    /// <summary>#SS stack-segment fault.</summary>
    SS = 12,
    /// <summary>#GP general protection.</summary>
    GP = 13,
    /// <summary>#PF page fault.</summary>
    PF = 14,
    /// <summary>#MF x87 floating-point error.</summary>
    MF = 16,
    /// <summary>#AC alignment check.</summary>
    AC = 17,
    /// <summary>#MC machine check.</summary>
    MC = 18,
    /// <summary>#XM SIMD floating-point exception.</summary>
    XM = 19,
    /// <summary>#VE virtualization exception.</summary>
    VE = 20,
    /// <summary>#CP control-protection exception.</summary>
    CP = 21,
}

using System.Text;

namespace Vtx.Tests.Native;

/// <summary>General-purpose register indices in architectural (ModRM) order, as used by <see cref="CpuSnapshot.Gpr"/>.</summary>
public enum NativeGpr
{
    /// <summary>RAX (0).</summary>
    Rax = 0,
    /// <summary>RCX (1).</summary>
    Rcx = 1,
    /// <summary>RDX (2).</summary>
    Rdx = 2,
    /// <summary>RBX (3).</summary>
    Rbx = 3,
    /// <summary>RSP (4).</summary>
    Rsp = 4,
    /// <summary>RBP (5).</summary>
    Rbp = 5,
    /// <summary>RSI (6).</summary>
    Rsi = 6,
    /// <summary>RDI (7).</summary>
    Rdi = 7,
    /// <summary>R8.</summary>
    R8 = 8,
    /// <summary>R9.</summary>
    R9 = 9,
    /// <summary>R10.</summary>
    R10 = 10,
    /// <summary>R11.</summary>
    R11 = 11,
    /// <summary>R12.</summary>
    R12 = 12,
    /// <summary>R13.</summary>
    R13 = 13,
    /// <summary>R14.</summary>
    R14 = 14,
    /// <summary>R15.</summary>
    R15 = 15,
}

/// <summary>RFLAGS bit masks used by the native oracle.</summary>
public static class NativeRflags
{
    /// <summary>Carry flag (bit 0).</summary>
    public const ulong CF = 1UL << 0;
    /// <summary>Reserved bit 1, always reads as 1.</summary>
    public const ulong Reserved1 = 1UL << 1;
    /// <summary>Parity flag (bit 2).</summary>
    public const ulong PF = 1UL << 2;
    /// <summary>Auxiliary carry flag (bit 4).</summary>
    public const ulong AF = 1UL << 4;
    /// <summary>Zero flag (bit 6).</summary>
    public const ulong ZF = 1UL << 6;
    /// <summary>Sign flag (bit 7).</summary>
    public const ulong SF = 1UL << 7;
    /// <summary>Trap flag (bit 8). Never passed to the host.</summary>
    public const ulong TF = 1UL << 8;
    /// <summary>Interrupt enable flag (bit 9). Always 1 in user mode output; ignored on input.</summary>
    public const ulong IF = 1UL << 9;
    /// <summary>Direction flag (bit 10).</summary>
    public const ulong DF = 1UL << 10;
    /// <summary>Overflow flag (bit 11).</summary>
    public const ulong OF = 1UL << 11;
    /// <summary>Alignment check flag (bit 18). Never passed to the host (Linux sets CR0.AM, so AC=1 would enable #AC at CPL 3).</summary>
    public const ulong AC = 1UL << 18;

    /// <summary>The six arithmetic status flags: CF, PF, AF, ZF, SF, OF.</summary>
    public const ulong Status = CF | PF | AF | ZF | SF | OF;

    /// <summary>
    /// The input RFLAGS bits the oracle loads into the host: the status flags and DF.
    /// Every other input bit (TF, IF, IOPL, NT, RF, AC, ID, ...) is dropped; bit 1 is forced to 1.
    /// </summary>
    public const ulong InputMask = Status | DF;
}

/// <summary>
/// Architectural register state exchanged with the native oracle: the 16 GPRs, RFLAGS and the
/// address at which execution continued after the instruction under test.
/// </summary>
/// <remarks>
/// This is a struct holding an array, so copies share <see cref="Gpr"/>; use <see cref="Clone"/> for a deep copy.
/// <see cref="NativeExecutor.Run(ReadOnlySpan{byte}, in CpuSnapshot, Span{byte})"/> never mutates its input
/// and always returns a snapshot with a fresh array.
/// </remarks>
public struct CpuSnapshot
{
    /// <summary>Number of general-purpose registers (RAX..R15).</summary>
    public const int GprCount = 16;

    /// <summary>Creates a snapshot with all GPRs zero, RFLAGS = 0x2 (reserved bit only) and ExitRip = 0.</summary>
    public CpuSnapshot()
    {
        Gpr = new ulong[GprCount];
        Rflags = NativeRflags.Reserved1;
        ExitRip = 0;
    }

    /// <summary>
    /// The 16 GPRs in architectural order RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15
    /// (index with <see cref="NativeGpr"/>). May be null only for <c>default(CpuSnapshot)</c>, which reads as all zero.
    /// </summary>
    public ulong[] Gpr { get; set; }

    /// <summary>
    /// RFLAGS. On input only <see cref="NativeRflags.InputMask"/> is honoured. On output this is the raw value
    /// captured with PUSHFQ right after the instruction (so IF and bit 1 are set); mask it before comparing.
    /// </summary>
    public ulong Rflags { get; set; }

    /// <summary>
    /// Output only: where execution continued after the instruction under test —
    /// <see cref="NativeExecutor.CodeAddress"/> + length on fall-through, or <see cref="NativeExecutor.BranchTarget"/> /
    /// <see cref="NativeExecutor.ShortBranchTarget"/> when control reached a landing pad. Ignored on input.
    /// </summary>
    public ulong ExitRip { get; set; }

    /// <summary>
    /// x87/MMX/SSE state as a 512-byte FXSAVE64 image. On input: loaded with FXRSTOR64 before the instruction; null loads
    /// the FNINIT state with MXCSR 1F80h and XMM0-15 zero. The oracle refuses (ArgumentException) a state that unmasks
    /// an exception or has FSW.ES set (<see cref="FxState.UnsafeReason"/>), since a native #MF/#XM kills the process.
    /// On output: always set, stored with FXSAVE64 right after the instruction.
    /// </summary>
    public FxState? Fx { get; set; }

    /// <summary>Gets or sets one GPR by name.</summary>
    public readonly ulong this[NativeGpr register]
    {
        get => Gpr is null ? 0 : Gpr[(int)register];
        set => (Gpr ?? throw new InvalidOperationException("default(CpuSnapshot) has no register array; use new CpuSnapshot()"))[(int)register] = value;
    }

    /// <summary>RFLAGS restricted to the six status flags (CF, PF, AF, ZF, SF, OF).</summary>
    public readonly ulong StatusFlags => Rflags & NativeRflags.Status;

    /// <summary>
    /// A convenient starting state: all GPRs zero except RSP = <see cref="NativeExecutor.StackTop"/>,
    /// RFLAGS = 0x2.
    /// </summary>
    public static CpuSnapshot CreateDefault()
    {
        var s = new CpuSnapshot();
        s[NativeGpr.Rsp] = NativeExecutor.StackTop;
        return s;
    }

    /// <summary>Deep copy (the register array is copied).</summary>
    public readonly CpuSnapshot Clone() => new()
    {
        Gpr = Gpr is null ? new ulong[GprCount] : (ulong[])Gpr.Clone(),
        Rflags = Rflags,
        ExitRip = ExitRip,
        Fx = Fx?.Clone(),
    };

    /// <summary>Multi-line dump of all registers, RFLAGS and ExitRip, for assertion messages.</summary>
    public override readonly string ToString()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < GprCount; i++)
        {
            sb.Append(((NativeGpr)i).ToString().ToUpperInvariant().PadRight(4)).Append('=')
              .Append(this[(NativeGpr)i].ToString("X16"));
            sb.Append(i % 4 == 3 ? '\n' : ' ');
        }
        sb.Append("RFLAGS=").Append(Rflags.ToString("X8"))
          .Append(" [").Append(FormatFlags(Rflags)).Append("] ExitRip=").Append(ExitRip.ToString("X"));
        if (Fx is not null) sb.Append('\n').Append(Fx.ToString().TrimEnd());
        return sb.ToString();
    }

    /// <summary>Formats the status flags and DF of <paramref name="rflags"/> as e.g. "CF ZF -- ..".</summary>
    public static string FormatFlags(ulong rflags)
    {
        static string F(ulong v, ulong bit, string name) => (v & bit) != 0 ? name : "--";
        return string.Join(' ',
            F(rflags, NativeRflags.CF, "CF"), F(rflags, NativeRflags.PF, "PF"), F(rflags, NativeRflags.AF, "AF"),
            F(rflags, NativeRflags.ZF, "ZF"), F(rflags, NativeRflags.SF, "SF"), F(rflags, NativeRflags.DF, "DF"),
            F(rflags, NativeRflags.OF, "OF"));
    }
}

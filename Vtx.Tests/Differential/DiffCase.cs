using System.Text;
using Iced.Intel;

namespace Vtx.Tests.Differential;

/// <summary>
/// What the SDM leaves undefined for one concrete case: RFLAGS bits, GPR bits and memory bytes
/// that are not compared. Every mask carries a reason naming the SDM instruction page.
/// </summary>
public sealed class Undefined
{
    private readonly ulong[] _gpr = new ulong[16];
    private readonly List<(ulong Address, int Length)> _memory = new();
    private readonly List<string> _reasons = new();

    /// <summary>RFLAGS bits not compared.</summary>
    public ulong Flags { get; private set; }

    /// <summary>Per-GPR bits not compared.</summary>
    public IReadOnlyList<ulong> Gpr => _gpr;

    /// <summary>Why each mask was applied.</summary>
    public IReadOnlyList<string> Reasons => _reasons;

    public void MaskFlags(ulong flags, string reason)
    {
        if (flags == 0) return;
        Flags |= flags;
        _reasons.Add($"flags {FlagNames(flags)}: {reason}");
    }

    public void MaskGpr(int index, ulong bits, string reason)
    {
        if (bits == 0) return;
        _gpr[index] |= bits;
        _reasons.Add($"{Regs.Name(index)} bits 0x{bits:X}: {reason}");
    }

    /// <summary>The next RIP (where control went) is not compared.</summary>
    public bool Rip { get; private set; }

    public void MaskRip(string reason)
    {
        Rip = true;
        _reasons.Add($"RIP: {reason}");
    }

    /// <summary>True when anything besides flags is masked.</summary>
    public bool MasksValues => _gpr.Any(g => g != 0) || _memory.Count > 0;

    public void MaskMemory(ulong address, int length, string reason)
    {
        _memory.Add((address, length));
        _reasons.Add($"memory 0x{address:X}..0x{address + (ulong)length - 1:X}: {reason}");
    }

    public bool IsMemoryMasked(ulong address)
    {
        foreach (var (a, n) in _memory)
            if (address >= a && address < a + (ulong)n) return true;
        return false;
    }

    public static string FlagNames(ulong f)
    {
        var names = new List<string>();
        if ((f & Layout.CF) != 0) names.Add("CF");
        if ((f & Layout.PF) != 0) names.Add("PF");
        if ((f & Layout.AF) != 0) names.Add("AF");
        if ((f & Layout.ZF) != 0) names.Add("ZF");
        if ((f & Layout.SF) != 0) names.Add("SF");
        if ((f & Layout.DF) != 0) names.Add("DF");
        if ((f & Layout.OF) != 0) names.Add("OF");
        return string.Join(' ', names);
    }
}

/// <summary>One generated differential case: an encoded instruction and the complete input state.</summary>
public sealed class DiffCase
{
    public required string Family { get; init; }
    public required byte[] Bytes { get; init; }
    /// <summary>Iced's decoding of <see cref="Bytes"/> at the code address (what both sides execute).</summary>
    public required Instruction Instruction { get; init; }
    public required ulong[] Gpr { get; init; }
    /// <summary>Input status flags and DF.</summary>
    public required ulong Rflags { get; init; }
    /// <summary>Image of the scratch region (64 KiB at 0x200000).</summary>
    public required byte[] Scratch { get; init; }
    /// <summary>Image of the top 8 KiB of the stack (ending at StackTop).</summary>
    public required byte[] Stack { get; init; }
    public required Undefined Undefined { get; init; }
    /// <summary>A second instruction following the first in <see cref="Bytes"/> (flag-chain cases), or null.</summary>
    public Instruction? Second { get; init; }
    /// <summary>Instructions in <see cref="Bytes"/> when more than two (the fast-path chains); else null.</summary>
    public int? Count { get; init; }
    /// <summary>Instructions Vtx must retire (1, 2 for a flag chain, or <see cref="Count"/>).</summary>
    public int InstructionCount => Count ?? (Second is null ? 1 : 2);
    /// <summary>Linear address of the explicit memory operand, when it is accessed.</summary>
    public ulong? MemoryAddress { get; init; }
    public int MemorySize { get; init; }
    /// <summary>FS/GS bases (the host thread's, when the instruction uses an FS:/GS: override; else 0).</summary>
    public ulong FsBase { get; init; }
    public ulong GsBase { get; init; }

    public Code Code => Instruction.Code;

    public string Hex => string.Join(' ', Bytes.Select(b => b.ToString("X2")));

    public string Disassembly => Second is Instruction second ? Format(Instruction) + " ; " + Format(second) : Format(Instruction);

    /// <summary>Iced codes of the case (both instructions of a flag chain).</summary>
    public string CodeNames => Second is Instruction s ? $"Code.{Instruction.Code} ; Code.{s.Code}" : $"Code.{Instruction.Code}";

    private static string Format(Instruction ins)
    {
        var f = new IntelFormatter();
        f.Options.HexPrefix = "0x";
        f.Options.HexSuffix = "";
        var o = new StringOutput();
        f.Format(in ins, o);
        return o.ToStringAndReset();
    }

    public override string ToString() => $"{Hex}  {Disassembly}";

    /// <summary>Input state for failure messages.</summary>
    public string DescribeInput()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 16; i++)
        {
            sb.Append(Regs.Name(i).PadLeft(3)).Append('=').Append(Gpr[i].ToString("X16"));
            sb.Append(i % 4 == 3 ? "\n" : "  ");
        }
        sb.Append("flags: ").Append(Undefined.FlagNames(Rflags & Layout.Compared) is { Length: > 0 } n ? n : "(none)").Append('\n');
        if (FsBase != 0 || GsBase != 0) sb.Append($"FS base=0x{FsBase:X} GS base=0x{GsBase:X}\n");
        if (MemoryAddress is ulong ma)
        {
            sb.Append($"memory operand at 0x{ma:X} ({MemorySize} bytes): ");
            sb.Append(string.Join(' ', ReadImage(ma, Math.Clamp(MemorySize, 1, 16)).Select(b => b.ToString("X2"))));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private IEnumerable<byte> ReadImage(ulong address, int n)
    {
        for (int i = 0; i < n; i++)
        {
            ulong a = address + (ulong)i;
            if (Layout.InScratch(a, 1)) yield return Scratch[a - Layout.Scratch];
            else if (Layout.InStackImage(a, 1)) yield return Stack[a - Layout.StackImageBase];
        }
    }
}

using System.Collections.Concurrent;
using System.Text;
using Iced.Intel;
using Vtx.Float;
using Vtx.Tests.Native;

namespace Vtx.Tests.Differential;

/// <summary>Vtx's state after one <see cref="SimdCase"/>.</summary>
public sealed record SimdVtxOutcome(ulong[] Gpr, ulong Rflags, ulong Rip, RunResult Result, FxState Fx, byte[] Scratch, byte[] Stack);

/// <summary>
/// Runs a <see cref="SimdCase"/> on the host CPU (native oracle, FXRSTOR64/FXSAVE64 around the instruction) and in Vtx,
/// and compares GPRs, RIP, status flags, XMM0-15, MXCSR, FCW/FSW/abridged FTW, the non-empty x87 registers, the scratch
/// memory and the stack image. Masks (each with its source) are applied only where the SDM leaves a result undefined or
/// where Intel and AMD are documented to differ; see COVERAGE.md, section "Table-driven instructions".
/// </summary>
public static class SimdDiffRunner
{
    private static readonly Lazy<NativeExecutor> s_native = new(() => new NativeExecutor());

    [ThreadStatic] private static Machine? t_machine;

    private static readonly byte[] s_zeroPage = new byte[0x1000];

    /// <summary>How often each masked item actually differed (evidence that the mask is needed), per family and item.</summary>
    public static readonly ConcurrentDictionary<(string Family, string Item), int> MaskedDifferences = new();

    /// <summary>Runs <paramref name="c"/> natively.</summary>
    public static (CpuSnapshot State, byte[] Scratch, byte[] Stack) RunNative(SimdCase c)
    {
        SimdDiffTests.Trace($"  {c.Code} seed {c.Seed}: {c}");
        var input = new CpuSnapshot { Gpr = (ulong[])c.Gpr.Clone(), Rflags = c.Rflags & Layout.Compared, Fx = c.Fx.Clone() };
        byte[] scratch = (byte[])c.Scratch.Clone();
        byte[] stack = (byte[])c.Stack.Clone();
        CpuSnapshot output = s_native.Value.Run(c.Bytes, input, scratch, stack);
        return (output, scratch, stack);
    }

    /// <summary>Runs <paramref name="c"/> in Vtx (a flat-mode 16 MiB machine per thread; all state rewritten per case).</summary>
    public static SimdVtxOutcome RunVtx(SimdCase c)
    {
        Machine m = t_machine ??= new Machine(new MachineOptions { MemoryMiB = Layout.MemoryMiB });
        m.WriteMemory(Layout.CodeAddress, s_zeroPage);
        m.WriteMemory(Layout.CodeAddress, c.Bytes);
        m.WriteMemory(Layout.Scratch, c.Scratch);
        for (ulong a = Layout.StackBase; a < Layout.StackTop + 0x1000; a += 0x1000) m.WriteMemory(a, s_zeroPage);
        m.WriteMemory(Layout.StackImageBase, c.Stack);

        Cpu cpu = m.Cpu;
        cpu.Resume();
        for (int i = 0; i < 16; i++) cpu[(Gpr)i] = c.Gpr[i];
        cpu.Rflags = (c.Rflags & Layout.Compared) | Layout.IF | 2;
        cpu.Rip = Layout.CodeAddress;
        cpu.FsBase = 0;
        cpu.GsBase = 0;
        LoadFx(cpu, c.Fx);
        RunResult r = m.Run(RunLimits.Instructions((ulong)c.InstructionCount));

        var gpr = new ulong[16];
        for (int i = 0; i < 16; i++) gpr[i] = cpu[(Gpr)i];
        return new SimdVtxOutcome(gpr, cpu.Rflags, cpu.Rip, r, StoreFx(cpu),
            m.ReadMemory(Layout.Scratch, Layout.ScratchSize), m.ReadMemory(Layout.StackImageBase, Layout.StackImage));
    }

    /// <summary>Loads an FXSAVE-format state into Vtx through its host accessors (what FXRSTOR64 loads natively).</summary>
    internal static void LoadFx(Cpu cpu, FxState fx)
    {
        for (int i = 0; i < 16; i++) cpu.SetXmm(i, fx.GetXmm(i));
        cpu.Mxcsr = fx.Mxcsr;
        cpu.FpuControlWord = fx.Fcw;
        cpu.FpuStatusWord = fx.Fsw;
        cpu.FpuAbridgedTag = fx.Ftw;
        for (int r = 0; r < 8; r++)
        {
            var (sig, se) = fx.GetPhysical(r);
            cpu.SetFpuRegister(r, new Float80(sig, se));
        }
        cpu._fpuOpcode = (ushort)(fx.Fop & 0x7FF);
        cpu._fpuIp = fx.Fip;
        cpu._fpuDp = fx.Fdp;
        // FXRSTOR64 has no FCS/FDS fields; the host then stores 0 for them (FNSTENV/FNSAVE), so the machine, which is
        // reused between cases, must not keep selectors an earlier FLDENV/FRSTOR case loaded.
        cpu._fpuCs = 0;
        cpu._fpuDs = 0;
    }

    /// <summary>Vtx's state in FXSAVE64 format.</summary>
    internal static FxState StoreFx(Cpu cpu)
    {
        var fx = new FxState { Fcw = cpu.FpuControlWord, Fsw = cpu.FpuStatusWord, Ftw = cpu.FpuAbridgedTag, Mxcsr = cpu.Mxcsr };
        fx.Fop = cpu._fpuOpcode;
        fx.Fip = cpu._fpuIp;
        fx.Fdp = cpu._fpuDp;
        for (int r = 0; r < 8; r++)
        {
            Float80 v = cpu.GetFpuRegister(r);
            fx.SetPhysical(r, v.Significand, v.SignExponent);
        }
        for (int i = 0; i < 16; i++) fx.SetXmm(i, cpu.GetXmm(i));
        return fx;
    }

    /// <summary>Runs both sides and throws <see cref="DifferentialMismatchException"/> listing every compared difference.</summary>
    public static void AssertSame(SimdCase c)
    {
        var (native, nScratch, nStack) = RunNative(c);
        SimdVtxOutcome v = RunVtx(c);
        var diffs = new List<string>();
        var masks = SimdMasks.For(c);
        FxState h = native.Fx!, x = v.Fx;

        if (v.Result.Reason != StopReason.InstructionLimit || v.Result.Instructions != (ulong)c.InstructionCount)
            diffs.Add($"Vtx did not retire {c.InstructionCount} instruction(s): {v.Result} (the host CPU executed it without a fault)");

        for (int i = 0; i < 16; i++)
            if (native.Gpr[i] != v.Gpr[i])
                diffs.Add($"{Regs.Name(i),3}: expected 0x{native.Gpr[i]:X16}, actual 0x{v.Gpr[i]:X16}");
        if (native.ExitRip != v.Rip) diffs.Add($"RIP: expected 0x{native.ExitRip:X}, actual 0x{v.Rip:X}");
        ulong fd = (native.Rflags ^ v.Rflags) & Layout.Compared;
        foreach (ulong bit in new[] { Layout.CF, Layout.PF, Layout.AF, Layout.ZF, Layout.SF, Layout.DF, Layout.OF })
            if ((fd & bit) != 0)
                diffs.Add($"{Undefined.FlagNames(bit)}: expected {((native.Rflags & bit) != 0 ? 1 : 0)}, actual {((v.Rflags & bit) != 0 ? 1 : 0)}");

        // SSE state.
        for (int i = 0; i < 16; i++)
        {
            UInt128 e = h.GetXmm(i), a = x.GetXmm(i);
            if (e == a) continue;
            if (masks.XmmCheck is { } check && check(c, i, e, a) is var verdict && verdict.Handled)
            {
                if (verdict.Error is string err) diffs.Add($"XMM{i}: {err}");
                else Record(c, masks.XmmCheckName);
                continue;
            }
            diffs.Add($"XMM{i}: expected {e:X32}, actual {a:X32}");
        }
        if (h.Mxcsr != x.Mxcsr) diffs.Add($"MXCSR: expected {h.Mxcsr:X8}, actual {x.Mxcsr:X8}{DescribeMxcsr(h.Mxcsr, x.Mxcsr)}");

        // x87 state.
        if (h.Fcw != x.Fcw) diffs.Add($"FCW: expected {h.Fcw:X4}, actual {x.Fcw:X4}");
        ushort fswCmp = (ushort)~masks.FswUndefined;
        bool ulpAccepted = false;
        for (int r = 0; r < 8; r++)
        {
            var e = h.GetPhysical(r);
            var a = x.GetPhysical(r);
            bool nonEmpty = ((h.Ftw >> r) & 1) != 0;
            if (e == a) continue;
            if (((masks.X87RegistersUndefined >> r) & 1) != 0)
            {
                Record(c, "undefined x87 register result");
                continue;
            }
            if (!nonEmpty)
            {
                if (((x.Ftw >> r) & 1) == 0) Record(c, "content of an empty x87 register");
                continue; // the tag difference itself is reported below
            }
            if (masks.X87Ulps > 0 && UlpDistance(e, a) is ulong d && d <= (ulong)masks.X87Ulps)
            {
                ulpAccepted = true;
                Record(c, $"x87 result within {masks.X87Ulps} ulp");
                continue;
            }
            diffs.Add($"R{r} (ST{(r - h.Top) & 7}): expected {e.SignExponent:X4}:{e.Significand:X16}, actual {a.SignExponent:X4}:{a.Significand:X16}");
        }
        if (ulpAccepted) fswCmp &= unchecked((ushort)~0x0200); // C1 = rounded up, follows the last bit
        if (((h.Fsw ^ x.Fsw) & fswCmp) != 0)
            diffs.Add($"FSW: expected {h.Fsw:X4}, actual {x.Fsw:X4} (compared bits {fswCmp:X4}){DescribeFsw(h.Fsw, x.Fsw, fswCmp)}");
        else if (((h.Fsw ^ x.Fsw) & ~fswCmp & 0xFFFF) != 0)
            Record(c, "FSW undefined bits");
        if (h.Ftw != x.Ftw && masks.X87TagsUndefined) Record(c, "undefined x87 tags");
        else if (h.Ftw != x.Ftw) diffs.Add($"FTW (abridged): expected {h.Ftw:X2}, actual {x.Ftw:X2}");
        // FOP/FIP/FDP are not compared: AMD's FXSAVE stores them only while an exception is pending (COVERAGE.md).

        CompareMemory("scratch", Layout.Scratch, nScratch, v.Scratch, masks, c, diffs);
        CompareMemory("stack", Layout.StackImageBase, nStack, v.Stack, masks, c, diffs);

        if (diffs.Count == 0) return;
        var sb = new StringBuilder();
        sb.AppendLine($"Vtx differs from the host CPU [{c.Family} / Code.{c.Code} / form {c.Form}]");
        sb.AppendLine($"  instruction: {c.Hex}   {c.Disassembly}");
        sb.AppendLine($"  case seed: {c.Seed}");
        sb.AppendLine("  input:");
        foreach (var line in c.DescribeInput().TrimEnd().Split('\n')) sb.Append("    ").AppendLine(line);
        if (masks.Reasons.Count > 0)
        {
            sb.AppendLine("  masked:");
            foreach (var reason in masks.Reasons) sb.Append("    ").AppendLine(reason);
        }
        sb.AppendLine("  differences (expected = host CPU, actual = Vtx):");
        foreach (var d in diffs) sb.Append("    ").AppendLine(d);
        sb.AppendLine($"  host RFLAGS=0x{native.Rflags:X} [{CpuSnapshot.FormatFlags(native.Rflags)}]  Vtx RFLAGS=0x{v.Rflags:X} [{CpuSnapshot.FormatFlags(v.Rflags)}]  Vtx run: {v.Result}");
        sb.AppendLine("  host output x87/SSE state:");
        foreach (var line in h.ToString().TrimEnd().Split('\n')) sb.Append("    ").AppendLine(line);
        throw new DifferentialMismatchException(sb.ToString());
    }

    private static void Record(SimdCase c, string item) => MaskedDifferences.AddOrUpdate((c.Family, item), 1, (_, n) => n + 1);

    /// <summary>Distance in units in the last place between two finite x87 values of the same sign (null if not comparable).</summary>
    internal static ulong? UlpDistance((ulong Significand, ushort SignExponent) a, (ulong Significand, ushort SignExponent) b)
    {
        if ((a.SignExponent ^ b.SignExponent) >= 0x8000) return null;
        if ((a.SignExponent & 0x7FFF) == 0x7FFF || (b.SignExponent & 0x7FFF) == 0x7FFF) return null;
        // Normalised finite values: (exponent, significand) ordered lexicographically is a 79-bit integer with J = 1.
        UInt128 ia = ((UInt128)(uint)(a.SignExponent & 0x7FFF) << 63) | (a.Significand & 0x7FFF_FFFF_FFFF_FFFF);
        UInt128 ib = ((UInt128)(uint)(b.SignExponent & 0x7FFF) << 63) | (b.Significand & 0x7FFF_FFFF_FFFF_FFFF);
        if ((a.Significand >> 63) == 0 && (a.SignExponent & 0x7FFF) != 0) return null;
        if ((b.Significand >> 63) == 0 && (b.SignExponent & 0x7FFF) != 0) return null;
        UInt128 d = ia > ib ? ia - ib : ib - ia;
        return d > ulong.MaxValue ? ulong.MaxValue : (ulong)d;
    }

    private static string DescribeMxcsr(uint e, uint a)
    {
        uint d = e ^ a;
        var names = new List<string>();
        string[] bits = ["IE", "DE", "ZE", "OE", "UE", "PE", "DAZ", "IM", "DM", "ZM", "OM", "UM", "PM", "RC0", "RC1", "FZ"];
        for (int i = 0; i < 16; i++)
            if ((d >> i & 1) != 0) names.Add($"{bits[i]}: expected {e >> i & 1}, actual {a >> i & 1}");
        return names.Count > 0 ? " (" + string.Join(", ", names) + ")" : "";
    }

    private static string DescribeFsw(ushort e, ushort a, ushort cmp)
    {
        int d = (e ^ a) & cmp;
        var names = new List<string>();
        string[] bits = ["IE", "DE", "ZE", "OE", "UE", "PE", "SF", "ES", "C0", "C1", "C2", "TOP0", "TOP1", "TOP2", "C3", "B"];
        for (int i = 0; i < 16; i++)
            if ((d >> i & 1) != 0) names.Add($"{bits[i]}: expected {e >> i & 1}, actual {a >> i & 1}");
        return " (" + string.Join(", ", names) + ")";
    }

    private static void CompareMemory(string name, ulong baseAddress, byte[] expected, byte[] actual, SimdMasks masks, SimdCase c, List<string> diffs)
    {
        int shown = 0, total = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] == actual[i]) continue;
            ulong a = baseAddress + (ulong)i;
            if (masks.IsMemoryMasked(a, out string? why))
            {
                Record(c, why!);
                continue;
            }
            total++;
            if (shown < 32)
            {
                diffs.Add($"{name}[0x{a:X}]: expected 0x{expected[i]:X2}, actual 0x{actual[i]:X2}");
                shown++;
            }
        }
        if (total > shown) diffs.Add($"... {total - shown} more differing {name} bytes");
    }
}

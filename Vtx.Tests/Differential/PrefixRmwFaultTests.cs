using System.Text;
using Vtx.Tests.SystemArchitecture;
using Xunit;
using Xunit.Abstractions;

namespace Vtx.Tests.Differential;

/// <summary>
/// Faulting memory operands of every read-modify-write form, enumerated from the prefix generator's own opcode table
/// (<see cref="PxTable"/>): each RMW form (ALU ops to memory incl. 80/81/83, INC/DEC/NOT/NEG, every shift/rotate of
/// C0/C1/D0-D3, SHLD/SHRD, BTS/BTR/BTC with a register and an immediate, XCHG, XADD, CMPXCHG, CMPXCHG8B/16B, their
/// LOCK forms, and the MOVS/STOS destination) at every operand size, with its operand on a not-present page, a
/// read-only page (CPL 0 with CR0.WP = 1, CPL 3), a supervisor page at CPL 3, and straddling into such a page from a
/// writable one. An independent model computes the #PF error code (P, W/R, U/S; I/D = 0 for data: SDM Vol. 3A, 4.7)
/// and CR2 (the first faulting byte), and every case checks that nothing was committed: all GPRs, the status flags and
/// the memory of both pages. A read-only page at CPL 0 with CR0.WP = 0 is the control: no fault, the write happens.
/// </summary>
public sealed class PrefixRmwFaultTests(ITestOutputHelper output)
{
    private const ulong PtAddress = 0xC_0000;   // page table for 2 MiB .. 4 MiB (4-KiB pages)
    private const ulong Region = 0x20_0000;
    private const ulong Code = Sys.Code, SourceData = Sys.Scratch;

    /// <summary>Page attributes of the first pages of the 4-KiB region (everything else: present, writable, user).</summary>
    private static (bool Present, bool Writable, bool User) Page(ulong linear) => ((linear - Region) >> 12) switch
    {
        1 => (false, true, true),   // 201000: not present
        3 => (true, false, true),   // 203000: read-only
        5 => (true, true, false),   // 205000: supervisor only
        _ => (true, true, true),
    };

    /// <summary>
    /// The independent model (SDM Vol. 3A, 4.6 and 4.7): the first byte of [a, a + size) whose page denies a write at
    /// <paramref name="cpl"/> faults; the error code is P (page present) | W/R = 1 | U/S (CPL 3); CR2 is that byte's address.
    /// </summary>
    internal static (ulong Cr2, uint Error)? ExpectedFault(ulong a, int size, int cpl, bool wp)
    {
        for (ulong b = a; b < a + (ulong)size; b = (b & ~0xFFFUL) + 0x1000)
        {
            var (p, w, u) = Page(b);
            bool fault = !p || (cpl == 3 && !u) || (!w && (cpl == 3 || wp));
            if (fault) return (b, (p ? 1u : 0u) | 2u | (cpl == 3 ? 4u : 0u));
        }
        return null;
    }

    /// <summary>One RMW encoding: bytes, memory operand size, and how its registers are set.</summary>
    internal sealed record RmwForm(string Name, byte[] Bytes, int Size, bool Str, bool Rep);

    private static readonly HashSet<PxSem> s_rmw =
    [
        PxSem.Add, PxSem.Or, PxSem.Adc, PxSem.Sbb, PxSem.And, PxSem.Sub, PxSem.Xor, PxSem.Inc, PxSem.Dec, PxSem.Not, PxSem.Neg,
        PxSem.Rol, PxSem.Ror, PxSem.Rcl, PxSem.Rcr, PxSem.Shl, PxSem.Shr, PxSem.Sar, PxSem.Shld, PxSem.Shrd,
        PxSem.Bts, PxSem.Btr, PxSem.Btc, PxSem.Xchg, PxSem.Xadd, PxSem.Cmpxchg, PxSem.Cmpxchg8b, PxSem.Movs, PxSem.Stos,
    ];

    /// <summary>
    /// Every RMW encoding from the table: [F0] [66 | REX.W] opcode ModRM(mod 00, rm = RBX) imm, the reg field naming the
    /// /digit or RAX (RSI for the BT* bit offset, which is 0); MOVS/STOS with and without REP.
    /// </summary>
    internal static List<RmwForm> Forms()
    {
        var list = new List<RmwForm>();
        foreach (PxForm f in PxTable.All)
        {
            if (!s_rmw.Contains(f.Sem)) continue;
            bool str = f.Sem is PxSem.Movs or PxSem.Stos;
            if (!str && (f.Ops is not (PxOperands.EG or PxOperands.E) || f.Opcode is [0x90])) continue;
            int[] sizes = f.Size == PxSize.B ? [1] : f.Sem == PxSem.Cmpxchg8b ? [8, 16] : [2, 4, 8];
            foreach (int size in sizes)
                foreach (bool lk in f.Lockable ? new[] { false, true } : [false])
                    foreach (bool rep in str ? new[] { false, true } : [false])
                    {
                        var b = new List<byte>();
                        if (lk) b.Add(0xF0);
                        if (rep) b.Add(0xF3);
                        if (size == 2) b.Add(0x66);
                        if (size == 8 && f.Sem != PxSem.Cmpxchg8b || size == 16) b.Add(0x48);
                        b.AddRange(f.Opcode);
                        if (!str)
                        {
                            int reg = f.Digit >= 0 ? f.Digit : f.Sem is PxSem.Bts or PxSem.Btr or PxSem.Btc ? 6 : 0;
                            b.Add((byte)((reg << 3) | 3));
                            int imm = f.Imm switch { PxImm.B or PxImm.Bs => 1, PxImm.Z => size == 2 ? 2 : 4, _ => 0 };
                            for (int i = 0; i < imm; i++) b.Add(i == 0 ? (byte)(f.Sem is PxSem.Bts or PxSem.Btr or PxSem.Btc ? 3 : 1) : (byte)0);
                        }
                        string name = $"{(lk ? "LOCK " : "")}{(rep ? "REP " : "")}{f.Name} /{size * 8}";
                        list.Add(new RmwForm(name, b.ToArray(), size, str, rep));
                    }
        }
        return list;
    }

    private static Sys NewMachine(int cpl, bool wp)
    {
        var s = new Sys(memoryMiB: 4);
        s.EnterLong(cpl);
        s.W64(Sys.Pd + 8, PtAddress | 7);
        for (ulong i = 0; i < 512; i++)
        {
            ulong lin = Region + (i << 12);
            var (p, w, u) = Page(lin);
            s.W64(PtAddress + i * 8, p ? lin | 1 | (w ? 2UL : 0) | (u ? 4UL : 0) : 0);
        }
        s.Cpu.Cr3Value = Sys.Pml4;
        if (wp) s.Cpu.Cr0Value |= Cr0.WP;
        s.Cpu.EferValue |= Efer.NXE; // with NXE, I/D is reported for fetches: data accesses must still report 0
        return s;
    }

    /// <summary>Scenarios: target address, CPL, CR0.WP (size-dependent for the straddles).</summary>
    private static IEnumerable<(string Name, ulong Address, int Cpl, bool Wp)> Scenarios(int size, Random rnd)
    {
        yield return ("not present, CPL 0", Region + 0x1000 + 0x40, 0, true);
        yield return ("not present, CPL 3", Region + 0x1000 + 0x40, 3, false);
        yield return ("read-only, CPL 0, WP = 1", Region + 0x3000 + 0x80, 0, true);
        yield return ("read-only, CPL 3, WP = 0", Region + 0x3000 + 0x80, 3, false);
        yield return ("supervisor page, CPL 3", Region + 0x5000 + 0x80, 3, true);
        yield return ("control: read-only, CPL 0, WP = 0 (no fault)", Region + 0x3000 + 0x80, 0, false);
        if (size > 1 && size < 16)
        {
            int k = rnd.Next(1, size);
            yield return ($"straddle into not present (-{k}), CPL {(k % 2 == 0 ? 0 : 3)}", Region + 0x1000 - (ulong)k, k % 2 == 0 ? 0 : 3, true);
            yield return ($"straddle into read-only (-{k}), CPL 0, WP = 1", Region + 0x3000 - (ulong)k, 0, true);
            yield return ($"straddle into read-only (-{k}), CPL 3", Region + 0x3000 - (ulong)k, 3, false);
            yield return ($"straddle into supervisor (-{k}), CPL 3", Region + 0x5000 - (ulong)k, 3, false);
        }
    }

    [Fact]
    public void EveryRmwFormFaultsAsTheModelSaysAndCommitsNothing()
    {
        var rnd = new Random(9);
        var failures = new List<string>();
        int cases = 0, faults = 0;
        List<RmwForm> forms = Forms();
        foreach (RmwForm f in forms)
        {
            foreach (var (scenario, a, cpl, wp) in Scenarios(f.Size, rnd))
            {
                cases++;
                string? fail = RunCase(f, scenario, a, cpl, wp, rnd, out bool faulted);
                if (faulted) faults++;
                if (fail is not null) failures.Add(fail);
            }
        }
        output.WriteLine($"{forms.Count} RMW encodings from the table, {cases} cases ({faults} faulted as the model expected or not), {failures.Count} failures");
        Assert.True(forms.Count > 250, $"only {forms.Count} RMW encodings");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(30)) + $"\n({failures.Count} failures)");
    }

    private readonly Dictionary<(int, bool), Sys> _machines = new();

    private string? RunCase(RmwForm f, string scenario, ulong a, int cpl, bool wp, Random rnd, out bool faulted)
    {
        // One machine per (CPL, WP), reused: a stopped fault leaves nothing pending, and every case rewrites the code,
        // the registers and the memory it checks.
        if (!_machines.TryGetValue((cpl, wp), out Sys? s)) _machines[(cpl, wp)] = s = NewMachine(cpl, wp);
        s.Cpu.Cr2Value = 0;
        s.M.WriteMemory(Code, f.Bytes);
        s.Cpu.Rip = Code;
        s.M.WriteMemory(Code + (ulong)f.Bytes.Length, [0xF4]);
        var gpr = new ulong[16];
        for (int i = 0; i < 16; i++) gpr[i] = (ulong)rnd.NextInt64() ^ ((ulong)rnd.Next() << 63);
        gpr[4] = cpl == 0 ? Sys.KernelStack : Sys.UserStack;
        gpr[3] = a;           // RBX: the operand
        gpr[6] = f.Str ? SourceData : 0; // RSI: the BT* bit offset (0) or the MOVS source
        gpr[7] = a;           // RDI: the string destination
        gpr[1] = f.Rep ? 3UL : 1UL; // RCX: CL = 1 for shifts by CL, 3 REP iterations
        for (int i = 0; i < 16; i++) s.Cpu[(Gpr)i] = gpr[i];
        ulong flags = (ulong)rnd.Next() & 0x8D5;
        s.Cpu.Rflags = 2 | flags;
        // Memory around the operand: recognisable bytes on both pages (physical = linear here).
        var image = new byte[64];
        rnd.NextBytes(image);
        ulong lo = a - 32;
        s.M.WriteMemory(lo, image);
        s.M.WriteMemory(SourceData, new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 });

        var expected = ExpectedFault(a, f.Size, cpl, wp);
        s.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        // REP iterations count toward the instruction limit without retiring (RunLimits.MaxInstructions): run until
        // the instruction retires or something else stops the run.
        RunResult r = s.Run(1);
        for (int i = 0; i < 16 && r.Reason == StopReason.InstructionLimit && r.Instructions == 0; i++) r = s.Run(1);
        faulted = r.Reason == StopReason.Exception;
        var sb = new StringBuilder();
        string head = $"{f.Name} [{Convert.ToHexString(f.Bytes)}] {scenario} at 0x{a:X}";
        if (expected is not (ulong cr2, uint err))
        {
            if (r.Reason != StopReason.InstructionLimit || r.Instructions != 1) sb.Append($" expected no fault, got {r};");
        }
        else
        {
            if (r.Reason != StopReason.Exception || r.Fault != new FaultInfo(ExceptionVector.PF, err))
                sb.Append($" expected #PF({err:X}) CR2=0x{cr2:X}, got {r};");
            else if (s.Cpu.Cr2Value != cr2) sb.Append($" CR2: expected 0x{cr2:X}, actual 0x{s.Cpu.Cr2Value:X};");
            if (r.Rip != Code) sb.Append($" RIP 0x{r.Rip:X};");
            for (int i = 0; i < 16; i++)
                if (s.Cpu[(Gpr)i] != gpr[i]) sb.Append($" {(Gpr)i} committed 0x{gpr[i]:X}->0x{s.Cpu[(Gpr)i]:X};");
            if ((s.Cpu.Rflags & 0x8D5) != flags) sb.Append($" flags committed 0x{flags:X}->0x{s.Cpu.Rflags & 0x8D5:X};");
            byte[] after = s.M.ReadMemory(lo, 64);
            for (int i = 0; i < 64; i++)
                if (after[i] != image[i]) { sb.Append($" memory committed at 0x{lo + (ulong)i:X};"); break; }
        }
        return sb.Length == 0 ? null : head + ":" + sb;
    }
}

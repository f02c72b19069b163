using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using static Vtx.Tests.Differential.Layout;

namespace Vtx.Tests.Differential;

/// <summary>
/// Flag chains: a flag producer (any non-branching form of the table) followed by a flag consumer (SETcc, CMOVcc,
/// Jcc, ADC/SBB, RCL/RCR, INC/DEC, BT*, CMC/CLC/STC, LAHF, PUSHFQ, ADCX/ADOX, LOOPE/LOOPNE) in at most 15 bytes,
/// run as one unit natively and as two instructions in Vtx. Single-instruction cases always start from
/// materialized flags; chains make Vtx read flags its lazy evaluation left pending.
/// </summary>
/// <remarks>
/// A chain is generated only when the consumer reads no flag the producer leaves undefined (LAHF instead gets the
/// matching AH bits masked), and flags the producer leaves undefined stay masked unless the consumer redefines them.
/// Producers with undefined register or memory results are not used.
/// </remarks>
public static class FlagChains
{
    private const ulong Status = CF | PF | AF | ZF | SF | OF;

    private static Family Consumer(string name, IEnumerable<Code> codes, HostFeature requires = HostFeature.None,
        Action<CaseBuilder, Undefined>? undefine = null) => new()
    {
        Name = name,
        Codes = codes.ToArray(),
        Requires = requires,
        RegisterPercent = 100,
        Undefine = undefine,
    };

    private static readonly Family[] s_consumers =
    [
        Consumer("setcc", Families.Get("setcc").Codes),
        Consumer("cmovcc", Families.Get("cmovcc").Codes),
        Consumer("jcc", Families.Get("jcc-jmp").Codes.Where(c => c.ToOpCode().GetOpKind(0) == OpCodeOperandKind.br64_1 && c != Code.Jmp_rel8_64)),
        Consumer("adc-sbb", Families.Get("adc").Codes.Concat(Families.Get("sbb").Codes)),
        Consumer("rcl-rcr-1", Families.Get("rcl").Codes.Concat(Families.Get("rcr").Codes).Where(c => c.ToString().EndsWith("_1", StringComparison.Ordinal)),
            undefine: Families.ShiftUndefined),
        Consumer("inc-dec", Families.Get("inc-dec").Codes),
        Consumer("bt", Families.Get("bt-bts-btr-btc").Codes, undefine: Families.BitTestUndefined),
        Consumer("cmc-clc-stc", [Code.Cmc, Code.Clc, Code.Stc]),
        Consumer("lahf", [Code.Lahf], HostFeature.LahfSahf64),
        Consumer("pushfq", [Code.Pushfq]),
        Consumer("adcx-adox", Families.Get("adcx-adox").Codes, HostFeature.Adx),
        Consumer("loope-loopne", [Code.Loope_rel8_64_RCX, Code.Loopne_rel8_64_RCX, Code.Loope_rel8_64_ECX, Code.Loopne_rel8_64_ECX]),
    ];

    private static readonly HashSet<string> s_branching = ["jcc-jmp", "jrcxz-loop", "call-ret-indirect"];

    private static readonly HashSet<string> s_arithmetic =
        ["add", "sub", "cmp", "adc", "sbb", "neg-not", "inc-dec", "xadd", "cmpxchg", "string", "and", "or", "xor", "test"];

    /// <summary>Flags a condition code reads (SDM Vol. 1, Appendix B, Table B-1).</summary>
    private static ulong ConditionFlags(ConditionCode cc) => cc switch
    {
        ConditionCode.o or ConditionCode.no => OF,
        ConditionCode.b or ConditionCode.ae => CF,
        ConditionCode.e or ConditionCode.ne => ZF,
        ConditionCode.be or ConditionCode.a => CF | ZF,
        ConditionCode.s or ConditionCode.ns => SF,
        ConditionCode.p or ConditionCode.np => PF,
        ConditionCode.l or ConditionCode.ge => SF | OF,
        _ => ZF | SF | OF,
    };

    private static ulong Reads(in Instruction c) => c.Mnemonic switch
    {
        Mnemonic.Adc or Mnemonic.Sbb or Mnemonic.Rcl or Mnemonic.Rcr or Mnemonic.Cmc or Mnemonic.Adcx => CF,
        Mnemonic.Adox => OF,
        Mnemonic.Loope or Mnemonic.Loopne => ZF,
        Mnemonic.Pushfq => Status,
        _ => c.ConditionCode != ConditionCode.None ? ConditionFlags(c.ConditionCode) : 0,
    };

    /// <summary>Flags the consumer overwrites (with defined values, or values its own undefined mask covers).</summary>
    private static ulong Writes(in Instruction c) => c.Mnemonic switch
    {
        Mnemonic.Adc or Mnemonic.Sbb => Status,
        Mnemonic.Rcl or Mnemonic.Rcr => CF | OF,
        Mnemonic.Cmc or Mnemonic.Clc or Mnemonic.Stc or Mnemonic.Adcx => CF,
        Mnemonic.Adox => OF,
        Mnemonic.Inc or Mnemonic.Dec => OF | SF | ZF | AF | PF,
        Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc => CF | OF | SF | AF | PF,
        _ => 0,
    };

    /// <summary>Generator of flag-chain cases over the families the host supports.</summary>
    public static Gen<DiffCase> Gen()
    {
        var producers = Families.All.Where(f => !s_branching.Contains(f.Name) && HostFeatures.Missing(f.Requires).Length == 0).ToArray();
        var consumers = s_consumers.Where(f => HostFeatures.Missing(f.Requires).Length == 0).ToArray();
        var arithmetic = producers.Where(f => s_arithmetic.Contains(f.Name)).ToArray();
        Gen<Family> producer = FsCheck.Fluent.Gen.Frequency((1, FsCheck.Fluent.Gen.Elements(producers)), (1, FsCheck.Fluent.Gen.Elements(arithmetic)));
        return
            (from pf in producer
             from pcode in FsCheck.Fluent.Gen.Elements(pf.Codes)
             from pshape in CaseGeneration.ShapeGen(pf, pcode)
             from gpr in FsCheck.Fluent.Gen.ArrayOf(Values.Value64, 16)
             from flags in Values.Flags
             from seed in Values.Seed
             from cf in FsCheck.Fluent.Gen.Elements(consumers)
             from ccode in FsCheck.Fluent.Gen.Elements(cf.Codes)
             from cshape in CaseGeneration.ShapeGen(cf, ccode)
             select Combine(pf, pshape, gpr, flags, seed, cf, cshape))
            .Where(c => c is not null)
            .Select(c => c!);
    }

    private static DiffCase? Combine(Family pf, Shape pshape, ulong[] gpr, ulong flags, int seed, Family cf, Shape cshape)
    {
        DiffCase? p = CaseGeneration.Build(pf, pshape, gpr, flags, seed);
        if (p is null || p.Undefined.MasksValues) return null;
        var enc = CaseGeneration.EncodeRegisterForm(cshape, CodeAddress + (ulong)p.Bytes.Length);
        if (enc is not var (cbytes, c) || p.Bytes.Length + cbytes.Length > 15) return null;
        ulong undefinedIn = p.Undefined.Flags;
        if ((Reads(c) & undefinedIn) != 0) return null;
        // PUSHFQ after something that set RSP through an explicit operand or as a memory base could push anywhere.
        if (c.Mnemonic == Mnemonic.Pushfq && (pshape.Ops.Any(o => o is RegOpnd r && Regs.Info(r.Reg).Index == 4)
            || !InStackImage(p.Gpr[4] - 8, 8))) return null;
        // PUSHFQ after POPF would push IF/IOPL, which POPF sets differently at CPL 3 (host) and CPL 0 (Vtx).
        if (c.Mnemonic == Mnemonic.Pushfq && p.Instruction.Mnemonic is Mnemonic.Popf or Mnemonic.Popfq) return null;

        var u = new Undefined();
        ulong carried = undefinedIn & ~Writes(c);
        if (carried != 0)
            u.MaskFlags(carried, "left undefined by the first instruction (" + string.Join("; ", p.Undefined.Reasons) + ")");
        if (c.Mnemonic == Mnemonic.Lahf && undefinedIn != 0)
        {
            // LAHF: AH = SF:ZF:0:AF:0:PF:1:CF (SDM Vol. 2A LAHF), so undefined flags become undefined AH bits.
            ulong bits = ((undefinedIn & CF) != 0 ? 1UL << 8 : 0) | ((undefinedIn & PF) != 0 ? 1UL << 10 : 0)
                | ((undefinedIn & AF) != 0 ? 1UL << 12 : 0) | ((undefinedIn & ZF) != 0 ? 1UL << 14 : 0) | ((undefinedIn & SF) != 0 ? 1UL << 15 : 0);
            u.MaskGpr(0, bits, "LAHF copies flags the first instruction left undefined");
        }
        var cb = new CaseBuilder(cf, cshape, new ulong[16], 0, p.Scratch, p.Stack, new Random(seed));
        cf.Undefine?.Invoke(cb, u);

        return new DiffCase
        {
            Family = $"chain {pf.Name} -> {cf.Name}",
            Bytes = [.. p.Bytes, .. cbytes],
            Instruction = p.Instruction,
            Second = c,
            Gpr = p.Gpr,
            Rflags = p.Rflags,
            Scratch = p.Scratch,
            Stack = p.Stack,
            Undefined = u,
            MemoryAddress = p.MemoryAddress,
            MemorySize = p.MemorySize,
            FsBase = p.FsBase,
            GsBase = p.GsBase,
        };
    }
}

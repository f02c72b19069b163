using Iced.Intel;
using Vtx.Timing;
using Xunit;
using Xunit.Abstractions;

namespace Vtx.Tests.Timing;

/// <summary>
/// The timing profile data files: regenerating them reproduces the committed files byte for byte (when
/// llvm-mca-14 is installed; otherwise the test prints why and only the shape checks run), every implemented
/// form has an entry in every profile, the figures are in range, and the "simple" profile is vtx-cost-1.
/// </summary>
public class TimingDataTests(ITestOutputHelper output)
{
    private static readonly InstructionInfoFactory Info = new();

    public static TheoryData<string> Profiles() => new(TimingGenerator.ProfileNames);

    [Theory]
    [MemberData(nameof(Profiles))]
    public void GeneratedFileIsUpToDate(string profile)
    {
        if (profile != "simple" && !LlvmMca.IsAvailable(out string reason))
        {
            output.WriteLine($"not regenerating {profile}: {reason} (the shape checks still run)");
            return;
        }
        string root = TimingGenerator.RepositoryRoot();
        string path = Path.Combine(root, TimingGenerator.ProfilesDir, profile + ".txt");
        string actual = File.Exists(path) ? File.ReadAllText(path) : "";
        bool regenerate = Environment.GetEnvironmentVariable("VTX_REGENERATE") == "1";
        if (profile != "simple" && !regenerate)
        {
            // Another LLVM 14 build could carry another model: compare only with the llvm-mca that made the file.
            string version = LlvmMca.Version();
            if (!actual.Contains("(" + version + ",", StringComparison.Ordinal))
            {
                output.WriteLine($"not regenerating {profile}: the file was made by another llvm-mca than '{version}' (the shape checks still run)");
                return;
            }
        }
        string expected = TimingGenerator.Generate(profile, root);
        if (regenerate)
        {
            if (actual != expected) File.WriteAllText(path, expected);
            return;
        }
        Assert.True(actual == expected, $"{TimingGenerator.ProfilesDir}/{profile}.txt is stale: run scripts/gen-timing.sh; {FirstDifference(expected, actual)}");
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void EveryImplementedFormHasAnEntryInRange(string profile)
    {
        TimingProfile p = TimingProfile.ByName(profile);
        ushort all = (ushort)((1 << p.Ports.Count) - 1);
        var missing = new List<string>();
        foreach (var f in TimingCorpus.ImplementedForms())
        {
            if (!p.TryGet(f.Code, f.Memory, out InstructionTiming? t)) { missing.Add($"{f.Code} {(f.Memory ? 'm' : 'r')}"); continue; }
            Assert.Same(t, p.Get(f.Code, f.Memory));
            Assert.Equal(f.Code, t.Code);
            Assert.Equal(f.Memory, t.MemoryForm);
            bool nop = f.Instruction.Mnemonic is Mnemonic.Nop or Mnemonic.Fnop;
            if (!nop) Assert.True(t.FusedUops >= 1, $"{profile} {f.Code}: fused µops {t.FusedUops}");
            Assert.True(t.UnfusedUops >= t.FusedUops, $"{profile} {f.Code}: unfused {t.UnfusedUops} < fused {t.FusedUops}");
            Assert.True(t.UopPorts.Length <= t.UnfusedUops, $"{profile} {f.Code}: more port µops than unfused µops");
            foreach (ushort m in t.UopPorts) Assert.True(m != 0 && (m & ~all) == 0, $"{profile} {f.Code}: port mask {m:x}");
            Assert.InRange(t.Latency, 0, 1000);
            Assert.InRange(t.ReciprocalThroughput, 0, 1000);
            Assert.InRange(t.SerialCycles, 1, 65535);
            if (t.Has(TimingFlags.ZeroIdiom) || t.Has(TimingFlags.MoveEliminated)) Assert.False(f.Memory, $"{profile} {f.Code}: idiom on a memory form");
            if (t.FusesWith != JccFusionKinds.None) Assert.True(t.Has(TimingFlags.MacroFusibleFirst));
            if (profile != "simple")
            {
                // What the instruction accesses (Iced's description) has its load / STA+STD µops.
                bool reads = false, writes = false;
                foreach (UsedMemory m in Info.GetInfo(f.Instruction).GetUsedMemory())
                {
                    reads |= m.Access is OpAccess.Read or OpAccess.CondRead or OpAccess.ReadWrite or OpAccess.ReadCondWrite;
                    writes |= m.Access is OpAccess.Write or OpAccess.CondWrite or OpAccess.ReadWrite or OpAccess.ReadCondWrite;
                }
                if (reads) Assert.True(t.LoadUops >= 1, $"{profile} {f.Code} {(f.Memory ? 'm' : 'r')}: reads memory without a load µop");
                if (writes) Assert.True(t.StoreAddressUops >= 1 && t.StoreDataUops >= 1, $"{profile} {f.Code} {(f.Memory ? 'm' : 'r')}: writes memory without STA+STD");
            }
        }
        Assert.True(missing.Count == 0, $"{profile}: {missing.Count} implemented forms without an entry, e.g. {string.Join(", ", missing.Take(10))}");
        Assert.True(p.EntryCount >= 1000, $"{profile}: only {p.EntryCount} entries");
    }

    /// <summary>The corpus misses no table-driven code Vtx implements (its representative instruction could be built).</summary>
    [Fact]
    public void CorpusCoversEveryTableDrivenCode()
    {
        var covered = TimingCorpus.ImplementedForms().Select(f => f.Code).ToHashSet();
        var missing = Vtx.Cpu.Ext.Codes()
            .Where(c => c.ToOpCode().Encoding is EncodingKind.Legacy or EncodingKind.VEX && !covered.Contains(c)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} table-driven codes without a representative instruction: {string.Join(", ", missing.Take(20))}");
    }

    [Fact]
    public void SimpleProfileIsVtxCost1()
    {
        TimingProfile s = TimingProfile.Simple;
        Assert.Equal("vtx-cost-1", ((ICostModel)s).Name);
        foreach (var f in TimingCorpus.ImplementedForms())
            Assert.Equal(DefaultCostModel.Instance.Cost(f.Code, f.Memory), s.Cost(f.Code, f.Memory));
        Assert.Equal(200, s.System(SystemCost.VmEntry));
        Assert.Equal(200, s.System(SystemCost.VmExit));
        Assert.Equal(20, s.System(SystemCost.InterruptDelivery));
    }

    [Fact]
    public void ByNameFindsEveryBuiltInAndItsAliases()
    {
        Assert.Same(TimingProfile.Skylake, TimingProfile.ByName("skylake-client"));
        Assert.Same(TimingProfile.Skylake, TimingProfile.ByName("SKL"));
        Assert.Same(TimingProfile.Haswell, TimingProfile.ByName("haswell"));
        Assert.Same(TimingProfile.Simple, TimingProfile.ByName("vtx-cost-1"));
        Assert.Throws<ArgumentException>(() => TimingProfile.ByName("pentium"));
        Assert.Equal(8, TimingProfile.Skylake.Ports.Count);
        Assert.Equal(0b1100, TimingProfile.Skylake.LoadPorts);
        Assert.Equal(0b1000_1100, TimingProfile.Skylake.StoreAddressPorts);
        Assert.Equal(0b1_0000, TimingProfile.Skylake.StoreDataPorts);
    }

    /// <summary>Textbook facts the data must carry (Optimization Reference Manual, Skylake/Haswell chapters).</summary>
    [Theory]
    [InlineData("skylake-client")]
    [InlineData("haswell")]
    public void DataCarriesTheTextbookFacts(string profile)
    {
        TimingProfile p = TimingProfile.ByName(profile);
        // ADD r,r: one µop on any of the four ALU ports, latency 1.
        var add = p.Get(Code.Add_rm32_r32, false);
        Assert.Equal(1, add.Latency);
        Assert.Equal([(ushort)0b0110_0011], add.UopPorts.ToArray());
        // XOR r,r is a zero idiom; CMP/TEST macro-fuse; MOV r64,r64 is eliminable.
        Assert.True(p.Get(Code.Xor_r32_rm32, false).Has(TimingFlags.ZeroIdiom));
        Assert.True(p.Get(Code.Cmp_rm64_r64, false).Has(TimingFlags.MacroFusibleFirst));
        Assert.Equal(JccFusionKinds.All, p.Get(Code.Test_rm32_r32, false).FusesWith);
        Assert.Equal(JccFusionKinds.Equality | JccFusionKinds.Signed, p.Get(Code.Inc_rm32, false).FusesWith);
        Assert.False(p.Get(Code.Cmp_rm32_imm32, true).Has(TimingFlags.MacroFusibleFirst)); // memory + immediate
        Assert.True(p.Get(Code.Mov_r64_rm64, false).Has(TimingFlags.MoveEliminated));
        // A load+op memory form: one load µop, micro-fused (1 fused, 2 unfused), latency includes the load.
        var addm = p.Get(Code.Add_r32_rm32, true);
        Assert.Equal(1, addm.LoadUops);
        Assert.Equal(1, addm.FusedUops);
        Assert.Equal(2, addm.UnfusedUops);
        Assert.True(addm.MemoryLatency >= p.L1LoadLatency + 1);
        // A store: STA + STD.
        var st = p.Get(Code.Mov_rm32_r32, true);
        Assert.Equal(1, st.StoreAddressUops);
        Assert.Equal(1, st.StoreDataUops);
        // IMUL r32,r/m32: 3 cycles on port 1.
        var imul = p.Get(Code.Imul_r32_rm32, false);
        Assert.Equal(3, imul.Latency);
        Assert.Equal([(ushort)0b10], imul.UopPorts.ToArray());
        // 66h + imm16 is a length-changing prefix; MOV r16,imm16 is not.
        Assert.True(p.Get(Code.Add_rm16_imm16, false).Has(TimingFlags.LengthChangingPrefixSensitive));
        Assert.False(p.Get(Code.Mov_r16_imm16, false).Has(TimingFlags.LengthChangingPrefixSensitive));
        // DIV r64 is slower than DIV r32; the 64-bit divide is data-dependent.
        Assert.True(p.Get(Code.Div_rm64, false).Latency > p.Get(Code.Div_rm32, false).Latency);
        Assert.True(p.DivideLatency(64, false, 128) > p.DivideLatency(64, false, 32));
        Assert.True(p.Get(Code.Cpuid, false).Has(TimingFlags.Serializing));
        Assert.True(p.Get(Code.Jne_rel8_64, false).Has(TimingFlags.Branch));
    }

    [Fact]
    public void PauseIsLongerOnSkylakeThanOnHaswell() =>
        Assert.True(TimingProfile.Skylake.System(SystemCost.Pause) > 10 * TimingProfile.Haswell.System(SystemCost.Pause));

    [Fact]
    public void RepStringCostsFollowTheFastStringsRule()
    {
        TimingProfile p = TimingProfile.Skylake;
        RepStringTiming r = p.RepString(RepStringKind.Movs);
        // Below the threshold: per iteration; above: start-up plus bytes at the aligned/unaligned rate.
        Assert.Equal((long)Math.Ceiling(8 * r.SlowCyclesPerIteration), p.RepStringCycles(RepStringKind.Movs, 1, 8, true));
        long big = 4096;
        Assert.Equal(r.StartupCycles + (long)Math.Ceiling(big / r.AlignedBytesPerCycle), p.RepStringCycles(RepStringKind.Movs, 1, big, true));
        Assert.True(p.RepStringCycles(RepStringKind.Movs, 8, 512, false) >= p.RepStringCycles(RepStringKind.Movs, 8, 512, true));
    }

    [Theory]
    [InlineData("profile x\n")]                                                        // missing lines
    [InlineData("bogus line\n")]
    [InlineData("ins NotACode r uops=1/1 lat=1 tp=1\n")]
    [InlineData("ins Add_rm32_r32 x uops=1/1 lat=1 tp=1\n")]
    [InlineData("ins Add_rm32_r32 r uops=2/1 ports=p0+p1+p2 lat=1 tp=1\n")]           // more port µops than unfused
    [InlineData("ins Add_rm32_r32 r uops=1/1 lat=1\n")]                                // no tp
    [InlineData("ins Add_rm32_r32 r uops=1/1 lat=1 tp=1 fuse=All\n")]                  // fuse without the flag
    [InlineData("ins Add_rm32_r32 r uops=1/1 lat=1 tp=1 ports=p00\n")]                 // repeated port
    [InlineData("core issue-width 4\ncore issue-width 4\n")]
    [InlineData("system no-such-cost 1\n")]
    [InlineData("div 12 signed 24 1 1\n")]
    public void MalformedDataIsRejected(string text) =>
        Assert.Throws<FormatException>(() => TimingProfile.Parse(text));

    [Fact]
    public void PortMasksOutsideTheProfileAreRejected()
    {
        string text = TimingProfile.BuiltInText("simple") + "\nins Adc_rm8_r8 r uops=1/1 ports=p1 lat=1 tp=1\n";
        Assert.Throws<FormatException>(() => TimingProfile.Parse(text));
    }

    [Fact]
    public void ALaterEntryForTheSameFormReplacesTheEarlierOne()
    {
        string text = TimingProfile.BuiltInText("skylake-client") + "\nins Add_rm32_r32 r uops=1/1 ports=p1 lat=7 tp=1\n";
        TimingProfile p = TimingProfile.Parse(text);
        Assert.Equal(7, p.Get(Code.Add_rm32_r32, false).Latency);
        Assert.Equal(TimingProfile.Skylake.EntryCount, p.EntryCount);
    }

    [Fact]
    public void PortNotationRoundTrips()
    {
        ushort[] m = TimingProfile.ParsePorts("2*p0156+p23+p4");
        Assert.Equal([(ushort)0b0110_0011, 0b0110_0011, 0b1100, 0b1_0000], m);
        Assert.Equal("2*p0156+p23+p4", TimingProfile.FormatPorts(m));
        Assert.Equal("-", TimingProfile.FormatPorts([]));
    }

    private static string FirstDifference(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        int line = a.Take(i).Count(c => c == '\n') + 1;
        return $"first difference at line {line} (generated {a.Length} chars, file {b.Length} chars)";
    }
}

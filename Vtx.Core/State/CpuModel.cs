using Iced.Intel;

namespace Vtx;

/// <summary>One CPUID answer: the four output registers (SDM Vol. 2A, CPUID).</summary>
/// <param name="Eax">EAX output.</param>
/// <param name="Ebx">EBX output.</param>
/// <param name="Ecx">ECX output.</param>
/// <param name="Edx">EDX output.</param>
public readonly record struct CpuidResult(uint Eax, uint Ebx, uint Ecx, uint Edx);

/// <summary>
/// The processor a <see cref="Machine"/> pretends to be: its identification, which instruction-set
/// features it offers (an instruction of a feature the model does not offer raises #UD, as on a
/// part without it) and therefore what CPUID answers. The default resembles a recent Intel server
/// core, restricted to what Vtx models; it is a plain object the host may change before creating
/// a machine.
/// </summary>
/// <remarks>
/// CPUID answers are derived from the properties below (SDM Vol. 2A, CPUID, Tables 3-8 to 3-20);
/// <see cref="Overrides"/> replaces any leaf/subleaf answer wholesale for tests that need an exact
/// table. Leaves above the maximum return the highest basic leaf's data, as Intel parts do.
/// </remarks>
public sealed class CpuModel
{
    /// <summary>Vendor identification string (12 ASCII characters), CPUID.0:EBX,EDX,ECX.</summary>
    public string Vendor { get; init; } = "GenuineIntel";
    /// <summary>Processor brand string (up to 48 characters), CPUID.80000002h-80000004h.</summary>
    public string Brand { get; init; } = "Vtx Virtual CPU (Intel-compatible, VT-x model)";
    /// <summary>Display family (6 for Intel Core/Xeon).</summary>
    public int Family { get; init; } = 6;
    /// <summary>Display model (0x8F: a Sapphire Rapids-class server core).</summary>
    public int Model { get; init; } = 0x8F;
    /// <summary>Stepping.</summary>
    public int Stepping { get; init; } = 8;
    /// <summary>Physical-address width in bits (MAXPHYADDR), CPUID.80000008h:EAX[7:0].</summary>
    public int PhysicalAddressBits { get; init; } = 46;
    /// <summary>Linear-address width in bits, CPUID.80000008h:EAX[15:8].</summary>
    public int LinearAddressBits { get; init; } = 48;
    /// <summary>Cycles are multiplied by this to give the time-stamp counter (1 = TSC counts cycles).</summary>
    public ulong TscPerCycle { get; init; } = 1;

    /// <summary>CMPXCHG16B (CPUID.1:ECX[13]).</summary>
    public bool Cx16 { get; init; } = true;
    /// <summary>MOVBE (CPUID.1:ECX[22]).</summary>
    public bool Movbe { get; init; } = true;
    /// <summary>POPCNT (CPUID.1:ECX[23]).</summary>
    public bool Popcnt { get; init; } = true;
    /// <summary>BMI1: ANDN, BEXTR, BLSI, BLSMSK, BLSR, TZCNT (CPUID.7.0:EBX[3]).</summary>
    public bool Bmi1 { get; init; } = true;
    /// <summary>BMI2: BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX, SHRX (CPUID.7.0:EBX[8]).</summary>
    public bool Bmi2 { get; init; } = true;
    /// <summary>ADX: ADCX, ADOX (CPUID.7.0:EBX[19]).</summary>
    public bool Adx { get; init; } = true;
    /// <summary>LZCNT (CPUID.80000001h:ECX[5]).</summary>
    public bool Lzcnt { get; init; } = true;
    /// <summary>RDTSCP and IA32_TSC_AUX (CPUID.80000001h:EDX[27]).</summary>
    public bool Rdtscp { get; init; } = true;
    /// <summary>
    /// 5-level paging (CPUID.(EAX=7,ECX=0):ECX.LA57[16]): CR4.LA57 may be set, and the loaded-address
    /// canonical checks (MSRs, VMCS fields) use 57 bits; false mimics a 48-bit part (Intel 5-level paging white paper, 2.5/2.6).
    /// </summary>
    public bool La57 { get; init; } = true;
    /// <summary>
    /// XSAVE feature set enumeration (CPUID.1:ECX[26]): CR4.OSXSAVE and XGETBV/XSETBV with XCR0
    /// holding x87 state only (this model offers no SSE/AVX state). Off by default because the
    /// XSAVE/XRSTOR family of instructions itself is not modelled (#UD).
    /// </summary>
    public bool Xsave { get; init; }

    /// <summary>
    /// The VMX capabilities offered (SDM Vol. 3D, Appendix A), or null for a processor without VMX
    /// (CPUID.1:ECX.VMX[5] = 0, CR4.VMXE reserved, the VMX instructions #UD).
    /// </summary>
    public Vmx.VmxCapabilities? Vmx { get; init; } = new();

    /// <summary>x87 FPU on chip (CPUID.1:EDX[0]); FCMOVcc also needs CMOV, FISTTP SSE3.</summary>
    public bool Fpu { get; init; } = true;
    /// <summary>MMX technology (CPUID.1:EDX[23]).</summary>
    public bool Mmx { get; init; } = true;
    /// <summary>FXSAVE/FXRSTOR and CR4.OSFXSR (CPUID.1:EDX[24]).</summary>
    public bool Fxsr { get; init; } = true;
    /// <summary>SSE (CPUID.1:EDX[25]).</summary>
    public bool Sse { get; init; } = true;
    /// <summary>SSE2 (CPUID.1:EDX[26]).</summary>
    public bool Sse2 { get; init; } = true;
    /// <summary>SSE3 (CPUID.1:ECX[0]).</summary>
    public bool Sse3 { get; init; } = true;
    /// <summary>SSSE3 (CPUID.1:ECX[9]).</summary>
    public bool Ssse3 { get; init; } = true;
    /// <summary>SSE4.1 (CPUID.1:ECX[19]).</summary>
    public bool Sse41 { get; init; } = true;
    /// <summary>SSE4.2, including CRC32 and PCMPxSTRx (CPUID.1:ECX[20]).</summary>
    public bool Sse42 { get; init; } = true;
    /// <summary>CLFLUSH (CPUID.1:EDX[19]).</summary>
    public bool Clflush { get; init; } = true;
    /// <summary>CLFLUSHOPT (CPUID.7.0:EBX[23]).</summary>
    public bool ClflushOpt { get; init; } = true;
    /// <summary>PREFETCHW (CPUID.80000001h:ECX[8]).</summary>
    public bool Prefetchw { get; init; } = true;
    /// <summary>XSAVEOPT (CPUID.0Dh.1:EAX[0]); requires <see cref="Xsave"/>.</summary>
    public bool XsaveOpt { get; init; } = true;
    /// <summary>XSAVEC (CPUID.0Dh.1:EAX[1]); requires <see cref="Xsave"/>.</summary>
    public bool XsaveC { get; init; } = true;

    /// <summary>
    /// True when the model offers Iced CPUID feature <paramref name="f"/>. This is the one mapping from
    /// Iced's feature names to the model; instruction gating and CPUID answers both follow it.
    /// Features Vtx does not model answer false.
    /// </summary>
    public bool Offers(Iced.Intel.CpuidFeature f) => f switch
    {
        Iced.Intel.CpuidFeature.INTEL8086 or Iced.Intel.CpuidFeature.INTEL186 or Iced.Intel.CpuidFeature.INTEL286
            or Iced.Intel.CpuidFeature.INTEL386 or Iced.Intel.CpuidFeature.INTEL486 or Iced.Intel.CpuidFeature.X64
            or Iced.Intel.CpuidFeature.CPUID or Iced.Intel.CpuidFeature.CX8 or Iced.Intel.CpuidFeature.CMOV
            or Iced.Intel.CpuidFeature.MSR or Iced.Intel.CpuidFeature.TSC => true,
        Iced.Intel.CpuidFeature.FPU or Iced.Intel.CpuidFeature.FPU287 or Iced.Intel.CpuidFeature.FPU387 => Fpu,
        Iced.Intel.CpuidFeature.MMX => Mmx,
        Iced.Intel.CpuidFeature.FXSR => Fxsr,
        Iced.Intel.CpuidFeature.SSE => Sse,
        Iced.Intel.CpuidFeature.SSE2 => Sse2,
        Iced.Intel.CpuidFeature.SSE3 => Sse3,
        Iced.Intel.CpuidFeature.SSSE3 => Ssse3,
        Iced.Intel.CpuidFeature.SSE4_1 => Sse41,
        Iced.Intel.CpuidFeature.SSE4_2 => Sse42,
        Iced.Intel.CpuidFeature.CLFSH => Clflush,
        Iced.Intel.CpuidFeature.CLFLUSHOPT => ClflushOpt,
        Iced.Intel.CpuidFeature.PREFETCHW => Prefetchw,
        Iced.Intel.CpuidFeature.XSAVE => Xsave,
        Iced.Intel.CpuidFeature.XSAVEOPT => Xsave && XsaveOpt,
        Iced.Intel.CpuidFeature.XSAVEC => Xsave && XsaveC,
        Iced.Intel.CpuidFeature.POPCNT => Popcnt,
        Iced.Intel.CpuidFeature.MOVBE => Movbe,
        Iced.Intel.CpuidFeature.CMPXCHG16B => Cx16,
        _ => false,
    };

    /// <summary>True when the model offers every CPUID feature Iced lists for <paramref name="code"/>.</summary>
    public bool OffersAll(Iced.Intel.Code code)
    {
        foreach (var f in code.CpuidFeatures())
            if (!Offers(f)) return false;
        return true;
    }

    /// <summary>LAHF/SAHF in 64-bit mode (CPUID.80000001h:ECX[0]).</summary>
    public bool LahfSahf64 { get; init; } = true;

    /// <summary>Exact answers for particular (leaf, subleaf) pairs, taking precedence over the derived ones.</summary>
    public Dictionary<(uint Leaf, uint Subleaf), CpuidResult> Overrides { get; } = new();

    /// <summary>Highest basic leaf reported in CPUID.0:EAX.</summary>
    public uint MaxBasicLeaf => Xsave ? 0xDu : 0x7u;
    /// <summary>Highest extended leaf reported in CPUID.80000000h:EAX.</summary>
    public uint MaxExtendedLeaf => 0x80000008;

    /// <summary>The answer of CPUID for <paramref name="leaf"/> (EAX) and <paramref name="subleaf"/> (ECX).</summary>
    public CpuidResult Cpuid(uint leaf, uint subleaf)
    {
        if (Overrides.TryGetValue((leaf, subleaf), out var o)) return o;
        if (leaf >= 0x80000000 ? leaf > MaxExtendedLeaf : leaf > MaxBasicLeaf)
        {
            // Intel: an out-of-range leaf answers with the data of the highest basic leaf.
            leaf = MaxBasicLeaf;
            subleaf = 0;
        }
        switch (leaf)
        {
            case 0:
                return new CpuidResult(MaxBasicLeaf, Chars(Vendor, 0), Chars(Vendor, 8), Chars(Vendor, 4));
            case 0xD when Xsave && subleaf == 0:
                // XCR0 may hold x87 state only; the save area is the 512-byte legacy area plus the 64-byte header.
                return new CpuidResult(1, 576, 576, 0);
            case 1:
            {
                uint fam = (uint)Family, model = (uint)Model;
                uint eax = (uint)Stepping & 0xF | (model & 0xF) << 4 | (Math.Min(fam, 0xFu) & 0xF) << 8
                           | ((model >> 4) & 0xF) << 16 | (fam > 0xF ? (fam - 0xF) & 0xFF : 0) << 20;
                uint ebx = 1u << 16; // one logical processor, APIC ID 0, CLFLUSH line size 0
                uint ecx = (Cx16 ? 1u << 13 : 0) | (Movbe ? 1u << 22 : 0) | (Popcnt ? 1u << 23 : 0)
                           | 1u << 17 | 1u << 21 | 1u << 24 // PCID, x2APIC, TSC-deadline timer
                           | (Xsave ? 1u << 26 : 0) | (Vmx is not null ? 1u << 5 : 0);
                // DE, PSE, TSC, MSR, PAE, CX8, APIC, SEP, MTRR, PGE, CMOV, PAT, PSE-36
                uint edx = 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 8 | 1u << 9 | 1u << 11 | 1u << 12
                           | 1u << 13 | 1u << 15 | 1u << 16 | 1u << 17;
                return new CpuidResult(eax, ebx, ecx, edx);
            }
            case 7 when subleaf == 0:
            {
                // SMEP (7), INVPCID (10), SMAP (20); ECX: UMIP (2), LA57 (16).
                uint ebx = (Bmi1 ? 1u << 3 : 0) | (Bmi2 ? 1u << 8 : 0) | (Adx ? 1u << 19 : 0) | 1u << 7 | 1u << 10 | 1u << 20;
                return new CpuidResult(0, ebx, 1u << 2 | (La57 ? 1u << 16 : 0), 0);
            }
            case 0x80000000:
                return new CpuidResult(MaxExtendedLeaf, 0, 0, 0);
            case 0x80000001:
            {
                uint ecx = (LahfSahf64 ? 1u : 0) | (Lzcnt ? 1u << 5 : 0);
                // LM, SYSCALL/SYSRET, NX, 1-GiB pages
                uint edx = 1u << 29 | 1u << 11 | 1u << 20 | 1u << 26 | (Rdtscp ? 1u << 27 : 0);
                return new CpuidResult(0, 0, ecx, edx);
            }
            case 0x80000002:
            case 0x80000003:
            case 0x80000004:
            {
                int b = (int)(leaf - 0x80000002) * 16;
                return new CpuidResult(Chars(Brand, b), Chars(Brand, b + 4), Chars(Brand, b + 8), Chars(Brand, b + 12));
            }
            case 0x80000008:
                return new CpuidResult((uint)PhysicalAddressBits | (uint)LinearAddressBits << 8, 0, 0, 0);
            default:
                return default;
        }
    }

    private static uint Chars(string s, int at)
    {
        uint v = 0;
        for (int i = 0; i < 4; i++)
        {
            int k = at + i;
            uint c = k < s.Length ? (byte)s[k] : 0u;
            v |= c << (8 * i);
        }
        return v;
    }
}

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
    /// <summary>
    /// The microcode update signature IA32_BIOS_SIGN_ID (MSR 8Bh) bits 63:32 receive when CPUID executes
    /// (SDM Vol. 3A, 10.11.7.1, "Determining the signature"); 0 means no update is loaded.
    /// </summary>
    public uint MicrocodeRevision { get; init; } = 1;
    /// <summary>Physical-address width in bits (MAXPHYADDR), CPUID.80000008h:EAX[7:0].</summary>
    public int PhysicalAddressBits { get; init; } = 46;
    /// <summary>Linear-address width in bits, CPUID.80000008h:EAX[15:8].</summary>
    public int LinearAddressBits => La57 ? 57 : 48;
    /// <summary>5-level paging, CR4.LA57 (CPUID.7.0:ECX[16]); also sets <see cref="LinearAddressBits"/> to 57.</summary>
    public bool La57 { get; init; } = true;
    /// <summary>Cycles are multiplied by this to give the time-stamp counter (1 = TSC counts cycles).</summary>
    public ulong TscPerCycle { get; init; } = 1;
    /// <summary>
    /// The nominal TSC frequency in Hz, reported by CPUID leaves 15h and 16h (SDM Vol. 2A, CPUID;
    /// Vol. 3B, 19.7.3 "Determining the Processor Base Frequency") so kernels need no calibration:
    /// leaf 15h gives a 25-MHz core crystal and the TSC/crystal ratio (EBX/EAX, reduced), leaf 16h the
    /// base and maximum frequencies in MHz and a 100-MHz bus. 0 (the default) reports neither leaf
    /// and keeps the maximum basic leaf as it was. The platform devices (PIT, RTC, PM timer) derive
    /// their time from the TSC at this frequency.
    /// </summary>
    public ulong TscFrequencyHz { get; init; }

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
    /// XSAVE feature set (CPUID.1:ECX[26]): CR4.OSXSAVE, XGETBV/XSETBV, XSAVE/XRSTOR and CPUID leaf 0Dh,
    /// managing the state components of <see cref="XsaveComponents"/> (x87 and SSE).
    /// </summary>
    public bool Xsave { get; init; } = true;

    /// <summary>
    /// The XCR0 bits this processor supports (CPUID.0Dh.0:EDX:EAX, SDM Vol. 1, 13.2): x87 (bit 0) and,
    /// with SSE, SSE state (bit 1); 0 without XSAVE. (AVX state, bit 2, is not modelled.)
    /// </summary>
    public ulong XsaveComponents => Xsave ? 1UL | (Sse ? 2UL : 0) : 0;

    /// <summary>
    /// Size in bytes of an XSAVE area holding the state components in <paramref name="components"/>
    /// (SDM Vol. 1, 13.4): the 512-byte legacy region and the 64-byte header, then the extended region.
    /// The standard format places component i at its fixed offset; the compacted format packs the
    /// components of <paramref name="components"/> in order. No extended component is modelled yet, so
    /// both are 576 bytes; an extended component adds its (offset, size) here.
    /// </summary>
    public static uint XsaveAreaSize(ulong components, bool compacted)
    {
        _ = components;
        _ = compacted;
        return 512 + 64;
    }

    /// <summary>
    /// The VMX capabilities offered (SDM Vol. 3D, Appendix A), or null for a processor without VMX
    /// (CPUID.1:ECX.VMX[5] = 0, CR4.VMXE reserved, the VMX instructions #UD).
    /// </summary>
    public Vmx.VmxCapabilities? Vmx { get; init; } = new();

    /// <summary>
    /// The timing profile (issue 10): the named core whose pipeline costs the instructions
    /// (<see cref="Timing.TimingProfile.Skylake"/> by default, <see cref="Timing.TimingProfile.Haswell"/>),
    /// or <see cref="Timing.TimingProfile.Simple"/> for vtx-cost-1's serial arithmetic. It is the processor's
    /// initial <see cref="Cpu.CostModel"/> and the source of the system costs (VM entry/exit, event delivery).
    /// </summary>
    public Timing.TimingProfile Timing { get; init; } = Vtx.Timing.TimingProfile.Skylake;

    /// <summary>
    /// Optional, off by default (issue 10): a deterministic model of the data caches (L1D, L2, LLC,
    /// set-associative with the <see cref="Timing"/> profile's sizes and latencies) consulted on every data
    /// access, so that loads that miss pay the level's latency. Slower to run (every access takes the slow
    /// path); ignored by profiles without cache data (the simple profile). See docs/ARCHITECTURE.md, "Beyond the core".
    /// </summary>
    public bool CacheTiming { get; init; }

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
        // The multi-byte NOP (0F 1F /0) and the reserved-NOP space 0F 0D/0F 18-0F 1F: every P6-family and later part.
        Iced.Intel.CpuidFeature.MULTIBYTENOP => true,
        _ => false,
    };

    /// <summary>True when the model offers every CPUID feature Iced lists for <paramref name="code"/>.</summary>
    public bool OffersAll(Iced.Intel.Code code)
    {
        // Hints in the reserved-NOP space execute as NOPs on processors that do not enumerate them
        // (CLDEMOTE page: "treated as a NOP"; PREFETCHIT0/1 likewise), so they are executed, not #UD.
        if (code is Iced.Intel.Code.Cldemote_m8 or Iced.Intel.Code.Prefetchit0_m8 or Iced.Intel.Code.Prefetchit1_m8) return true;
        foreach (var f in code.CpuidFeatures())
            if (!Offers(f)) return false;
        return true;
    }

    /// <summary>LAHF/SAHF in 64-bit mode (CPUID.80000001h:ECX[0]).</summary>
    public bool LahfSahf64 { get; init; } = true;

    /// <summary>Exact answers for particular (leaf, subleaf) pairs, taking precedence over the derived ones.</summary>
    public Dictionary<(uint Leaf, uint Subleaf), CpuidResult> Overrides { get; } = new();

    /// <summary>Highest basic leaf reported in CPUID.0:EAX.</summary>
    public uint MaxBasicLeaf => TscFrequencyHz != 0 ? 0x16u : Xsave ? 0xDu : 0x7u;
    /// <summary>Highest extended leaf reported in CPUID.80000000h:EAX.</summary>
    public uint MaxExtendedLeaf => 0x80000008;

    /// <summary>
    /// The answer of CPUID for <paramref name="leaf"/> (EAX) and <paramref name="subleaf"/> (ECX) with
    /// XCR0 at its RESET value (1); see <see cref="Cpuid(uint, uint, ulong)"/>.
    /// </summary>
    public CpuidResult Cpuid(uint leaf, uint subleaf) => Cpuid(leaf, subleaf, 1);

    /// <summary>
    /// The answer of CPUID for <paramref name="leaf"/> (EAX) and <paramref name="subleaf"/> (ECX) when
    /// XCR0 holds <paramref name="xcr0"/> (CPUID.0Dh.0:EBX and 0Dh.1:EBX depend on it). Every feature bit
    /// comes from <see cref="Offers"/> or the model's properties, so CPUID reports exactly what executes
    /// (SDM Vol. 2A, CPUID, Tables 3-8 to 3-20). CPUID.1:ECX.OSXSAVE is added by the processor from CR4.
    /// </summary>
    public CpuidResult Cpuid(uint leaf, uint subleaf, ulong xcr0)
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
            case 1:
            {
                uint fam = (uint)Family, model = (uint)Model;
                uint eax = (uint)Stepping & 0xF | (model & 0xF) << 4 | (Math.Min(fam, 0xFu) & 0xF) << 8
                           | ((model >> 4) & 0xF) << 16 | (fam > 0xF ? (fam - 0xF) & 0xFF : 0) << 20;
                // EBX: one logical processor, APIC ID 0; CLFLUSH line size in 8-byte units (64 bytes) with CLFSH.
                bool clfsh = Offers(CpuidFeature.CLFSH);
                uint ebx = 1u << 16 | (clfsh ? 8u << 8 : 0);
                uint ecx = Bit(Offers(CpuidFeature.SSE3), 0) | Bit(Vmx is not null, 5) | Bit(Offers(CpuidFeature.SSSE3), 9)
                           | Bit(Offers(CpuidFeature.CMPXCHG16B), 13) | 1u << 17 // PCID
                           | Bit(Offers(CpuidFeature.SSE4_1), 19) | Bit(Offers(CpuidFeature.SSE4_2), 20)
                           | 1u << 21 // x2APIC
                           | Bit(Offers(CpuidFeature.MOVBE), 22) | Bit(Offers(CpuidFeature.POPCNT), 23)
                           | 1u << 24 // TSC-deadline timer
                           | Bit(Offers(CpuidFeature.XSAVE), 26);
                // DE, PSE, TSC, MSR, PAE, CX8, APIC, SEP, MTRR, PGE, CMOV, PAT, PSE-36 always; the rest per model.
                uint edx = Bit(Offers(CpuidFeature.FPU), 0) | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 8 | 1u << 9
                           | 1u << 11 | 1u << 12 | 1u << 13 | 1u << 15 | 1u << 16 | 1u << 17
                           | Bit(clfsh, 19) | Bit(Offers(CpuidFeature.MMX), 23) | Bit(Offers(CpuidFeature.FXSR), 24)
                           | Bit(Offers(CpuidFeature.SSE), 25) | Bit(Offers(CpuidFeature.SSE2), 26);
                return new CpuidResult(eax, ebx, ecx, edx);
            }
            case 7 when subleaf == 0:
            {
                // SMEP (7), INVPCID (10), SMAP (20); ECX: UMIP (2), LA57 (16).
                uint ebx = (Bmi1 ? 1u << 3 : 0) | (Bmi2 ? 1u << 8 : 0) | (Adx ? 1u << 19 : 0) | 1u << 7 | 1u << 10 | 1u << 20
                           | Bit(Offers(CpuidFeature.CLFLUSHOPT), 23);
                return new CpuidResult(0, ebx, 1u << 2 | Bit(La57, 16), 0);
            }
            case 0xD when Xsave:
                return XsaveLeaf(subleaf, xcr0);
            case 0x15 when TscFrequencyHz != 0:
            {
                // TSC = crystal × EBX / EAX: the ratio TscFrequencyHz / 25 MHz in lowest terms.
                const ulong crystal = 25_000_000;
                ulong g = System.Numerics.BigInteger.GreatestCommonDivisor(TscFrequencyHz, crystal) is var gcd ? (ulong)gcd : 1;
                ulong num = TscFrequencyHz / g, den = crystal / g;
                return num > uint.MaxValue ? new CpuidResult(0, 0, 0, 0) : new CpuidResult((uint)den, (uint)num, (uint)crystal, 0);
            }
            case 0x16 when TscFrequencyHz != 0:
            {
                uint mhz = (uint)Math.Min(TscFrequencyHz / 1_000_000, 0xFFFF);
                return new CpuidResult(mhz, mhz, 100, 0);
            }
            case 0x80000000:
                return new CpuidResult(MaxExtendedLeaf, 0, 0, 0);
            case 0x80000001:
            {
                uint ecx = (LahfSahf64 ? 1u : 0) | (Lzcnt ? 1u << 5 : 0) | Bit(Offers(CpuidFeature.PREFETCHW), 8);
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

    /// <summary>
    /// CPUID leaf 0Dh (SDM Vol. 2A, CPUID, Table 3-8; Vol. 1, 13.2). Sub-leaf 0: EDX:EAX = supported XCR0
    /// bits, EBX = area size for the components enabled in XCR0, ECX = area size for every supported
    /// component. Sub-leaf 1: EAX bit 0 XSAVEOPT, bit 1 XSAVEC (bit 2 XGETBV with ECX = 1 and bit 3
    /// XSAVES are not offered), EBX = compacted size for XCR0 | IA32_XSS (IA32_XSS is always 0 here),
    /// ECX:EDX = supported IA32_XSS bits (none). Sub-leaves 2..62 describe extended components: none is
    /// modelled, so they are 0 (as are sub-leaves of unsupported components).
    /// </summary>
    private CpuidResult XsaveLeaf(uint subleaf, ulong xcr0)
    {
        ulong supported = XsaveComponents;
        switch (subleaf)
        {
            case 0:
                return new CpuidResult((uint)supported, XsaveAreaSize(xcr0 & supported, false), XsaveAreaSize(supported, false), (uint)(supported >> 32));
            case 1:
                return new CpuidResult(Bit(Offers(CpuidFeature.XSAVEOPT), 0) | Bit(Offers(CpuidFeature.XSAVEC), 1),
                    XsaveAreaSize(xcr0 & supported, true), 0, 0);
            default:
                return default;
        }
    }

    private static uint Bit(bool on, int bit) => on ? 1u << bit : 0;

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

using System.Runtime.Intrinsics.X86;
using Iced.Intel;

namespace Vtx.Tests.Differential;

/// <summary>
/// Which Iced CPUID features the host CPU has, read with CPUID natively (SDM Vol. 2A, CPUID, Tables 3-8 to 3-10), so the
/// table-driven differential runner only runs a code natively when the host can execute it (an #UD would kill the process).
/// </summary>
public static class SimdHostFeatures
{
    private static readonly Lazy<(int Ecx1, int Edx1, int Ebx7, int Ecx81, int Eax0D1, bool Osxsave, string Vendor)> s_cpuid = new(Read);

    /// <summary>True when the host is an AMD processor ("AuthenticAMD").</summary>
    public static bool IsAmd => s_cpuid.Value.Vendor == "AuthenticAMD";

    /// <summary>The host's CPUID vendor string.</summary>
    public static string Vendor => s_cpuid.Value.Vendor;

    private static (int, int, int, int, int, bool, string) Read()
    {
        if (!X86Base.IsSupported) return (0, 0, 0, 0, 0, false, "");
        var (max, b0, c0, d0) = X86Base.CpuId(0, 0);
        Span<byte> v = stackalloc byte[12];
        BitConverter.TryWriteBytes(v, b0);
        BitConverter.TryWriteBytes(v[4..], d0);
        BitConverter.TryWriteBytes(v[8..], c0);
        string vendor = System.Text.Encoding.ASCII.GetString(v);
        var (_, _, ecx1, edx1) = X86Base.CpuId(1, 0);
        int ebx7 = max >= 7 ? X86Base.CpuId(7, 0).Ebx : 0;
        int eax0d1 = max >= 0xD ? X86Base.CpuId(0xD, 1).Eax : 0;
        var (maxExt, _, _, _) = X86Base.CpuId(unchecked((int)0x8000_0000), 0);
        int ecx81 = (uint)maxExt >= 0x8000_0001 ? X86Base.CpuId(unchecked((int)0x8000_0001), 0).Ecx : 0;
        return (ecx1, edx1, ebx7, ecx81, eax0d1, (ecx1 & (1 << 27)) != 0, vendor);
    }

    /// <summary>True when the host supports <paramref name="f"/>; false for features this runner does not know.</summary>
    public static bool Has(CpuidFeature f)
    {
        var c = s_cpuid.Value;
        static bool Bit(int reg, int bit) => (reg & (1 << bit)) != 0;
        return f switch
        {
            CpuidFeature.INTEL8086 or CpuidFeature.INTEL186 or CpuidFeature.INTEL286 or CpuidFeature.INTEL386
                or CpuidFeature.INTEL486 or CpuidFeature.X64 or CpuidFeature.CPUID => X86Base.IsSupported,
            CpuidFeature.FPU or CpuidFeature.FPU287 or CpuidFeature.FPU387 => Bit(c.Edx1, 0),
            CpuidFeature.TSC => Bit(c.Edx1, 4),
            CpuidFeature.CX8 => Bit(c.Edx1, 8),
            CpuidFeature.CMOV => Bit(c.Edx1, 15),
            CpuidFeature.CLFSH => Bit(c.Edx1, 19),
            CpuidFeature.MMX => Bit(c.Edx1, 23),
            CpuidFeature.FXSR => Bit(c.Edx1, 24),
            CpuidFeature.SSE => Bit(c.Edx1, 25),
            CpuidFeature.SSE2 => Bit(c.Edx1, 26),
            CpuidFeature.SSE3 => Bit(c.Ecx1, 0),
            CpuidFeature.SSSE3 => Bit(c.Ecx1, 9),
            CpuidFeature.CMPXCHG16B => Bit(c.Ecx1, 13),
            CpuidFeature.SSE4_1 => Bit(c.Ecx1, 19),
            CpuidFeature.SSE4_2 => Bit(c.Ecx1, 20),
            CpuidFeature.MOVBE => Bit(c.Ecx1, 22),
            CpuidFeature.POPCNT => Bit(c.Ecx1, 23),
            CpuidFeature.XSAVE => Bit(c.Ecx1, 26) && c.Osxsave,
            CpuidFeature.XSAVEOPT => Bit(c.Eax0D1, 0) && c.Osxsave,
            CpuidFeature.XSAVEC => Bit(c.Eax0D1, 1) && c.Osxsave,
            CpuidFeature.CLFLUSHOPT => Bit(c.Ebx7, 23),
            CpuidFeature.PREFETCHW => Bit(c.Ecx81, 8),
            // Encoded in the reserved-NOP hint space (0F 0D, 0F 18-1F): a processor without the feature executes them as
            // NOPs (SDM Vol. 2A CLDEMOTE, PREFETCHh, NOP; Vol. 2B Table A-? "reserved NOP"), so any x86-64 host runs them.
            CpuidFeature.MULTIBYTENOP or CpuidFeature.CLDEMOTE or CpuidFeature.PREFETCHITI => X86Base.X64.IsSupported,
            _ => false,
        };
    }

    /// <summary>The features of <paramref name="code"/> the host lacks (empty when it can run it).</summary>
    public static string Missing(Code code) =>
        string.Join(", ", code.CpuidFeatures().Where(f => !Has(f)).Select(f => f.ToString()));
}

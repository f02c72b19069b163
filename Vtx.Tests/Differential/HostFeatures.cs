using System.Runtime.Intrinsics.X86;

namespace Vtx.Tests.Differential;

/// <summary>Features of the host CPU, read with CPUID natively.</summary>
public static class HostFeatures
{
    private static readonly Lazy<HostFeature> s_features = new(Detect);

    public static HostFeature Available => s_features.Value;

    /// <summary>Names of the features in <paramref name="required"/> the host lacks (empty when all are present).</summary>
    public static string Missing(HostFeature required)
    {
        HostFeature missing = required & ~Available;
        return missing == HostFeature.None ? "" : missing.ToString();
    }

    private static HostFeature Detect()
    {
        if (!X86Base.IsSupported) return HostFeature.None;
        HostFeature f = HostFeature.None;
        var (_, _, ecx1, _) = X86Base.CpuId(1, 0);
        var (maxLeaf, _, _, _) = X86Base.CpuId(0, 0);
        int ebx7 = maxLeaf >= 7 ? X86Base.CpuId(7, 0).Ebx : 0;
        var (maxExt, _, _, _) = X86Base.CpuId(unchecked((int)0x8000_0000), 0);
        int ecxExt = (uint)maxExt >= 0x8000_0001 ? X86Base.CpuId(unchecked((int)0x8000_0001), 0).Ecx : 0;
        if ((ecx1 & (1 << 13)) != 0) f |= HostFeature.Cx16;     // CPUID.01H:ECX.CMPXCHG16B[bit 13]
        if ((ecx1 & (1 << 22)) != 0) f |= HostFeature.Movbe;    // CPUID.01H:ECX.MOVBE[bit 22]
        if ((ecx1 & (1 << 23)) != 0) f |= HostFeature.Popcnt;   // CPUID.01H:ECX.POPCNT[bit 23]
        if ((ebx7 & (1 << 3)) != 0) f |= HostFeature.Bmi1;      // CPUID.(EAX=07H,ECX=0):EBX.BMI1[bit 3]
        if ((ebx7 & (1 << 8)) != 0) f |= HostFeature.Bmi2;      // CPUID.(EAX=07H,ECX=0):EBX.BMI2[bit 8]
        if ((ebx7 & (1 << 19)) != 0) f |= HostFeature.Adx;      // CPUID.(EAX=07H,ECX=0):EBX.ADX[bit 19]
        if ((ecxExt & 1) != 0) f |= HostFeature.LahfSahf64;      // CPUID.80000001H:ECX.LAHF-SAHF[bit 0]
        if ((ecxExt & (1 << 5)) != 0) f |= HostFeature.Lzcnt;    // CPUID.80000001H:ECX.LZCNT[bit 5]
        return f;
    }
}

using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Vtx.Timing;

/// <summary>
/// Packs a <see cref="TimingProfile"/> into the <see cref="EngineProfile"/> the block simulation
/// reads (once per profile, cached): each form's port masks are split into its load, store-address,
/// store-data and execution µops, and the instructions whose cost the profile gives as a system cost
/// (CPUID, RDTSC, PAUSE, IN/OUT, RDMSR/WRMSR, fences...) get that cost as their latency.
/// </summary>
internal static class EngineProfileAdapter
{
    private static readonly ConditionalWeakTable<TimingProfile, EngineProfile> Cache = new();
    private static readonly Code[] AllCodes = Enum.GetValues<Code>();

    /// <summary>True when <paramref name="p"/> is costed by the block simulation (every core profile; the simple profile is costed serially, as vtx-cost-1).</summary>
    public static bool UsesEngine(TimingProfile p) => p.IssueWidth > 1 && p.CostModelName != DefaultCostModel.Instance.Name;

    /// <summary>The packed form of <paramref name="p"/>.</summary>
    public static EngineProfile For(TimingProfile p) => Cache.GetValue(p, Build);

    private static EngineProfile Build(TimingProfile p)
    {
        ushort branch = 0, alu = 0;
        int ports = 0;
        foreach (PortInfo pi in p.Ports)
        {
            ports = Math.Max(ports, pi.Index + 1);
            // The taken-branch port is the primary branch unit: the highest-numbered branch port (p6 on Haswell/Skylake).
            if ((pi.Capabilities & PortCapability.Branch) != 0) branch = (ushort)(1 << pi.Index);
            if ((pi.Capabilities & PortCapability.IntAlu) != 0) alu |= (ushort)(1 << pi.Index);
        }
        var e = new EngineProfile(p.Name, AllCodes.Length)
        {
            IssueWidth = p.IssueWidth,
            RetireWidth = p.RetireWidth,
            RobSize = p.ReorderBufferSize,
            Ports = Math.Clamp(ports, 1, EngineProfile.MaxPorts),
            LoadPorts = p.LoadPorts,
            StoreAddressPorts = p.StoreAddressPorts,
            StoreDataPorts = p.StoreDataPorts,
            TakenBranchPorts = branch != 0 ? branch : p.BranchPorts,
            AluPorts = alu != 0 ? alu : (ushort)1,
            LoadLatencySimple = p.L1LoadLatency,
            LoadLatency = p.L1LoadLatencyComplexAddress,
            StoreForwardLatency = p.StoreForwardLatency,
            LcpPenalty = p.LcpStallCycles,
            RepIterationCycles = Math.Max(1, (int)Math.Ceiling(p.RepString(RepStringKind.Movs).SlowCyclesPerIteration)),
        };
        e.SetDivideSteps(p.DivideSteps);
        var b = new EngineProfileBuilder(e);
        Span<ushort> compute = stackalloc ushort[64];
        foreach (Code code in AllCodes)
        {
            if (code == Code.INVALID) continue;
            for (int m = 0; m < 2; m++)
            {
                InstructionTiming t = p.Get(code, m == 1);
                int loads = t.LoadUops, sta = t.StoreAddressUops, std = t.StoreDataUops, n = 0;
                foreach (ushort mask in t.UopPorts)
                {
                    // The memory µops are the ones whose ports are all load / store ports; the rest execute.
                    if (loads > 0 && (mask & ~(p.LoadPorts | p.StoreAddressPorts)) == 0 && (mask & p.LoadPorts) != 0) { loads--; continue; }
                    if (sta > 0 && (mask & ~p.StoreAddressPorts) == 0) { sta--; continue; }
                    if (std > 0 && (mask & ~p.StoreDataPorts) == 0) { std--; continue; }
                    if (n < compute.Length) compute[n++] = mask;
                }
                UopFlags f = UopFlags.None;
                if (t.Has(TimingFlags.ZeroIdiom)) f |= UopFlags.ZeroIdiom;
                if (t.Has(TimingFlags.MoveEliminated) && p.MoveEliminationEnabled) f |= UopFlags.MoveEliminated;
                if (t.Has(TimingFlags.MacroFusibleFirst) && p.MacroFusionsPerCycle > 0)
                {
                    f |= UopFlags.MacroFusibleFirst;
                    if ((t.FusesWith & JccFusionKinds.Other) == 0) f |= UopFlags.FuseArith;
                    if ((t.FusesWith & JccFusionKinds.Carry) == 0) f |= UopFlags.FuseIncDec;
                }
                if (t.Has(TimingFlags.LengthChangingPrefixSensitive)) f |= UopFlags.Lcp;
                if (t.Has(TimingFlags.Microcoded)) f |= UopFlags.Microcoded;
                if (t.Has(TimingFlags.Serializing)) f |= UopFlags.Serializing;
                if (t.Has(TimingFlags.Estimated)) f |= UopFlags.Estimated;
                int latency = t.Latency;
                // VMLAUNCH/VMRESUME/VMCALL: the transition they cause is charged as the profile's VM-entry/exit
                // cost (after it, in the other context's time); the instruction itself is a plain µop here.
                if (code.Mnemonic() is Mnemonic.Vmlaunch or Mnemonic.Vmresume or Mnemonic.Vmcall or Mnemonic.Vmfunc) latency = 1;
                // DIV/IDIV: the block uses the fastest step; the dividend's size adds the rest at execution.
                if (code.Mnemonic() is Mnemonic.Div or Mnemonic.Idiv && t.Has(TimingFlags.DataDependent))
                {
                    int size = code.ToString().Contains("64", StringComparison.Ordinal) ? 8 : code.ToString().Contains("32", StringComparison.Ordinal) ? 4
                        : code.ToString().Contains("16", StringComparison.Ordinal) ? 2 : 1;
                    int fastest = e.DivideBase(size, code.Mnemonic() == Mnemonic.Idiv);
                    if (fastest > 0) latency = fastest;
                }
                int system = SystemCycles(p, code);
                if (system > 0) { latency = system; f |= UopFlags.Serializing; }
                b.Set(code, m == 1, Math.Max(1, t.FusedUops), latency, compute[..n],
                    loads: t.LoadUops, stores: Math.Min(t.StoreAddressUops, t.StoreDataUops) > 0 ? 1 : Math.Max(t.StoreAddressUops, t.StoreDataUops),
                    flags: f, busy: t.NonPipelinedCycles);
            }
        }
        return b.Build();
    }

    /// <summary>The system cost the profile gives an instruction (0 when it has none): these instructions wait for older ones and cost that long.</summary>
    private static int SystemCycles(TimingProfile p, Code code) => code.Mnemonic() switch
    {
        Mnemonic.Cpuid => p.System(SystemCost.CpuidBasic),
        Mnemonic.Rdtsc => p.System(SystemCost.Rdtsc),
        Mnemonic.Rdtscp => p.System(SystemCost.Rdtscp),
        Mnemonic.Pause => p.System(SystemCost.Pause),
        Mnemonic.In or Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd => p.System(SystemCost.IoPortRead),
        Mnemonic.Out or Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd => p.System(SystemCost.IoPortWrite),
        Mnemonic.Rdmsr => p.System(SystemCost.Rdmsr),
        Mnemonic.Wrmsr => p.System(SystemCost.Wrmsr),
        Mnemonic.Lfence => p.System(SystemCost.Lfence),
        Mnemonic.Mfence => p.System(SystemCost.Mfence),
        Mnemonic.Iret or Mnemonic.Iretd or Mnemonic.Iretq => p.System(SystemCost.InterruptReturn),
        Mnemonic.Syscall or Mnemonic.Sysenter => p.System(SystemCost.SystemCall),
        Mnemonic.Sysret or Mnemonic.Sysexit => p.System(SystemCost.SystemReturn),
        Mnemonic.Invlpg => p.System(SystemCost.Invlpg),
        Mnemonic.Vmread or Mnemonic.Vmwrite => p.System(SystemCost.VmcsAccess),
        Mnemonic.Xsave or Mnemonic.Xsave64 or Mnemonic.Xrstor or Mnemonic.Xrstor64 or Mnemonic.Xsaveopt or Mnemonic.Xsaveopt64
            or Mnemonic.Xsavec or Mnemonic.Xsavec64 or Mnemonic.Fxsave or Mnemonic.Fxsave64 or Mnemonic.Fxrstor or Mnemonic.Fxrstor64
            => p.System(SystemCost.XsaveRestore),
        _ => 0,
    };
}

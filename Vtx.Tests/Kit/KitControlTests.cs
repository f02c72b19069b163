using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Kit;
using Vtx.Kit.Generators;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Kit;

/// <summary>
/// The kit's VMCS control templates (<see cref="VmxControlSet.Adjust"/>, <see cref="VmxTestBed.SetControls"/>) and
/// the control-set generator (<see cref="VmxGen.Controls"/>) against the capability MSRs as software reads them:
/// RDMSR executed by the emulated processor, IA32_VMX_BASIC[55] choosing the TRUE MSRs, IA32_VMX_PROCBASED_CTLS2
/// only when "activate secondary controls" may be 1 (SDM Vol. 3C, A.1-A.5). The rule is the SDM's: a control
/// value is allowed when every allowed-0 bit (MSR bits 31:0) is 1 and no bit outside allowed-1 (63:32) is.
/// </summary>
public class KitControlTests
{
    /// <summary>Capability sets to test: the default, one without TRUE MSRs, one without NMI exiting and secondary controls.</summary>
    public static readonly VmxCapabilities[] Variants =
    [
        VmxCapabilities.Default,
        new VmxCapabilities { TrueControls = false },
        new VmxCapabilities
        {
            PinBased = new(PinBasedControls.Default1, VmxCapabilities.Default.PinBased.Allowed1 & ~(PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis)),
            PrimaryProcessorBased = new(VmxCapabilities.Default.PrimaryProcessorBased.Allowed0,
                VmxCapabilities.Default.PrimaryProcessorBased.Allowed1 & ~(PrimaryProcessorBasedControls.ActivateSecondaryControls | PrimaryProcessorBasedControls.NmiWindowExiting)),
            SecondaryProcessorBased = new(0, 0), VmFunctions = 0, EptVpidCapabilities = 0,
        },
    ];

    private static readonly Dictionary<VmxCapabilities, (uint A0, uint A1)[]> s_read = new();

    /// <summary>The allowed-0/allowed-1 halves of the five control MSRs, read with RDMSR by code on a machine with <paramref name="caps"/>.</summary>
    internal static (uint A0, uint A1)[] ReadByRdmsr(VmxCapabilities caps)
    {
        lock (s_read)
            if (s_read.TryGetValue(caps, out var known)) return known;
        var lab = new VmxLab(new Machine(new MachineOptions { MemoryMiB = 2, CpuModel = new CpuModel { Vmx = caps } }));
        const ulong Out = VmxLab.HvData + 0x200;
        // RDMSR on the emulated processor, one MSR per run (a missing MSR would #GP into the lab's fault stubs).
        ulong Rdmsr(uint index)
        {
            var a = new Iced.Intel.Assembler(64);
            a.mov(ecx, index);
            a.rdmsr();
            a.mov(__dword_ptr[Out], eax);
            a.mov(__dword_ptr[Out + 4], edx);
            a.hlt();
            lab.M.WriteMemory(VmxLab.HvCode, VmxLab.Assemble(a, VmxLab.HvCode, out _));
            lab.Cpu.Rip = VmxLab.HvCode;
            lab.Cpu.Resume();
            Assert.Equal(StopReason.Halted, lab.M.Run(RunLimits.Instructions(10)).Reason);
            return lab.R64(Out);
        }
        // IA32_VMX_BASIC[55] says whether the TRUE MSRs exist (and are the ones VM entry checks; SDM A.1, A.2).
        bool useTrue = (Rdmsr(VmxMsr.Basic) >> 55 & 1) != 0;
        (uint, uint) Half(uint plain, uint trueMsr) { ulong v = Rdmsr(useTrue ? trueMsr : plain); return ((uint)v, (uint)(v >> 32)); }
        var pin = Half(VmxMsr.PinBasedCtls, VmxMsr.TruePinBasedCtls);
        var proc = Half(VmxMsr.ProcBasedCtls, VmxMsr.TrueProcBasedCtls);
        var exit = Half(VmxMsr.ExitCtls, VmxMsr.TrueExitCtls);
        var entry = Half(VmxMsr.EntryCtls, VmxMsr.TrueEntryCtls);
        // PROCBASED_CTLS2 exists only if "activate secondary controls" may be 1 (SDM A.3.3).
        (uint, uint) proc2 = (proc.Item2 & PrimaryProcessorBasedControls.ActivateSecondaryControls) != 0
            ? ((uint)Rdmsr(VmxMsr.ProcBasedCtls2), (uint)(Rdmsr(VmxMsr.ProcBasedCtls2) >> 32)) : (0, 0);
        (uint, uint)[] result = [pin, proc, proc2, exit, entry]; // VmxControlSet.Kinds order
        lock (s_read) s_read[caps] = result;
        return result;
    }

    private static readonly Gen<(int Caps, uint[] Requested)> Requests =
        from c in Gen.Choose(0, Variants.Length - 1)
        from masked in Gen.Elements(true, true, false)
        from raw in Gen.ArrayOf(VmxGen.UInt32, 5)
        from keep in Gen.ArrayOf(VmxGen.UInt32, 5)
        select (c, masked ? raw.Select((r, k) => r & keep[k] & ReadByRdmsr(Variants[c])[k].A1).ToArray() : raw.Select((r, k) => r & keep[k]).ToArray());

    [Property(MaxTest = 300)]
    public Property AdjustIsTheAllowedSettingsRuleOrNamesTheMissingControl() => Prop.ForAll(Arb.From(Requests), t =>
    {
        var caps = Variants[t.Caps];
        var msr = ReadByRdmsr(caps);
        var req = t.Requested.ToArray();
        if (req[2] != 0) req[1] |= PrimaryProcessorBasedControls.ActivateSecondaryControls; // secondary controls need "activate secondary controls"
        var requested = new VmxControlSet(t.Requested[0], t.Requested[1], t.Requested[2], t.Requested[3], t.Requested[4]);
        // The first field (in VMCS order) with a requested bit the MSR does not allow, and its lowest such bit.
        int bad = Enumerable.Range(0, 5).FirstOrDefault(k => (req[k] & ~msr[k].A1) != 0, -1);
        if (bad >= 0)
        {
            var e = Assert.Throws<VmxControlUnsupportedException>(() => requested.Adjust(caps));
            Assert.Equal(VmxControlSet.Kinds[bad], e.Kind);
            Assert.Equal(System.Numerics.BitOperations.TrailingZeroCount(req[bad] & ~msr[bad].A1), e.Bit);
            Assert.Contains(e.ControlName, e.Message);
            return true;
        }
        var adjusted = requested.Adjust(caps);
        for (int k = 0; k < 5; k++)
        {
            uint expected = k == 2 && req[2] == 0 ? 0 : (req[k] | msr[k].A0) & msr[k].A1;
            Assert.Equal(expected, adjusted[VmxControlSet.Kinds[k]]);
            Assert.Equal(msr[k].A0, adjusted[VmxControlSet.Kinds[k]] & msr[k].A0);   // every must-be-1 control is 1
            Assert.Equal(0u, adjusted[VmxControlSet.Kinds[k]] & ~msr[k].A1);          // nothing the CPU cannot do
            Assert.Equal(req[k], adjusted[VmxControlSet.Kinds[k]] & req[k]);          // nothing requested was dropped
        }
        return true;
    });

    [Property(MaxTest = 300)]
    public Property GeneratedControlSetsRespectTheMsrs() => Prop.ForAll(Arb.From(
        from c in Gen.Choose(0, Variants.Length - 1) from s in VmxGen.Controls(Variants[c]) select (c, s)), t =>
    {
        var msr = ReadByRdmsr(Variants[t.c]);
        for (int k = 0; k < 5; k++)
        {
            uint v = t.s[VmxControlSet.Kinds[k]];
            Assert.True((v & msr[k].A0) == msr[k].A0 && (v & ~msr[k].A1) == 0, $"{VmxControlSet.Kinds[k]} 0x{v:X8} vs MSR {msr[k].A1:X8}_{msr[k].A0:X8}");
        }
    });

    [Fact]
    public void GeneratedControlValuesCoverEveryOptionalBitBothWaysAndTheExtremes()
    {
        foreach (var caps in Variants)
        {
            var msr = ReadByRdmsr(caps);
            var sample = VmxGen.Controls(caps).Sample(600);
            for (int k = 0; k < 5; k++)
            {
                var values = sample.Select(s => s[VmxControlSet.Kinds[k]]).ToArray();
                uint optional = msr[k].A1 & ~msr[k].A0;
                Assert.Equal(optional, values.Aggregate(0u, (x, v) => x | v) & optional);          // each optional bit seen set
                Assert.Equal(0u, values.Aggregate(optional, (x, v) => x & v) & optional & (optional == 0 ? 0 : ~0u)); // ... and clear
                Assert.Contains(msr[k].A0, values);                                                // the minimum
                Assert.Contains(msr[k].A1, values);                                                // the maximum
            }
        }
    }

    [Fact]
    public void TheTestBedWritesAdjustedControlsAndRefusesOnesTheCpuLacks()
    {
        var caps = Variants[2];
        var bed = new VmxTestBed(new CpuModel { Vmx = caps });
        var msr = ReadByRdmsr(caps);
        bed.SetControls(VmxControlSet.LongModeGuest with { PinBased = PinBasedControls.ExternalInterruptExiting });
        Assert.Equal((PinBasedControls.ExternalInterruptExiting | msr[0].A0) & msr[0].A1, (uint)bed.Read(VmcsField.PinBasedVmExecControls));
        var e = Assert.Throws<VmxControlUnsupportedException>(() => bed.SetControls(VmxControlSet.LongModeGuest with { PinBased = PinBasedControls.NmiExiting }));
        Assert.Equal((VmxControlKind.PinBased, 3, "NmiExiting"), (e.Kind, e.Bit, e.ControlName));
        Assert.Contains("0x48D", e.Message);                                         // IA32_VMX_TRUE_PINBASED_CTLS (BASIC[55] = 1), the MSR that lacks it
        e = Assert.Throws<VmxControlUnsupportedException>(() => bed.SetControls(VmxControlSet.LongModeGuest with { SecondaryProcessorBased = SecondaryProcessorBasedControls.EnableEpt }));
        Assert.Equal((VmxControlKind.PrimaryProcessorBased, 31, "ActivateSecondaryControls"), (e.Kind, e.Bit, e.ControlName));
        Assert.Equal("bit 18", VmxControlSet.ControlName(VmxControlKind.PrimaryProcessorBased, 18)); // an unnamed (reserved) bit
    }
}

using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// FsCheck property of VMCS shadowing (SDM Vol. 3C, 24.6.15, 24.10, 25.1.3, 30.3 VMREAD/VMWRITE): one
/// VMREAD or VMWRITE in VMX non-root operation, with generated encodings (architectural fields, any
/// 15-bit value, full-range 64-bit values), random VMREAD/VMWRITE bitmaps with the deciding bit chosen,
/// shadowing on or off and the link pointer valid or FFFF..FF, against a model written here: whether it
/// exits (reason 23/25), fails (VMfailInvalid, VMfailValid 12 or 13 recorded in the current VMCS) or
/// succeeds, and which value lands where (the register/memory operand, or the one shadow-VMCS field).
/// </summary>
public class ShadowVmcsProperties
{
    private const ulong Sentinel = 0x5A5A_5A5A_5A5A_5A5A, MemOperand = 0x7_3000;

    public sealed record ShadowCase(bool Write, bool Memory, ulong Encoding, bool BitmapBit, bool Shadowing, bool Link, ulong Value, int Seed)
    {
        public override string ToString() =>
            $"{(Write ? "VMWRITE" : "VMREAD")} {(Memory ? "mem" : "reg")} enc 0x{Encoding:X}, bitmap bit {(BitmapBit ? 1 : 0)}, shadowing {Shadowing}, link {(Link ? "shadow" : "FFFF")}, value 0x{Value:X}, seed {Seed}";
    }

    private static readonly ulong[] ArchitecturalEncodings =
        VmcsField.AllFields.SelectMany(f => f.Width == VmcsFieldWidth.Bits64 ? new ulong[] { f.Encoding, f.Encoding | 1 } : [f.Encoding]).ToArray();

    private static readonly Gen<ulong> AnyULong = VmxConformance.AnyULong;

    private static readonly Gen<ulong> Encodings = Gen.Frequency(
        (5, Gen.Elements(ArchitecturalEncodings)),
        (2, Gen.Choose(0, 0x7FFF).Select(x => (ulong)x)),
        (1, AnyULong),
        (1, from e in Gen.Elements(ArchitecturalEncodings) from b in Gen.Choose(15, 63) select e | 1UL << b));

    private static readonly Gen<ShadowCase> Cases =
        from write in Gen.Elements(false, true)
        from memory in Gen.Elements(false, true)
        from enc in Encodings
        from bit in Gen.Elements(false, true)
        from shadowing in Gen.Frequency((6, Gen.Constant(true)), (1, Gen.Constant(false)))
        from link in Gen.Frequency((6, Gen.Constant(true)), (1, Gen.Constant(false)))
        from value in Gen.OneOf(AnyULong, Gen.Elements(0UL, ulong.MaxValue, 0xFFFF_FFFFUL, 0x8000_0000_0000_0000UL))
        from seed in Gen.Choose(0, int.MaxValue)
        select new ShadowCase(write, memory, enc, bit, shadowing, shadowing && link, value, seed);

    private enum Outcome { Exit, FailInvalid, FailValid12, FailValid13, Success }

    /// <summary>The model: SDM 25.1.3 (the exit conditions), then 30.3's checks in order.</summary>
    private static Outcome Expected(ShadowCase c, VmxCapabilities caps)
    {
        if (!c.Shadowing || c.Encoding > 0x7FFF || c.BitmapBit) return Outcome.Exit;
        if (!c.Link) return Outcome.FailInvalid;
        uint e = (uint)c.Encoding;
        bool high = (e & 1) != 0, width64 = ((e >> 13) & 3) == 1;
        bool wellFormed = (e & 0x1000) == 0 && (!high || width64);
        var full = new VmcsField(e & ~1u);
        bool exists = wellFormed && VmcsField.AllFields.Contains(full) && caps.Supports(full);
        if (!exists) return Outcome.FailValid12;
        bool exitInformation = ((e >> 10) & 3) == 1;
        if (c.Write && exitInformation && !caps.VmwriteToExitInformation) return Outcome.FailValid13;
        return Outcome.Success;
    }

    private static ulong WidthMask(uint e) => ((e >> 13) & 3) switch { 0 => 0xFFFF, 2 => 0xFFFF_FFFF, _ => ulong.MaxValue };

    [Property(MaxTest = 120)]
    public Property ShadowedVmreadAndVmwriteFollowTheBitmapsAndTheLinkPointer() => Prop.ForAll(Cases.ToArbitrary(), c =>
    {
        var model = c.Seed % 5 == 0 ? new CpuModel { Vmx = new VmxCapabilities { VmwriteToExitInformation = false } } : null;
        var r = new ShadowRig(model, c.Shadowing, c.Link);
        var caps = r.G.Caps;
        var rng = new Random(c.Seed);
        // Random bitmaps, then the bit that decides (SDM 24.6.15: bit n of the 4-KiB bitmap, n = encoding[14:0]).
        var noise = new byte[4096];
        rng.NextBytes(noise);
        r.G.S.M.WriteMemory(ShadowRig.ReadBitmap, noise);
        rng.NextBytes(noise);
        r.G.S.M.WriteMemory(ShadowRig.WriteBitmap, noise);
        if (c.Encoding <= 0x7FFF) r.SetBit(c.Write ? ShadowRig.WriteBitmap : ShadowRig.ReadBitmap, (uint)c.Encoding, c.BitmapBit);
        // Shadow contents: every field a random value (the host writes them through the API).
        var shadow = r.ShadowVmcs;
        foreach (var f in VmcsField.AllFields) shadow.Write(f, (ulong)rng.NextInt64() ^ (ulong)rng.NextInt64() << 1);
        var before = VmcsField.AllFields.ToDictionary(f => f, shadow.Read);
        ulong errorBefore = r.G.R(VmcsField.VmInstructionError);
        r.G.S.W64(MemOperand, c.Write ? c.Value : Sentinel);

        r.G.Guest(a =>
        {
            a.mov(rbx, c.Encoding);
            a.mov(rax, c.Value);
            a.mov(rcx, Sentinel);
            a.mov(rsi, MemOperand);
            if (c.Write) { if (c.Memory) a.vmwrite(rbx, __qword_ptr[rsi]); else a.vmwrite(rbx, rax); }
            else { if (c.Memory) a.vmread(__qword_ptr[rsi], rbx); else a.vmread(rcx, rbx); }
            a.pushfq();
            a.pop(rdx);
            a.hlt();
        });
        r.G.Launch();
        var outcome = Expected(c, caps);
        var errors = new List<string>();
        void Check(bool ok, string what) { if (!ok) errors.Add(what); }

        uint e = (uint)c.Encoding;
        bool high = (e & 1) != 0;
        var expectedShadow = new Dictionary<VmcsField, ulong>(before);
        if (outcome == Outcome.Success && c.Write)
        {
            var full = new VmcsField(e & ~1u);
            ulong old = before[full];
            expectedShadow[full] = high ? (old & 0xFFFF_FFFF) | (c.Value & 0xFFFF_FFFF) << 32 : c.Value & WidthMask(e);
        }
        if (outcome == Outcome.Exit)
        {
            Check(!r.Cpu.InVmxNonRoot && r.G.Transitions.Last().Kind == VmxTransitionKind.Exit, $"expected an exit, got {r.G.Transitions.LastOrDefault()}");
            Check(r.G.R(VmcsField.ExitReason) == (c.Write ? 25UL : 23UL), $"exit reason {r.G.R(VmcsField.ExitReason)}");
        }
        else
        {
            Check(r.Cpu.InVmxNonRoot && r.G.LastGuestVector == 0xFFFF_FFFF, $"expected no exit and no fault, got {r.G.Transitions.LastOrDefault()}, vector {r.G.LastGuestVector}");
            ulong status = r.Cpu[Gpr.Rdx] & (ulong)RFlags.Status;
            ulong expectedStatus = outcome switch
            {
                Outcome.FailInvalid => (ulong)RFlags.CF,
                Outcome.FailValid12 or Outcome.FailValid13 => (ulong)RFlags.ZF,
                _ => 0,
            };
            Check(status == expectedStatus, $"RFLAGS status 0x{status:X}, expected 0x{expectedStatus:X}");
            ulong expectedError = outcome switch { Outcome.FailValid12 => 12, Outcome.FailValid13 => 13, _ => errorBefore };
            Check(r.G.R(VmcsField.VmInstructionError) == expectedError, $"VM-instruction error {r.G.R(VmcsField.VmInstructionError)}, expected {expectedError}");
            if (!c.Write)
            {
                ulong expectedDest = Sentinel;
                if (outcome == Outcome.Success)
                {
                    ulong v = before[new VmcsField(e & ~1u)];
                    expectedDest = high ? v >> 32 : v & WidthMask(e);
                }
                ulong got = c.Memory ? r.G.S.R64(MemOperand) : r.Cpu[Gpr.Rcx];
                Check(got == expectedDest, $"destination 0x{got:X}, expected 0x{expectedDest:X}");
            }
        }
        foreach (var f in VmcsField.AllFields)
            if (shadow.Read(f) != expectedShadow[f]) errors.Add($"shadow {f} = 0x{shadow.Read(f):X}, expected 0x{expectedShadow[f]:X}");
        return (errors.Count == 0).Label($"{c} ({outcome}): {string.Join("; ", errors)}");
    });
}

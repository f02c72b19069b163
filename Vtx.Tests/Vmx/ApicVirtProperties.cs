using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Vmx.ApicVirtGuest;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Virtual-interrupt delivery and posted-interrupt processing against a model written here from the
/// SDM's pseudocode (Vol. 3C, 29.1.2-29.1.5, 29.2.1-29.2.2, 29.6): generated VIRR/VISR/RVI/SVI/VTPR
/// states and guest operation sequences (virtualized self IPIs, EOIs, TPR writes by WRMSR 808h and
/// MOV to CR8), with the delivered vectors, RVI, SVI, VPPR, VIRR and VISR compared at the end.
/// </summary>
public class ApicVirtProperties
{
    private const ulong Log = 0x7_4000, LogPtr = 0x7_3FF8, Common = 0x4_F000;

    /// <summary>One guest operation: 0 = self IPI (vector), 1 = EOI, 2 = WRMSR 808h (byte), 3 = MOV to CR8 (nibble), 4 = NOP.</summary>
    public readonly record struct Op(int Kind, byte Value);

    // 64-bit words of the 256-bit registers: mostly sparse (single bits, zero), sometimes full-range.
    private static readonly Gen<ulong> Word = Gen.Frequency(
        (3, Gen.Constant(0UL)),
        (4, Gen.Choose(0, 63).Select(b => 1UL << b)),
        (2, from a in Gen.Choose(0, 63) from b in Gen.Choose(0, 63) select (1UL << a) | (1UL << b)),
        (2, from hi in VmcsFieldTests.AnyUInt from lo in VmcsFieldTests.AnyUInt select (ulong)hi << 32 | lo),
        (1, Gen.Constant(ulong.MaxValue)));

    private static readonly Gen<ulong[]> Bits256 = from a in Word from b in Word from c in Word from d in Word select new[] { a, b, c, d };

    private static readonly Gen<byte> AnyByte = Gen.Choose(0, 255).Select(x => (byte)x);

    private static readonly Gen<Op> Ops = Gen.Frequency(
        (4, Gen.Choose(16, 255).Select(v => new Op(0, (byte)v))),
        (3, Gen.Constant(new Op(1, 0))),
        (2, AnyByte.Select(v => new Op(2, v))),
        (2, Gen.Choose(0, 15).Select(v => new Op(3, (byte)v))),
        (1, Gen.Constant(new Op(4, 0))));

    public sealed record VidCase(ulong[] Virr, ulong[] Visr, byte Rvi, byte Svi, byte Vtpr, Op[] Ops)
    {
        public override string ToString() =>
            $"VIRR {string.Join(",", Virr.Select(w => w.ToString("X")))} VISR {string.Join(",", Visr.Select(w => w.ToString("X")))} RVI {Rvi:X2} SVI {Svi:X2} VTPR {Vtpr:X2} ops [{string.Join(" ", Ops.Select(o => $"{o.Kind}:{o.Value:X2}"))}]";
    }

    private static readonly Gen<VidCase> VidCases =
        from virr in Bits256
        from visr in Bits256
        from rvi in AnyByte
        from svi in AnyByte
        from vtpr in AnyByte
        from n in Gen.Choose(0, 8)
        from ops in Gen.ArrayOf(Ops, n)
        select new VidCase(virr, visr, rvi, svi, vtpr, ops);

    /// <summary>The SDM's virtual-APIC state machine, independent of Vtx's code.</summary>
    private sealed class Model
    {
        public readonly bool[] Virr = new bool[256], Visr = new bool[256];
        public int Rvi, Svi, Vtpr, Vppr;
        public bool Recognized;
        public readonly List<int> Delivered = new();

        private static int Highest(bool[] s) { for (int i = 255; i >= 0; i--) if (s[i]) return i; return -1; }
        public void Ppr() => Vppr = (Vtpr >> 4) >= (Svi >> 4) ? Vtpr : Svi & 0xF0;
        public void Evaluate() => Recognized = (Rvi >> 4) > (Vppr >> 4);

        /// <summary>An instruction boundary with RFLAGS.IF = 1 and no blocking.</summary>
        public void Boundary()
        {
            if (!Recognized) return;
            int v = Rvi;
            Visr[v] = true;
            Svi = v;
            Vppr = v & 0xF0;
            Virr[v] = false;
            Rvi = Math.Max(Highest(Virr), 0);
            Recognized = false;
            Delivered.Add(v);
        }

        public void Apply(Op op)
        {
            switch (op.Kind)
            {
                case 0: Virr[op.Value] = true; Rvi = Math.Max(Rvi, op.Value); Evaluate(); break;
                case 1:
                {
                    int v = Svi;
                    Visr[v] = false;
                    Svi = Math.Max(Highest(Visr), 0);
                    Ppr();
                    Evaluate(); // EOI-exit bitmap all 0
                    break;
                }
                case 2: Vtpr = op.Value; Ppr(); Evaluate(); break;
                case 3: Vtpr = op.Value << 4; Ppr(); Evaluate(); break;
            }
        }
    }

    private static bool[] ToSet(ulong[] words)
    {
        var s = new bool[256];
        for (int i = 0; i < 256; i++) s[i] = ((words[i >> 6] >> (i & 63)) & 1) != 0;
        return s;
    }

    private static void WriteSet(VmxGuest g, ulong baseOffset, ulong[] words)
    {
        for (int i = 0; i < 8; i++) g.S.W32(VApic + baseOffset + (ulong)i * 16, (uint)(words[i >> 1] >> (32 * (i & 1))));
    }

    /// <summary>
    /// A guest for the properties: like <see cref="ApicVirtGuest"/>, but every vector's gate points to
    /// a 12-byte stub (PUSH RAX; MOV EAX, vector; JMP common) written as bytes, and the common handler
    /// appends the vector to a log and returns with IRETQ.
    /// </summary>
    private static VmxGuest LightGuest(uint pin, uint proc2)
    {
        var g = new VmxGuest();
        g.Controls(pin: pin, proc: PrimaryProcessorBasedControls.UseTprShadow | PrimaryProcessorBasedControls.UseMsrBitmaps, proc2: proc2,
                   exit: ExitControls.HostAddressSpaceSize | ExitControls.AcknowledgeInterruptOnExit);
        g.W(VmcsField.VirtualApicAddress, VApic);
        g.W(VmcsField.MsrBitmap, VmxGuest.MsrBitmap);
        g.W(VmcsField.GuestRflags, 0x202);
        g.S.Load(a =>
        {
            a.push(rbx);
            a.mov(rbx, __qword_ptr[LogPtr]);
            a.mov(__qword_ptr[rbx], rax);
            a.add(__qword_ptr[LogPtr], 8);
            a.pop(rbx);
            a.pop(rax);
            a.iretq();
        }, Common);
        for (int v = 16; v < 256; v++)
        {
            ulong stub = VmxGuest.Handlers + (ulong)v * 0x80;
            var bytes = new List<byte> { 0x50, 0xB8, (byte)v, 0, 0, 0, 0xE9 };
            bytes.AddRange(BitConverter.GetBytes((int)((long)Common - (long)(stub + 11))));
            g.S.M.WriteMemory(stub, bytes.ToArray());
            var (lo, hi) = Desc.Gate64(Sys.KCode64, stub, 0);
            g.S.W64(VmxGuest.GuestIdt + (ulong)v * 16, lo);
            g.S.W64(VmxGuest.GuestIdt + (ulong)v * 16 + 8, hi);
        }
        g.S.W64(LogPtr, Log);
        return g;
    }

    [Property(MaxTest = 60)]
    public Property VirtualInterruptDeliveryFollowsTheSdmModel() => Prop.ForAll(Arb.From(VidCases), c =>
    {
        var g = LightGuest(PinBasedControls.ExternalInterruptExiting, Vid | X2);
        WriteSet(g, 0x200, c.Virr);
        WriteSet(g, 0x100, c.Visr);
        g.S.W32(VApic + 0x80, c.Vtpr);
        g.W(VmcsField.GuestInterruptStatus, (ulong)c.Rvi | (ulong)c.Svi << 8);
        g.Guest(a =>
        {
            foreach (var op in c.Ops)
            {
                switch (op.Kind)
                {
                    case 0: a.mov(ecx, 0x83F); a.mov(eax, (int)op.Value); a.xor(edx, edx); a.wrmsr(); break;
                    case 1: a.mov(ecx, 0x80B); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr(); break;
                    case 2: a.mov(ecx, 0x808); a.mov(eax, (int)op.Value); a.xor(edx, edx); a.wrmsr(); break;
                    case 3: a.mov(eax, (int)op.Value); a.mov(cr8, rax); break;
                    default: a.nop(); break;
                }
            }
            a.cpuid();
        });

        var m = new Model { Rvi = c.Rvi, Svi = c.Svi, Vtpr = c.Vtpr };
        Array.Copy(ToSet(c.Virr), m.Virr, 256);
        Array.Copy(ToSet(c.Visr), m.Visr, 256);
        m.Ppr();
        m.Evaluate();
        m.Boundary();
        foreach (var op in c.Ops) { m.Apply(op); m.Boundary(); }

        g.Launch(5_000);
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
        int count = (int)((g.S.R64(LogPtr) - Log) / 8);
        var delivered = Enumerable.Range(0, count).Select(i => (int)g.S.R64(Log + (ulong)i * 8)).ToList();
        Assert.Equal(m.Delivered, delivered);
        Assert.Equal((ulong)(uint)m.Rvi | (ulong)(uint)m.Svi << 8, g.R(VmcsField.GuestInterruptStatus));
        Assert.Equal((uint)m.Vppr, g.S.R32(VApic + 0xA0));
        for (int v = 0; v < 256; v++)
        {
            Assert.Equal(m.Virr[v], Bit(g, 0x200, v));
            Assert.Equal(m.Visr[v], Bit(g, 0x100, v));
        }
    });

    public sealed record PostCase(ulong[] Pir, ulong[] Virr, byte Rvi, byte Svi, bool On, byte Notify, byte Raised)
    {
        public override string ToString() =>
            $"PIR {string.Join(",", Pir.Select(w => w.ToString("X")))} VIRR {string.Join(",", Virr.Select(w => w.ToString("X")))} RVI {Rvi:X2} SVI {Svi:X2} ON {On} notify {Notify:X2} raised {Raised:X2}";
    }

    private static readonly Gen<PostCase> PostCases =
        from pir in Bits256
        from virr in Bits256
        from rvi in AnyByte
        from svi in AnyByte
        from onBit in Gen.Elements(false, true)
        from notify in Gen.Choose(16, 255)
        from other in Gen.Choose(16, 255)
        from same in Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)))
        select new PostCase(pir, virr, rvi, svi, onBit, (byte)notify, (byte)(same ? notify : other));

    [Property(MaxTest = 60)]
    public Property PostedInterruptProcessingFollowsTheSdm() => Prop.ForAll(Arb.From(PostCases), c =>
    {
        var g = LightGuest(PinBasedControls.ExternalInterruptExiting | PinBasedControls.ProcessPostedInterrupts, Vid | X2);
        g.W(VmcsField.GuestRflags, 2); // IF = 0: nothing is delivered, the state is observed at the CPUID exit
        g.W(VmcsField.PostedInterruptNotificationVector, c.Notify);
        g.W(VmcsField.PostedInterruptDescriptorAddress, Pid);
        for (int i = 0; i < 4; i++) g.S.W64(Pid + (ulong)i * 8, c.Pir[i]);
        g.S.W64(Pid + 32, c.On ? 0xABCD_0001UL : 0xABCD_0000UL); // bits above ON must survive
        WriteSet(g, 0x200, c.Virr);
        g.W(VmcsField.GuestInterruptStatus, (ulong)c.Rvi | (ulong)c.Svi << 8);
        g.Guest(a => { a.nop(); a.cpuid(); });
        g.Cpu.RaiseInterrupt(c.Raised);
        g.Launch(100);

        bool processed = c.Raised == c.Notify;
        int highestPir = -1;
        for (int v = 255; v >= 0 && highestPir < 0; v--) if (((c.Pir[v >> 6] >> (v & 63)) & 1) != 0) highestPir = v;
        if (!processed)
        {
            Assert.Equal(VmxExitReason.ExternalInterrupt, g.ExitReason);
            Assert.Equal(0x8000_0000UL | c.Raised, g.R(VmcsField.VmExitInterruptionInformation));
            for (int i = 0; i < 4; i++) Assert.Equal(c.Pir[i], g.S.R64(Pid + (ulong)i * 8));
            Assert.Equal(c.On ? 0xABCD_0001UL : 0xABCD_0000UL, g.S.R64(Pid + 32));
            Assert.Equal((ulong)c.Rvi | (ulong)c.Svi << 8, g.R(VmcsField.GuestInterruptStatus));
            return;
        }
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
        for (int i = 0; i < 4; i++) Assert.Equal(0UL, g.S.R64(Pid + (ulong)i * 8));
        Assert.Equal(0xABCD_0000UL, g.S.R64(Pid + 32));
        int rvi = Math.Max(c.Rvi, highestPir);
        Assert.Equal((ulong)(uint)rvi | (ulong)c.Svi << 8, g.R(VmcsField.GuestInterruptStatus));
        for (int v = 0; v < 256; v++)
            Assert.Equal((((c.Virr[v >> 6] | c.Pir[v >> 6]) >> (v & 63)) & 1) != 0, Bit(g, 0x200, v));
    });
}

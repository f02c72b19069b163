using System.Buffers.Binary;
using System.Text;
using Vtx.Float;

namespace Vtx.Debugging;

/// <summary>
/// The register file the gdb stub presents, as one table: each register's name, size, gdb type and
/// group, and how it is read from and written to a <see cref="Cpu"/>. The target description XML
/// and the 'g'/'G'/'p'/'P' packets are all derived from this table, so their numbering agrees.
/// Layout: gdb's i386:x86-64 features (org.gnu.gdb.i386.core, .sse, .segments) plus Vtx's own
/// "org.vtx.x86.system" feature with CR0, CR2, CR3, CR4 and IA32_EFER.
/// </summary>
internal static class GdbRegisters
{
    /// <summary>One register: <paramref name="Bits"/> wide; <paramref name="Write"/> returns false when the value cannot be set.</summary>
    internal sealed record Reg(string Name, int Bits, string Type, string Feature, string? Group,
        Action<Cpu, Span<byte>> Read, Func<Cpu, ReadOnlySpan<byte>, bool> Write)
    {
        public int Bytes => Bits / 8;
    }

    private const string Core = "org.gnu.gdb.i386.core", Sse = "org.gnu.gdb.i386.sse",
        Segments = "org.gnu.gdb.i386.segments", System = "org.vtx.x86.system";

    /// <summary>All registers in gdb register-number order.</summary>
    internal static readonly Reg[] All = Build();

    private static Reg[] Build()
    {
        var list = new List<Reg>();
        // gdb's amd64 order for the general registers (rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8-r15).
        Gpr[] order = [Gpr.Rax, Gpr.Rbx, Gpr.Rcx, Gpr.Rdx, Gpr.Rsi, Gpr.Rdi, Gpr.Rbp, Gpr.Rsp,
            Gpr.R8, Gpr.R9, Gpr.R10, Gpr.R11, Gpr.R12, Gpr.R13, Gpr.R14, Gpr.R15];
        foreach (Gpr g in order)
        {
            string type = g == Gpr.Rbp || g == Gpr.Rsp ? "data_ptr" : "int64";
            list.Add(U64(g.ToString().ToLowerInvariant(), type, Core, c => c[g], (c, v) => { c[g] = v; return true; }));
        }
        list.Add(U64("rip", "code_ptr", Core, c => c.Rip, (c, v) => { c.Rip = v; return true; }));
        list.Add(U32("eflags", "i386_eflags", Core, null, c => (uint)c.Rflags, (c, v) => { c.Rflags = v; return true; }));
        foreach (SegmentRegister s in (SegmentRegister[])[SegmentRegister.Cs, SegmentRegister.Ss, SegmentRegister.Ds,
                     SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs])
        {
            // A selector alone cannot be loaded without its descriptor: only the value it holds is accepted.
            list.Add(U32(s.ToString().ToLowerInvariant(), "int32", Core, null, c => c.GetSelector(s), (c, v) => v == c.GetSelector(s)));
        }
        for (int i = 0; i < 8; i++)
        {
            int st = i;
            list.Add(new Reg($"st{i}", 80, "i387_ext", Core, "float",
                (c, dst) => c._fpr[(c._fpuTop + st) & 7].WriteTo(dst),
                (c, src) => { c._fpr[(c._fpuTop + st) & 7] = Float80.ReadFrom(src); return true; }));
        }
        list.Add(U32("fctrl", "int", Core, "float", c => c.FpuControlWord, (c, v) => { c.FpuControlWord = (ushort)v; return true; }));
        list.Add(U32("fstat", "int", Core, "float", c => c.FpuStatusWord, (c, v) => { c.FpuStatusWord = (ushort)v; return true; }));
        list.Add(U32("ftag", "int", Core, "float", FullTagWord, (c, v) => { c._fpuEmpty = AbridgedEmpty(v); return true; }));
        list.Add(U32("fiseg", "int", Core, "float", c => c._fpuCs, (c, v) => { c._fpuCs = (ushort)v; return true; }));
        list.Add(U32("fioff", "int", Core, "float", c => (uint)c._fpuIp, (c, v) => { c._fpuIp = v; return true; }));
        list.Add(U32("foseg", "int", Core, "float", c => c._fpuDs, (c, v) => { c._fpuDs = (ushort)v; return true; }));
        list.Add(U32("fooff", "int", Core, "float", c => (uint)c._fpuDp, (c, v) => { c._fpuDp = v; return true; }));
        list.Add(U32("fop", "int", Core, "float", c => c._fpuOpcode, (c, v) => { c._fpuOpcode = (ushort)(v & 0x7FF); return true; }));
        for (int i = 0; i < 16; i++)
        {
            int x = i;
            list.Add(new Reg($"xmm{i}", 128, "vec128", Sse, null,
                (c, dst) => BinaryPrimitives.WriteUInt128LittleEndian(dst, c.GetXmm(x)),
                (c, src) => { c.SetXmm(x, BinaryPrimitives.ReadUInt128LittleEndian(src)); return true; }));
        }
        list.Add(U32("mxcsr", "i386_mxcsr", Sse, "vector", c => c.Mxcsr, (c, v) =>
        {
            if ((v & ~Cpu.MxcsrMask) != 0) return false; // reserved bits: FXRSTOR/LDMXCSR would #GP
            c.Mxcsr = v;
            return true;
        }));
        list.Add(U64("fs_base", "int", Segments, c => c.GetSegmentBase(SegmentRegister.Fs), (c, v) => SetBase(c, SegmentRegister.Fs, v)));
        list.Add(U64("gs_base", "int", Segments, c => c.GetSegmentBase(SegmentRegister.Gs), (c, v) => SetBase(c, SegmentRegister.Gs, v)));
        list.Add(U64("cr0", "int", System, c => c.Cr0Value, (c, v) => { c.Cr0Value = v; return true; }));
        list.Add(U64("cr2", "int", System, c => c.Cr2Value, (c, v) => { c.Cr2Value = v; return true; }));
        list.Add(U64("cr3", "int", System, c => c.Cr3Value, (c, v) => { c.Cr3Value = v; return true; }));
        list.Add(U64("cr4", "int", System, c => c.Cr4Value, (c, v) => { c.Cr4Value = v; return true; }));
        list.Add(U64("efer", "int", System, c => c.EferValue, (c, v) => { c.EferValue = v; return true; }));
        return [.. list];
    }

    private static bool SetBase(Cpu c, SegmentRegister s, ulong v)
    {
        c.SetSegment(s, c.GetSegment(s) with { Base = v });
        return true;
    }

    private static Reg U64(string name, string type, string feature, Func<Cpu, ulong> get, Func<Cpu, ulong, bool> set) =>
        new(name, 64, type, feature, null,
            (c, dst) => BinaryPrimitives.WriteUInt64LittleEndian(dst, get(c)),
            (c, src) => set(c, BinaryPrimitives.ReadUInt64LittleEndian(src)));

    private static Reg U32(string name, string type, string feature, string? group, Func<Cpu, uint> get, Func<Cpu, uint, bool> set) =>
        new(name, 32, type, feature, group,
            (c, dst) => BinaryPrimitives.WriteUInt32LittleEndian(dst, get(c)),
            (c, src) => set(c, BinaryPrimitives.ReadUInt32LittleEndian(src)));

    /// <summary>
    /// The full x87 tag word (two bits per physical register, as FSTENV stores it: 00 valid, 01 zero,
    /// 10 special — NaN, infinity, denormal, unsupported — 11 empty; SDM Vol. 1, 8.1.7), computed from
    /// the abridged tag and the register contents, which is what gdb's "ftag" holds.
    /// </summary>
    private static uint FullTagWord(Cpu c)
    {
        uint tag = 0;
        for (int i = 0; i < 8; i++)
        {
            uint t;
            if ((c._fpuEmpty & (1 << i)) != 0) t = 3;
            else
            {
                Float80 r = c._fpr[i];
                bool integerBit = (r.Significand >> 63) != 0;
                if (r.Exponent == 0x7FFF) t = 2;
                else if (r.Exponent == 0) t = r.Significand == 0 ? 1u : 2u;
                else t = integerBit ? 0u : 2u; // an unnormal is an unsupported encoding: special
            }
            tag |= t << (i * 2);
        }
        return tag;
    }

    /// <summary>The abridged empty mask from a full tag word: a register is empty only when its tag is 11b.</summary>
    private static byte AbridgedEmpty(uint fullTag)
    {
        byte empty = 0;
        for (int i = 0; i < 8; i++)
            if (((fullTag >> (i * 2)) & 3) == 3) empty |= (byte)(1 << i);
        return empty;
    }

    /// <summary>The target description (gdb's target.xml) for <see cref="All"/>.</summary>
    internal static string TargetXml()
    {
        var sb = new StringBuilder();
        sb.Append("<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n");
        sb.Append("<architecture>i386:x86-64</architecture>\n");
        string? open = null;
        foreach (Reg r in All)
        {
            if (r.Feature != open)
            {
                if (open is not null) sb.Append("</feature>\n");
                open = r.Feature;
                sb.Append($"<feature name=\"{open}\">\n");
                sb.Append(FeatureTypes(open));
            }
            sb.Append($"  <reg name=\"{r.Name}\" bitsize=\"{r.Bits}\" type=\"{r.Type}\"");
            if (r.Group is not null) sb.Append($" group=\"{r.Group}\"");
            sb.Append("/>\n");
        }
        sb.Append("</feature>\n</target>\n");
        return sb.ToString();
    }

    private static string FeatureTypes(string feature) => feature switch
    {
        Core => Flags("i386_eflags", 4, ["CF", "", "PF", "", "AF", "", "ZF", "SF", "TF", "IF", "DF", "OF", "", "", "NT", "", "RF", "VM", "AC", "VIF", "VIP", "ID"]),
        Sse => """
                 <vector id="v4f" type="ieee_single" count="4"/>
                 <vector id="v2d" type="ieee_double" count="2"/>
                 <vector id="v16i8" type="int8" count="16"/>
                 <vector id="v8i16" type="int16" count="8"/>
                 <vector id="v4i32" type="int32" count="4"/>
                 <vector id="v2i64" type="int64" count="2"/>
                 <union id="vec128">
                   <field name="v4_float" type="v4f"/>
                   <field name="v2_double" type="v2d"/>
                   <field name="v16_int8" type="v16i8"/>
                   <field name="v8_int16" type="v8i16"/>
                   <field name="v4_int32" type="v4i32"/>
                   <field name="v2_int64" type="v2i64"/>
                   <field name="uint128" type="uint128"/>
                 </union>

               """ + Flags("i386_mxcsr", 4, ["IE", "DE", "ZE", "OE", "UE", "PE", "DAZ", "IM", "DM", "ZM", "OM", "UM", "PM", "", "", "FZ"]),
        _ => "",
    };

    private static string Flags(string id, int size, string[] bits)
    {
        var sb = new StringBuilder($"  <flags id=\"{id}\" size=\"{size}\">\n");
        for (int i = 0; i < bits.Length; i++)
            if (bits[i].Length != 0) sb.Append($"    <field name=\"{bits[i]}\" start=\"{i}\" end=\"{i}\"/>\n");
        sb.Append("  </flags>\n");
        return sb.ToString();
    }
}

using System.Buffers.Binary;
using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Float;

namespace Vtx;

// x87 control instructions (SDM Vol. 1, 8.3.11, 8.1.10; Vol. 2A pages): FNINIT, FNCLEX, FNSTSW,
// FNSTCW/FLDCW, FNSTENV/FLDENV, FNSAVE/FRSTOR with their four memory layouts (Vol. 1, Figures
// 8-9 to 8-12), FNOP, WAIT/FWAIT and the 8087/287 leftovers FENI/FDISI/FSETPM. The control
// instructions other than FNOP leave FIP/FDP/FOP unchanged (Vol. 1, 8.1.8).
public sealed unsafe partial class Cpu
{
    // Variant of the control handlers: bit 7 = the 9B-prefixed waiting form Iced decodes as one instruction.
    private const byte Waited = 0x80;

    private static void RegisterX87Control(InstructionTable t)
    {
        t.Add(Code.Fninit, &X87InitH);
        t.Add(Code.Finit, &X87InitH, Waited);
        t.Add(Code.Fnclex, &X87ClearH);
        t.Add(Code.Fclex, &X87ClearH, Waited);
        t.Add(Code.Fnstsw_AX, &X87StoreStatusH, 0);
        t.Add(Code.Fstsw_AX, &X87StoreStatusH, Waited);
        t.Add(Code.Fnstsw_m2byte, &X87StoreStatusH, 1);
        t.Add(Code.Fstsw_m2byte, &X87StoreStatusH, 1 | Waited);
        t.Add(Code.Fnstcw_m2byte, &X87StoreControlH, 0);
        t.Add(Code.Fstcw_m2byte, &X87StoreControlH, Waited);
        t.Add(Code.Fldcw_m2byte, &X87LoadControlH);
        // Environment/state: variant bit 0 = 32-bit layout, bit 1 = with registers (FSAVE/FRSTOR)
        t.Add(Code.Fnstenv_m14byte, &X87StoreEnvH, 0);
        t.Add(Code.Fstenv_m14byte, &X87StoreEnvH, Waited);
        t.Add(Code.Fnstenv_m28byte, &X87StoreEnvH, 1);
        t.Add(Code.Fstenv_m28byte, &X87StoreEnvH, 1 | Waited);
        t.Add(Code.Fnsave_m94byte, &X87StoreEnvH, 2);
        t.Add(Code.Fsave_m94byte, &X87StoreEnvH, 2 | Waited);
        t.Add(Code.Fnsave_m108byte, &X87StoreEnvH, 3);
        t.Add(Code.Fsave_m108byte, &X87StoreEnvH, 3 | Waited);
        t.Add(Code.Fldenv_m14byte, &X87LoadEnvH, 0);
        t.Add(Code.Fldenv_m28byte, &X87LoadEnvH, 1);
        t.Add(Code.Frstor_m94byte, &X87LoadEnvH, 2);
        t.Add(Code.Frstor_m108byte, &X87LoadEnvH, 3);
        t.Add(Code.Fnop, &X87NopH);
        t.Add(Code.Wait, &X87WaitH);
        // 8087 interrupt-enable control and the 287 protected-mode switch: no-ops on the 387 and later
        // (Intel parts decode DB E0/E1/E4 and do nothing); they still need the FPU (#NM).
        t.Add(Code.Fneni, &X87LegacyNopH, 0);
        t.Add(Code.Feni, &X87LegacyNopH, Waited);
        t.Add(Code.Fndisi, &X87LegacyNopH, 0);
        t.Add(Code.Fdisi, &X87LegacyNopH, Waited);
        t.Add(Code.Fnsetpm, &X87LegacyNopH, 0);
        t.Add(Code.Fsetpm, &X87LegacyNopH, Waited);
    }

    /// <summary>Entry checks of a control instruction: its 9B-prefixed form waits first.</summary>
    private bool X87EnterControl(ref DecodedInstruction d) =>
        (d.Cond & Waited) != 0 ? X87EnterWaitPrefixed(ref d) : X87Enter(ref d, false);

    /// <summary>FNINIT state (SDM Vol. 2A "FINIT/FNINIT"): FCW 037Fh, FSW 0 (TOP 0), all tags empty, FIP/FCS/FDP/FDS/FOP 0.</summary>
    private void X87Reset()
    {
        _fpuControl = 0x037F;
        _fpuStatus = 0;
        _fpuTop = 0;
        _fpuEmpty = 0xFF;
        _fpuOpcode = 0;
        _fpuIp = _fpuDp = 0;
        _fpuCs = _fpuDs = 0;
    }

    private static void X87InitH(Cpu c, ref DecodedInstruction d)
    {
        if (!c.X87EnterControl(ref d)) return;
        c.X87Reset();
    }

    /// <summary>FNCLEX: clears PE, UE, OE, ZE, DE, IE, SF, ES and B; C0-C3 are left unchanged (undefined per the SDM).</summary>
    private static void X87ClearH(Cpu c, ref DecodedInstruction d)
    {
        if (!c.X87EnterControl(ref d)) return;
        c._fpuStatus &= unchecked((ushort)~(0xFF | FswB));
    }

    /// <summary>FNSTSW AX / m16: the status word with TOP.</summary>
    private static void X87StoreStatusH(Cpu c, ref DecodedInstruction d)
    {
        if (!c.X87EnterControl(ref d)) return;
        ushort fsw = c.FpuStatusWord;
        if ((d.Cond & 1) == 0) { ref ulong rax = ref c.R(0); rax = (rax & ~0xFFFFUL) | fsw; return; }
        c.Write(c.ExtLin(ref d, 2), 2, fsw, IsStackOperand(ref d));
    }

    /// <summary>FNSTCW m16.</summary>
    private static void X87StoreControlH(Cpu c, ref DecodedInstruction d)
    {
        if (!c.X87EnterControl(ref d)) return;
        c.Write(c.ExtLin(ref d, 2), 2, c._fpuControl, IsStackOperand(ref d));
    }

    /// <summary>The FCW value a load produces: reserved bits 15:13 and 7 read 0, bit 6 reads 1 (SDM Vol. 1, Figure 8-6).</summary>
    private static ushort X87ControlImage(uint v) => (ushort)((v & ~0xE0C0u) | 0x40);

    /// <summary>ES and B = any exception flag whose mask is clear (SDM Vol. 1, 8.1.3.2; the FLDCW/FLDENV/FRSTOR pages: an exception so unmasked is raised at the next waiting instruction).</summary>
    private void X87RecomputeSummary()
    {
        if ((_fpuStatus & ~_fpuControl & 0x3F) != 0) _fpuStatus |= FswES | FswB;
        else _fpuStatus &= unchecked((ushort)~(FswES | FswB));
    }

    /// <summary>FLDCW m16 (a waiting instruction).</summary>
    private static void X87LoadControlH(Cpu c, ref DecodedInstruction d)
    {
        if (!c.X87Enter(ref d, true)) return;
        if (!c.Read(c.ExtLin(ref d, 2), 2, out ulong v, IsStackOperand(ref d))) return;
        c._fpuControl = X87ControlImage((uint)v);
        c.X87RecomputeSummary();
    }

    /// <summary>True when the environment uses the protected-mode layouts (CR0.PE = 1 and not virtual-8086 mode).</summary>
    private bool X87ProtectedLayout => (_cr0 & Cr0.PE) != 0 && (_rflags & (ulong)RFlags.VM) == 0;

    /// <summary>A real-mode pointer as the real-mode layouts hold it: the 20-bit linear address selector * 16 + offset (kept to 32 bits).</summary>
    private static uint X87RealPointer(ushort sel, ulong offset) => (uint)(((ulong)sel << 4) + (offset & 0xFFFF_FFFF));

    /// <summary>
    /// Writes the environment image (SDM Vol. 1, Figures 8-9 32-bit protected, 8-10 32-bit real,
    /// 8-11 16-bit protected, 8-12 16-bit real). 64-bit mode uses the 32-bit protected layout with
    /// FIP/FDP bits 31:0. Reserved fields are written as ones.
    /// </summary>
    private void X87WriteEnv(Span<byte> b, bool is32)
    {
        bool prot = X87ProtectedLayout;
        ushort fop = (ushort)(_fpuOpcode & 0x7FF);
        if (is32)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b, 0xFFFF_0000u | _fpuControl);
            BinaryPrimitives.WriteUInt32LittleEndian(b[4..], 0xFFFF_0000u | FpuStatusWord);
            BinaryPrimitives.WriteUInt32LittleEndian(b[8..], 0xFFFF_0000u | X87TagWord());
            if (prot)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(b[12..], (uint)_fpuIp);
                BinaryPrimitives.WriteUInt32LittleEndian(b[16..], _fpuCs | (uint)fop << 16);
                BinaryPrimitives.WriteUInt32LittleEndian(b[20..], (uint)_fpuDp);
                BinaryPrimitives.WriteUInt32LittleEndian(b[24..], 0xFFFF_0000u | _fpuDs);
            }
            else
            {
                uint ip = X87RealPointer(_fpuCs, _fpuIp), dp = X87RealPointer(_fpuDs, _fpuDp);
                BinaryPrimitives.WriteUInt32LittleEndian(b[12..], 0xFFFF_0000u | (ip & 0xFFFF));
                BinaryPrimitives.WriteUInt32LittleEndian(b[16..], (ip >> 16) << 12 | fop);
                BinaryPrimitives.WriteUInt32LittleEndian(b[20..], 0xFFFF_0000u | (dp & 0xFFFF));
                BinaryPrimitives.WriteUInt32LittleEndian(b[24..], (dp >> 16) << 12);
            }
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b, _fpuControl);
            BinaryPrimitives.WriteUInt16LittleEndian(b[2..], FpuStatusWord);
            BinaryPrimitives.WriteUInt16LittleEndian(b[4..], X87TagWord());
            if (prot)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(b[6..], (ushort)_fpuIp);
                BinaryPrimitives.WriteUInt16LittleEndian(b[8..], _fpuCs);
                BinaryPrimitives.WriteUInt16LittleEndian(b[10..], (ushort)_fpuDp);
                BinaryPrimitives.WriteUInt16LittleEndian(b[12..], _fpuDs);
            }
            else
            {
                uint ip = X87RealPointer(_fpuCs, _fpuIp), dp = X87RealPointer(_fpuDs, _fpuDp);
                BinaryPrimitives.WriteUInt16LittleEndian(b[6..], (ushort)ip);
                BinaryPrimitives.WriteUInt16LittleEndian(b[8..], (ushort)(((ip >> 16) & 0xF) << 12 | fop));
                BinaryPrimitives.WriteUInt16LittleEndian(b[10..], (ushort)dp);
                BinaryPrimitives.WriteUInt16LittleEndian(b[12..], (ushort)(((dp >> 16) & 0xF) << 12));
            }
        }
    }

    /// <summary>
    /// FNSTENV / FNSAVE (SDM Vol. 2A): the environment (and for FNSAVE the registers ST(0)..ST(7),
    /// 10 bytes each, after it) is written in one block: a fault writes nothing and changes nothing.
    /// Then FNSTENV masks every exception (FCW bits 5:0 = 1) and FNSAVE does FNINIT.
    /// </summary>
    private static void X87StoreEnvH(Cpu c, ref DecodedInstruction d) => c.X87StoreEnv(ref d);

    private void X87StoreEnv(ref DecodedInstruction d)
    {
        if (!X87EnterControl(ref d)) return;
        bool is32 = (d.Cond & 1) != 0, save = (d.Cond & 2) != 0;
        int envSize = is32 ? 28 : 14;
        Span<byte> b = stackalloc byte[108];
        b = b[..(envSize + (save ? 80 : 0))];
        X87WriteEnv(b, is32);
        if (save)
            for (int i = 0; i < 8; i++) St(i).WriteTo(b[(envSize + 10 * i)..]);
        if (!WriteBlock(ExtLin(ref d, b.Length), b, IsStackOperand(ref d))) return;
        if (save) X87Reset();
        else _fpuControl |= 0x3F;
    }

    /// <summary>
    /// FLDENV / FRSTOR (SDM Vol. 2A): loads FCW, FSW (with TOP), the tags (only empty/non-empty is
    /// kept: the contents decide the rest, Vol. 1, 8.1.7), FIP/FCS/FOP/FDP/FDS, and for FRSTOR
    /// ST(0)..ST(7) relative to the loaded TOP. The whole image is read before anything changes.
    /// ES/B follow the loaded flags and masks, so an unmasked pending exception is taken at the next
    /// waiting instruction. The 16-bit protected layout holds no FOP: it loads as 0. Real-mode
    /// images hold 20/32-bit linear pointers: they load with FCS = FDS = 0.
    /// </summary>
    private static void X87LoadEnvH(Cpu c, ref DecodedInstruction d) => c.X87LoadEnv(ref d);

    private void X87LoadEnv(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        bool is32 = (d.Cond & 1) != 0, restore = (d.Cond & 2) != 0;
        int envSize = is32 ? 28 : 14;
        Span<byte> b = stackalloc byte[108];
        b = b[..(envSize + (restore ? 80 : 0))];
        if (!ReadBlock(ExtLin(ref d, b.Length), b, IsStackOperand(ref d))) return;

        bool prot = X87ProtectedLayout;
        ushort fcw, fsw, ftw, cs = 0, ds = 0, fop = 0;
        ulong ip, dp;
        if (is32)
        {
            fcw = BinaryPrimitives.ReadUInt16LittleEndian(b);
            fsw = BinaryPrimitives.ReadUInt16LittleEndian(b[4..]);
            ftw = BinaryPrimitives.ReadUInt16LittleEndian(b[8..]);
            uint w16 = BinaryPrimitives.ReadUInt32LittleEndian(b[16..]);
            if (prot)
            {
                ip = BinaryPrimitives.ReadUInt32LittleEndian(b[12..]);
                cs = (ushort)w16;
                fop = (ushort)((w16 >> 16) & 0x7FF);
                dp = BinaryPrimitives.ReadUInt32LittleEndian(b[20..]);
                ds = BinaryPrimitives.ReadUInt16LittleEndian(b[24..]);
            }
            else
            {
                ip = BinaryPrimitives.ReadUInt16LittleEndian(b[12..]) | (ulong)((w16 >> 12) & 0xFFFF) << 16;
                fop = (ushort)(w16 & 0x7FF);
                dp = BinaryPrimitives.ReadUInt16LittleEndian(b[20..]) | (ulong)((BinaryPrimitives.ReadUInt32LittleEndian(b[24..]) >> 12) & 0xFFFF) << 16;
            }
        }
        else
        {
            fcw = BinaryPrimitives.ReadUInt16LittleEndian(b);
            fsw = BinaryPrimitives.ReadUInt16LittleEndian(b[2..]);
            ftw = BinaryPrimitives.ReadUInt16LittleEndian(b[4..]);
            ushort w8 = BinaryPrimitives.ReadUInt16LittleEndian(b[8..]), w12 = BinaryPrimitives.ReadUInt16LittleEndian(b[12..]);
            if (prot)
            {
                ip = BinaryPrimitives.ReadUInt16LittleEndian(b[6..]);
                cs = w8;
                dp = BinaryPrimitives.ReadUInt16LittleEndian(b[10..]);
                ds = w12;
            }
            else
            {
                ip = BinaryPrimitives.ReadUInt16LittleEndian(b[6..]) | (ulong)(w8 >> 12) << 16;
                fop = (ushort)(w8 & 0x7FF);
                dp = BinaryPrimitives.ReadUInt16LittleEndian(b[10..]) | (ulong)(w12 >> 12) << 16;
            }
        }

        _fpuControl = X87ControlImage(fcw);
        FpuStatusWord = fsw;
        byte empty = 0;
        for (int r = 0; r < 8; r++)
            if (((ftw >> (2 * r)) & 3) == 3) empty |= (byte)(1 << r);
        _fpuEmpty = empty;
        _fpuIp = ip;
        _fpuCs = cs;
        _fpuDp = dp;
        _fpuDs = ds;
        _fpuOpcode = fop;
        X87RecomputeSummary();
        if (restore)
            for (int i = 0; i < 8; i++) St(i) = Float80.ReadFrom(b[(envSize + 10 * i)..]);
    }

    /// <summary>FNOP: no operation, but a non-control x87 instruction (#NM, pending #MF, updates FIP/FOP).</summary>
    private static void X87NopH(Cpu c, ref DecodedInstruction d)
    {
        if (!c.X87Enter(ref d, true)) return;
        c.X87SetPointers(ref d);
    }

    /// <summary>WAIT/FWAIT (9B): #NM only when CR0.MP = 1 and CR0.TS = 1 (CR0.EM is ignored), then a pending unmasked exception -> #MF (SDM Vol. 2B "WAIT/FWAIT"; Vol. 3A Table 2-2).</summary>
    private static void X87WaitH(Cpu c, ref DecodedInstruction d)
    {
        if ((d.Flags & DecodedFlags.Lock) != 0) { c.Fault(ExceptionVector.UD); return; }
        c.WaitChecks();
    }

    /// <summary>FNENI/FNDISI/FNSETPM (and their 9B-prefixed forms): no operation on the 387 and later; #NM applies like any x87 instruction.</summary>
    private static void X87LegacyNopH(Cpu c, ref DecodedInstruction d) => c.X87EnterControl(ref d);
}

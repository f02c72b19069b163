using System.Runtime.CompilerServices;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>
    /// Executes one decoded instruction: one dense switch over <see cref="Op"/>. Handlers either
    /// complete (possibly changing <c>_nextRip</c>) or record a fault and commit nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Execute(ref DecodedInstruction d)
    {
        switch (d.Op)
        {
            case Op.AddRR64: FastAluRR<AddOp, S64>(ref d); break;
            case Op.AddRR32: FastAluRR<AddOp, S32>(ref d); break;
            case Op.AddRI64: FastAluRI<AddOp, S64>(ref d); break;
            case Op.AddRI32: FastAluRI<AddOp, S32>(ref d); break;
            case Op.AddRM64: FastAluRM<AddOp, S64>(ref d); break;
            case Op.AddRM32: FastAluRM<AddOp, S32>(ref d); break;
            case Op.SubRR64: FastAluRR<SubOp, S64>(ref d); break;
            case Op.SubRR32: FastAluRR<SubOp, S32>(ref d); break;
            case Op.SubRI64: FastAluRI<SubOp, S64>(ref d); break;
            case Op.SubRI32: FastAluRI<SubOp, S32>(ref d); break;
            case Op.SubRM64: FastAluRM<SubOp, S64>(ref d); break;
            case Op.SubRM32: FastAluRM<SubOp, S32>(ref d); break;
            case Op.CmpRR64: FastAluRR<CmpOp, S64>(ref d); break;
            case Op.CmpRR32: FastAluRR<CmpOp, S32>(ref d); break;
            case Op.CmpRI64: FastAluRI<CmpOp, S64>(ref d); break;
            case Op.CmpRI32: FastAluRI<CmpOp, S32>(ref d); break;
            case Op.CmpRM64: FastAluRM<CmpOp, S64>(ref d); break;
            case Op.CmpRM32: FastAluRM<CmpOp, S32>(ref d); break;
            case Op.AndRR64: FastAluRR<AndOp, S64>(ref d); break;
            case Op.AndRR32: FastAluRR<AndOp, S32>(ref d); break;
            case Op.AndRI64: FastAluRI<AndOp, S64>(ref d); break;
            case Op.AndRI32: FastAluRI<AndOp, S32>(ref d); break;
            case Op.AndRM64: FastAluRM<AndOp, S64>(ref d); break;
            case Op.AndRM32: FastAluRM<AndOp, S32>(ref d); break;
            case Op.OrRR64: FastAluRR<OrOp, S64>(ref d); break;
            case Op.OrRR32: FastAluRR<OrOp, S32>(ref d); break;
            case Op.OrRI64: FastAluRI<OrOp, S64>(ref d); break;
            case Op.OrRI32: FastAluRI<OrOp, S32>(ref d); break;
            case Op.OrRM64: FastAluRM<OrOp, S64>(ref d); break;
            case Op.OrRM32: FastAluRM<OrOp, S32>(ref d); break;
            case Op.XorRR64: FastAluRR<XorOp, S64>(ref d); break;
            case Op.XorRR32: FastAluRR<XorOp, S32>(ref d); break;
            case Op.XorRI64: FastAluRI<XorOp, S64>(ref d); break;
            case Op.XorRI32: FastAluRI<XorOp, S32>(ref d); break;
            case Op.XorRM64: FastAluRM<XorOp, S64>(ref d); break;
            case Op.XorRM32: FastAluRM<XorOp, S32>(ref d); break;
            case Op.TestRR64: FastAluRR<TestOp, S64>(ref d); break;
            case Op.TestRR32: FastAluRR<TestOp, S32>(ref d); break;
            case Op.TestRI64: FastAluRI<TestOp, S64>(ref d); break;
            case Op.TestRI32: FastAluRI<TestOp, S32>(ref d); break;
            case Op.AddMR64: FastAluMR<AddOp, S64>(ref d); break;
            case Op.AddMR32: FastAluMR<AddOp, S32>(ref d); break;
            case Op.SubMR64: FastAluMR<SubOp, S64>(ref d); break;
            case Op.SubMR32: FastAluMR<SubOp, S32>(ref d); break;
            case Op.CmpMR64: FastAluMR<CmpOp, S64>(ref d); break;
            case Op.CmpMR32: FastAluMR<CmpOp, S32>(ref d); break;
            case Op.AndMR64: FastAluMR<AndOp, S64>(ref d); break;
            case Op.AndMR32: FastAluMR<AndOp, S32>(ref d); break;
            case Op.OrMR64: FastAluMR<OrOp, S64>(ref d); break;
            case Op.OrMR32: FastAluMR<OrOp, S32>(ref d); break;
            case Op.XorMR64: FastAluMR<XorOp, S64>(ref d); break;
            case Op.XorMR32: FastAluMR<XorOp, S32>(ref d); break;
            case Op.TestMR64: FastAluMR<TestOp, S64>(ref d); break;
            case Op.TestMR32: FastAluMR<TestOp, S32>(ref d); break;
            case Op.MovRR64: R(d.Reg) = R(d.Reg2); break;
            case Op.MovRR32: R(d.Reg) = (uint)R(d.Reg2); break;
            case Op.MovRI64: R(d.Reg) = d.Imm; break;
            case Op.MovRI32: R(d.Reg) = (uint)d.Imm; break;
            case Op.MovRM64: FastMovRM(ref d, 8); break;
            case Op.MovRM32: FastMovRM(ref d, 4); break;
            case Op.MovMR64: FastMovMR(ref d, 8); break;
            case Op.MovMR32: FastMovMR(ref d, 4); break;
            case Op.IncR64: FastIncDec<S64>(ref d, false); break;
            case Op.IncR32: FastIncDec<S32>(ref d, false); break;
            case Op.DecR64: FastIncDec<S64>(ref d, true); break;
            case Op.DecR32: FastIncDec<S32>(ref d, true); break;
            case Op.PushR64: FastPush64(ref d); break;
            case Op.PopR64: FastPop64(ref d); break;
            case Op.CallRel64: FastCall64(ref d); break;
            case Op.Ret64: FastRet64(); break;
            case Op.LeaR64: R(d.Reg) = Ea(ref d); break;
            case Op.RolRI64: FastRotateRI<S64>(ref d, false); break;
            case Op.RolRI32: FastRotateRI<S32>(ref d, false); break;
            case Op.RorRI64: FastRotateRI<S64>(ref d, true); break;
            case Op.RorRI32: FastRotateRI<S32>(ref d, true); break;
            case Op.ShlRI64: FastShiftRI<S64>(ref d, 0); break;
            case Op.ShlRI32: FastShiftRI<S32>(ref d, 0); break;
            case Op.ShrRI64: FastShiftRI<S64>(ref d, 1); break;
            case Op.ShrRI32: FastShiftRI<S32>(ref d, 1); break;
            case Op.SarRI64: FastShiftRI<S64>(ref d, 2); break;
            case Op.SarRI32: FastShiftRI<S32>(ref d, 2); break;
            case Op.MovMI64: FastMovMI(ref d, 8); break;
            case Op.MovMI32: FastMovMI(ref d, 4); break;
            case Op.MovMI8: FastMovMI(ref d, 1); break;
            case Op.MovMR8: FastMovMR8(ref d); break;
            case Op.MovzxRM8: FastMovzxRM8(ref d); break;
            case Op.CmpMI64: FastCmpMI(ref d, 8); break;
            case Op.CmpMI32: FastCmpMI(ref d, 4); break;
            case Op.CmpMI8: FastCmpMI(ref d, 1); break;

            case Op.Mov: ExecMov(ref d); break;
            case Op.Movzx: ExecMovzx(ref d); break;
            case Op.Movsx: ExecMovsx(ref d); break;
            case Op.Xchg: ExecXchg(ref d); break;
            case Op.Xadd: ExecXadd(ref d); break;
            case Op.Cmpxchg: ExecCmpxchg(ref d); break;
            case Op.CmpxchgNb: ExecCmpxchgNb(ref d); break;
            case Op.Bswap: ExecBswap(ref d); break;
            case Op.Lea: ExecLea(ref d); break;
            case Op.Push: ExecPush(ref d); break;
            case Op.Pop: ExecPop(ref d); break;
            case Op.PushSeg: ExecPushSeg(ref d); break;
            case Op.PopSeg: ExecPopSegChecked(ref d); break;
            case Op.Pushf: ExecPushf(ref d); break;
            case Op.Popf: ExecPopf(ref d); break;
            case Op.Enter: ExecEnter(ref d); break;
            case Op.Leave: ExecLeave(ref d); break;
            case Op.Movbe: ExecMovbe(ref d); break;
            case Op.Cbw: ExecCbw(ref d); break;
            case Op.Cwd: ExecCwd(ref d); break;
            case Op.Lahf: ExecLahf(); break;
            case Op.Sahf: ExecSahf(); break;

            case Op.Add: Alu<AddOp>(ref d); break;
            case Op.Or: Alu<OrOp>(ref d); break;
            case Op.Adc: Alu<AdcOp>(ref d); break;
            case Op.Sbb: Alu<SbbOp>(ref d); break;
            case Op.And: Alu<AndOp>(ref d); break;
            case Op.Sub: Alu<SubOp>(ref d); break;
            case Op.Xor: Alu<XorOp>(ref d); break;
            case Op.Cmp: Alu<CmpOp>(ref d); break;
            case Op.Test: Alu<TestOp>(ref d); break;
            case Op.Inc: ExecIncDec(ref d, false); break;
            case Op.Dec: ExecIncDec(ref d, true); break;
            case Op.Neg: ExecNeg(ref d); break;
            case Op.Not: ExecNot(ref d); break;
            case Op.Mul: ExecMul(ref d, false); break;
            case Op.Imul1: ExecMul(ref d, true); break;
            case Op.Imul: ExecImul(ref d); break;
            case Op.Div: ExecDiv(ref d); break;
            case Op.Idiv: ExecIdiv(ref d); break;
            case Op.Adcx: ExecAdx(ref d, CF); break;
            case Op.Adox: ExecAdx(ref d, OF); break;
            case Op.Mulx: ExecMulx(ref d); break;

            case Op.Rol: case Op.Ror: case Op.Rcl: case Op.Rcr: ExecRotate(ref d); break;
            case Op.Shl: case Op.Shr: case Op.Sar: ExecShift(ref d); break;
            case Op.Shld: case Op.Shrd: ExecShiftDouble(ref d); break;
            case Op.Sarx: case Op.Shlx: case Op.Shrx: case Op.Rorx: ExecShiftBmi(ref d); break;

            case Op.Bt: case Op.Bts: case Op.Btr: case Op.Btc: ExecBitTest(ref d); break;
            case Op.Bsf: case Op.Bsr: ExecBitScan(ref d); break;
            case Op.Lzcnt: case Op.Tzcnt: case Op.Popcnt: ExecCount(ref d); break;
            case Op.Andn: case Op.Bextr: case Op.Blsi: case Op.Blsmsk: case Op.Blsr: case Op.Bzhi: case Op.Pdep: case Op.Pext: ExecBmi(ref d); break;

            case Op.Jmp: ExecJmp(ref d); break;
            case Op.JmpIndirect: ExecJmpIndirect(ref d); break;
            case Op.Call: ExecCall(ref d); break;
            case Op.CallIndirect: ExecCallIndirect(ref d); break;
            case Op.Ret: ExecRet(ref d); break;
            case Op.Jcc: if (Condition(d.Cond)) JumpRelative(ref d); break;
            case Op.Jrcxz: ExecJrcxz(ref d); break;
            case Op.Loop: case Op.Loope: case Op.Loopne: ExecLoop(ref d); break;
            case Op.Setcc: ExecSetcc(ref d); break;
            case Op.Cmovcc: ExecCmovcc(ref d); break;

            case Op.Movs: ExecMovs(ref d); break;
            case Op.Stos: ExecStos(ref d); break;
            case Op.Lods: ExecLods(ref d); break;
            case Op.Cmps: ExecCmps(ref d); break;
            case Op.Scas: ExecScas(ref d); break;

            case Op.Nop: break;
            case Op.Pause: if (_nonRoot) PauseExits(ref d); break;
            case Op.Clc: SetStatus(CF, 0); break;
            case Op.Stc: SetStatus(CF, CF); break;
            case Op.Cmc: SetStatus(CF, GetCF() ? 0 : CF); break;
            case Op.Cld: _rflags &= ~DF; break;
            case Op.Std: _rflags |= DF; break;
            case Op.Cpuid: ExecCpuid(ref d); break;
            case Op.Rdtsc: ExecRdtsc(ref d, false); break;
            case Op.Rdtscp: ExecRdtsc(ref d, true); break;
            case Op.Hlt: ExecHlt(ref d); break;

            case Op.MovToSeg: ExecMovToSeg(ref d); break;
            case Op.MovFromSeg: ExecMovFromSeg(ref d); break;
            case Op.LoadFarPointer: ExecLoadFarPointer(ref d); break;
            case Op.JmpFar: ExecJmpCallFar(ref d, false); break;
            case Op.CallFar: ExecJmpCallFar(ref d, true); break;
            case Op.JmpFarIndirect: ExecJmpCallFarIndirect(ref d, false); break;
            case Op.CallFarIndirect: ExecJmpCallFarIndirect(ref d, true); break;
            case Op.RetFar: ExecRetFar(ref d); break;
            case Op.Iret: ExecIret(ref d); break;
            case Op.Int: SoftwareInterrupt((byte)d.Imm, EventKind.SoftwareInterrupt); break;
            case Op.Int3: SoftwareInterrupt(3, EventKind.SoftwareException); break;
            case Op.Into: ExecInto(); break;
            case Op.Int1: SoftwareInterrupt(1, EventKind.PrivilegedSoftwareException); break;
            case Op.Cli: ExecCliSti(false); break;
            case Op.Sti: ExecCliSti(true); break;
            case Op.Lgdt: ExecLoadTable(ref d, false); break;
            case Op.Lidt: ExecLoadTable(ref d, true); break;
            case Op.Sgdt: ExecStoreTable(ref d, false); break;
            case Op.Sidt: ExecStoreTable(ref d, true); break;
            case Op.Lldt: ExecLoadSystemSegment(ref d, false); break;
            case Op.Ltr: ExecLoadSystemSegment(ref d, true); break;
            case Op.Sldt: ExecStoreSystemSelector(ref d, false); break;
            case Op.Str: ExecStoreSystemSelector(ref d, true); break;
            case Op.Lmsw: ExecLmsw(ref d); break;
            case Op.Smsw: ExecSmsw(ref d); break;
            case Op.Clts: ExecClts(ref d); break;
            case Op.MovToCr: ExecMovToCr(ref d); break;
            case Op.MovFromCr: ExecMovFromCr(ref d); break;
            case Op.MovToDr: ExecMovDr(ref d, true); break;
            case Op.MovFromDr: ExecMovDr(ref d, false); break;
            case Op.Invlpg: ExecInvlpg(ref d); break;
            case Op.Invpcid: ExecInvpcid(ref d); break;
            case Op.Wbinvd: if (CheckCpl0() && _nonRoot) WbinvdExits(ref d); break;
            case Op.Invd: if (CheckCpl0() && _nonRoot) ExitForInstruction(ref d, Vmx.VmxExitReason.Invd); break;
            case Op.Rdpmc: ExecRdpmc(ref d); break;
            case Op.Rdmsr: ExecRdmsr(ref d); break;
            case Op.Wrmsr: ExecWrmsr(ref d); break;
            case Op.Swapgs: ExecSwapgs(); break;
            case Op.Syscall: ExecSyscall(); break;
            case Op.Sysret: ExecSysret(ref d); break;
            case Op.Sysenter: ExecSysenter(); break;
            case Op.Sysexit: ExecSysexit(ref d); break;
            case Op.Rdpid: ExecRdpid(ref d); break;
            case Op.Xgetbv: ExecXgetbv(); break;
            case Op.Xsetbv: ExecXsetbv(ref d); break;
            case Op.In: ExecIn(ref d); break;
            case Op.Out: ExecOut(ref d); break;
            case Op.Ins: ExecIns(ref d); break;
            case Op.Outs: ExecOuts(ref d); break;
            case Op.Vmxon: ExecVmxon(ref d); break;
            case Op.Vmxoff: ExecVmxoff(ref d); break;
            case Op.Vmclear: ExecVmclear(ref d); break;
            case Op.Vmptrld: ExecVmptrld(ref d); break;
            case Op.Vmptrst: ExecVmptrst(ref d); break;
            case Op.Vmread: ExecVmread(ref d); break;
            case Op.Vmwrite: ExecVmwrite(ref d); break;
            case Op.Invept: ExecInvept(ref d); break;
            case Op.Invvpid: ExecInvvpid(ref d); break;
            case Op.Vmcall: ExecVmcall(ref d); break;
            case Op.Vmlaunch: ExecVmentry(ref d, false); break;
            case Op.Vmresume: ExecVmentry(ref d, true); break;
            case Op.Vmfunc: ExecVmfunc(ref d); break;
            case Op.Stac: ExecStacClac(true); break;
            case Op.Ext: ExecuteExt(ref d); break;
            case Op.Clac: ExecStacClac(false); break;

            // Invalid, Unsupported, UD0/UD1/UD2: #UD (SDM Vol. 3A, 6.15, interrupt 6).
            default: Fault(ExceptionVector.UD); break;
        }
    }
}

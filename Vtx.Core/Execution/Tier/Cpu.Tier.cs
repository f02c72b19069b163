using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    // Issue 13, the IL tier: a sequential run whose head the quiet loop has entered TierThreshold times is
    // compiled to a DynamicMethod that executes exactly what the quiet loop would (see Cpu.Run and
    // docs/ARCHITECTURE.md, "Fast paths (issue 13)", "Tier"). The interpreter stays the reference: the
    // compiled code either does inline what a fast-form handler does, or calls the handler itself.

    /// <summary>A compiled run: executes the run from <paramref name="head"/>; returns the index (from the head) of the last instruction it executed — the run's last, or the one that raised <c>_signal</c>.</summary>
    internal delegate int TierRun(Cpu cpu, ref DecodedInstruction head);

    private delegate void TierHandler(ref DecodedInstruction d);

    private static readonly object TierNotCompiled = new(); // a head that will not be compiled (cap reached)

    private bool _tierEnabled = true;
    private int _tierThreshold = DefaultTierThreshold;
    private int _tierCompiled;
    private bool _tierChain;      // nothing was pending when the quiet loop was entered: runs may chain
    private ulong _tierStopAt;    // the run's stop address (a non-canonical value when none)
    private const int TierHeatSlots = 4096;
    private readonly ushort[] _tierHeat = new ushort[TierHeatSlots];

    /// <summary>
    /// Default of <see cref="TierThreshold"/>. Compiling a run costs host time on the order of a millisecond, so
    /// only runs entered thousands of times repay it: with 64, booting Linux compiled so many runs that it took
    /// 104 s instead of 62 s; with 4096 the boot is as fast as without the tier and hot loops still compile at once.
    /// </summary>
    public const int DefaultTierThreshold = 4096;

    /// <summary>Most runs one processor compiles; later hot heads stay interpreted (bounds host memory and compile time).</summary>
    public const int MaxCompiledRuns = 16384;

    /// <summary>
    /// Issue 13: when true (the default), sequential runs that the run loop's quiet path enters
    /// <see cref="TierThreshold"/> times are compiled to IL. A host-side speed-up only: results, cycle
    /// counts, event placement, faults and traces are those of the interpreter (architecture state per
    /// SDM Vol. 1, 3.4; instruction boundaries per SDM Vol. 3A, 6.6), which stays the reference and the
    /// only path for anything but a quiet run (pending events, single-step, breakpoints, limits inside a run).
    /// </summary>
    public bool CompileHotRuns
    {
        get => _tierEnabled;
        set => _tierEnabled = value;
    }

    /// <summary>
    /// Quiet-path entries of a run head before its run is compiled (1..65535; 1 compiles every run on its
    /// first quiet execution, as the differential tests do). Changing it affects heads counted from then on.
    /// </summary>
    public int TierThreshold
    {
        get => _tierThreshold;
        set => _tierThreshold = value is >= 1 and <= ushort.MaxValue ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "1..65535");
    }

    /// <summary>Runs compiled by this processor so far (at most <see cref="MaxCompiledRuns"/>).</summary>
    public int CompiledRuns => _tierCompiled;

    /// <summary>
    /// At a quiet run entry: executes the run through its compiled code when it has some, chaining on to the next
    /// compiled runs while the quiet loop would (<see cref="TierChain"/>), and returns the last instruction executed
    /// (<c>_signal</c> telling whether it stopped early); else counts the entry and returns a null reference (the
    /// interpreter executes the run).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref DecodedInstruction TierTry(ref DecodedInstruction d)
    {
        DecodedPage p = _fetchPage;
        int i = p.IndexOf(ref d);
        if (i >= 0)
        {
            object?[]? runs = p.TierRuns;
            if (runs is not null)
            {
                object? r = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(runs), i); // runs is as long as the instruction array
                if (r is not null)
                {
                    if (r is TierRun run) return ref TierChain(run, ref d);
                    return ref Unsafe.NullRef<DecodedInstruction>();
                }
            }
            int k = TierCount(p, i, ref d);
            if (k >= 0) return ref Unsafe.Add(ref d, k);
        }
        return ref Unsafe.NullRef<DecodedInstruction>();
    }

    /// <summary>
    /// Runs <paramref name="run"/>, then, for as long as the quiet loop would go from the run's last instruction
    /// straight into another compiled run, runs that one too without returning to the loop. The tests are the
    /// loop's, in its order, on the same fields: no signal; nothing pending at the loop's entry (<c>_tierChain</c>),
    /// a chaining branch, retired and cycles below the limits, no host stop, not at the stop address; then the
    /// fetch (its fast path only: same code page, decoding cached) and the next run fits every limit
    /// (retired + RunLength, cycles + RunCycles, stop address - RIP &gt;= RunBytes); then the next head's compiled
    /// code, looked up exactly as <see cref="TierTry"/> does (a head not yet compiled or not compiled is left to the
    /// loop, which counts it). When any test fails the last instruction is returned and the loop makes the same
    /// tests itself, with the same outcome (they only read state), so boundaries, counts and cycles are unchanged.
    /// Invalidation is the fetch's: a dropped page is never the fetch page's cached decodings, and its compiled
    /// runs go with it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ref DecodedInstruction TierChain(TierRun run, ref DecodedInstruction d)
    {
        while (true)
        {
            d = ref Unsafe.Add(ref d, run(this, ref d));
            if (_signal != 0 || !_tierChain || !ChainsAfter(d.Op) || _retired >= _insnBoundary || _cycles >= _cycleBoundary
                || Volatile.Read(ref _hostStop) != 0 || _rip == _tierStopAt) return ref d;
            ulong lin = _rip + _csBase;
            if ((lin & ~0xFFFUL) != _fetchLin) return ref d;
            DecodedPage p = _fetchPage;
            ref DecodedInstruction n = ref p.Lookup((int)lin & 0xFFF);
            if (Unsafe.IsNullRef(ref n)
                || _retired + n.RunLength > _insnBoundary || _cycles + n.RunCycles > _cycleBoundary || _tierStopAt - _rip < n.RunBytes)
                return ref d;
            object?[]? runs = p.TierRuns;
            if (runs is null) return ref d;
            int i = p.IndexOf(ref n);
            if (i < 0 || Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(runs), i) is not TierRun next) return ref d;
            run = next;
            d = ref n;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int TierCount(DecodedPage p, int i, ref DecodedInstruction d)
    {
        // Entry counts live in one fixed table hashed by RIP (no allocation per page; a collision only compiles a
        // run sooner, which changes no result). A compiled run is stored with the page's decodings.
        ref ushort heat = ref _tierHeat[(int)((_rip ^ (_rip >> 11)) & (TierHeatSlots - 1))];
        if (++heat < _tierThreshold) return -1;
        heat = 0;
        object?[] runs = p.TierRuns ??= new object?[p.Capacity];
        if (_tierCompiled >= MaxCompiledRuns) { runs[i] = TierNotCompiled; return -1; }
        TierRun run = TierCompile(ref d);
        _tierCompiled++;
        runs[i] = run;
        return run(this, ref d);
    }

    /// <summary>The interpreter's dispatch for one instruction, as a call target for compiled runs.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TierExecute(ref DecodedInstruction d) => Execute(ref d);

    /// <summary>Jcc as the interpreter's dispatch executes it, with the condition a constant.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void TierJcc(ref DecodedInstruction d, int cc)
    {
        if (Condition(cc)) JumpRelative(ref d);
    }

    // ------------------------------------------------------------------ the compiler

    private const BindingFlags TierMember = BindingFlags.Instance | BindingFlags.NonPublic;
    private static readonly FieldInfo TfGpr = typeof(Cpu).GetField(nameof(_gpr), TierMember)!;
    private static readonly FieldInfo TfRip = typeof(Cpu).GetField(nameof(_rip), TierMember)!;
    private static readonly FieldInfo TfNextRip = typeof(Cpu).GetField(nameof(_nextRip), TierMember)!;
    private static readonly FieldInfo TfIpMask = typeof(Cpu).GetField(nameof(_ipMask), TierMember)!;
    private static readonly FieldInfo TfCycles = typeof(Cpu).GetField(nameof(_cycles), TierMember)!;
    private static readonly FieldInfo TfRetired = typeof(Cpu).GetField(nameof(_retired), TierMember)!;
    private static readonly FieldInfo TfSignal = typeof(Cpu).GetField(nameof(_signal), TierMember)!;
    private static readonly FieldInfo TfFop = typeof(Cpu).GetField(nameof(_fop), TierMember)!;
    private static readonly FieldInfo TfFsize = typeof(Cpu).GetField(nameof(_fsize), TierMember)!;
    private static readonly FieldInfo TfFdst = typeof(Cpu).GetField(nameof(_fdst), TierMember)!;
    private static readonly FieldInfo TfFsrc = typeof(Cpu).GetField(nameof(_fsrc), TierMember)!;
    private static readonly FieldInfo TfFres = typeof(Cpu).GetField(nameof(_fres), TierMember)!;
    private static readonly FieldInfo TfFaux = typeof(Cpu).GetField(nameof(_faux), TierMember)!;
    private static readonly FieldInfo TfInsnBoundary = typeof(Cpu).GetField(nameof(_insnBoundary), TierMember)!;
    private static readonly FieldInfo TfCycleBoundary = typeof(Cpu).GetField(nameof(_cycleBoundary), TierMember)!;
    private static readonly FieldInfo TfHostStop = typeof(Cpu).GetField(nameof(_hostStop), TierMember)!;
    private static readonly FieldInfo TfTierChain = typeof(Cpu).GetField(nameof(_tierChain), TierMember)!;
    private static readonly FieldInfo TfTierStopAt = typeof(Cpu).GetField(nameof(_tierStopAt), TierMember)!;
    private static readonly MethodInfo TmGetCF = typeof(Cpu).GetMethod(nameof(GetCF), TierMember)!;
    private static readonly MethodInfo TmArrayData =
        typeof(MemoryMarshal).GetMethod(nameof(MemoryMarshal.GetArrayDataReference), 1, [Type.MakeGenericMethodParameter(0).MakeArrayType()])!.MakeGenericMethod(typeof(ulong));
    // The method's first parameter is an unused object the delegate is closed over (null): a delegate closed over its first
    // argument calls the method directly, where an open static one goes through a shuffle thunk on every call.
    private static readonly Type[] TierParams = [typeof(object), typeof(Cpu), typeof(DecodedInstruction).MakeByRefType()];
    private static readonly int InsnSize = Unsafe.SizeOf<DecodedInstruction>();

    /// <summary>
    /// The interpreter's handler of <paramref name="op"/> when Cpu.Dispatch.cs's switch calls a plain method of the
    /// decoding for it (called directly: no dispatch; the JIT may inline it), else null (the call goes through the switch).
    /// </summary>
    private TierHandler? TierDirectHandler(Op op) => op switch
    {
        Op.AddRM64 => FastAluRM<AddOp, S64>, Op.AddRM32 => FastAluRM<AddOp, S32>,
        Op.SubRM64 => FastAluRM<SubOp, S64>, Op.SubRM32 => FastAluRM<SubOp, S32>,
        Op.CmpRM64 => FastAluRM<CmpOp, S64>, Op.CmpRM32 => FastAluRM<CmpOp, S32>,
        Op.AndRM64 => FastAluRM<AndOp, S64>, Op.AndRM32 => FastAluRM<AndOp, S32>,
        Op.OrRM64 => FastAluRM<OrOp, S64>, Op.OrRM32 => FastAluRM<OrOp, S32>,
        Op.XorRM64 => FastAluRM<XorOp, S64>, Op.XorRM32 => FastAluRM<XorOp, S32>,
        Op.AddMR64 => FastAluMR<AddOp, S64>, Op.AddMR32 => FastAluMR<AddOp, S32>,
        Op.SubMR64 => FastAluMR<SubOp, S64>, Op.SubMR32 => FastAluMR<SubOp, S32>,
        Op.CmpMR64 => FastAluMR<CmpOp, S64>, Op.CmpMR32 => FastAluMR<CmpOp, S32>,
        Op.AndMR64 => FastAluMR<AndOp, S64>, Op.AndMR32 => FastAluMR<AndOp, S32>,
        Op.OrMR64 => FastAluMR<OrOp, S64>, Op.OrMR32 => FastAluMR<OrOp, S32>,
        Op.XorMR64 => FastAluMR<XorOp, S64>, Op.XorMR32 => FastAluMR<XorOp, S32>,
        Op.TestMR64 => FastAluMR<TestOp, S64>, Op.TestMR32 => FastAluMR<TestOp, S32>,
        Op.MovRM64 => TierMovRM64, Op.MovRM32 => TierMovRM32,
        Op.MovMR64 => TierMovMR64, Op.MovMR32 => TierMovMR32,
        Op.PushR64 => FastPush64,
        Op.PopR64 => FastPop64,
        Op.CallRel64 => FastCall64,
        Op.Ret64 => TierRet64,
        Op.LeaR64 => TierLeaR64,
        Op.RolRI64 => TierRolRI64, Op.RolRI32 => TierRolRI32, Op.RorRI64 => TierRorRI64, Op.RorRI32 => TierRorRI32,
        Op.ShlRI64 => TierShlRI64, Op.ShlRI32 => TierShlRI32, Op.ShrRI64 => TierShrRI64, Op.ShrRI32 => TierShrRI32,
        Op.SarRI64 => TierSarRI64, Op.SarRI32 => TierSarRI32,
        Op.MovMI64 => TierMovMI64, Op.MovMI32 => TierMovMI32, Op.MovMI8 => TierMovMI8,
        Op.MovMR8 => FastMovMR8, Op.MovzxRM8 => FastMovzxRM8,
        Op.CmpMI64 => TierCmpMI64, Op.CmpMI32 => TierCmpMI32, Op.CmpMI8 => TierCmpMI8,
        Op.Mov => ExecMov, Op.Movzx => ExecMovzx, Op.Movsx => ExecMovsx, Op.Xchg => ExecXchg,
        Op.Lea => ExecLea, Op.Push => ExecPush, Op.Pop => ExecPop,
        Op.Add => Alu<AddOp>, Op.Or => Alu<OrOp>, Op.Adc => Alu<AdcOp>, Op.Sbb => Alu<SbbOp>, Op.And => Alu<AndOp>,
        Op.Sub => Alu<SubOp>, Op.Xor => Alu<XorOp>, Op.Cmp => Alu<CmpOp>, Op.Test => Alu<TestOp>,
        Op.Neg => ExecNeg, Op.Not => ExecNot, Op.Imul => ExecImul,
        Op.Rol or Op.Ror or Op.Rcl or Op.Rcr => ExecRotate,
        Op.Shl or Op.Shr or Op.Sar => ExecShift,
        Op.Jmp => ExecJmp, Op.JmpIndirect => ExecJmpIndirect, Op.Call => ExecCall, Op.CallIndirect => ExecCallIndirect, Op.Ret => ExecRet,
        Op.Setcc => ExecSetcc, Op.Cmovcc => ExecCmovcc,
        _ => null,
    };

    // Dispatch cases whose handler takes more than the decoding, as plain methods of it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierMovRM64(ref DecodedInstruction d) => FastMovRM(ref d, 8);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierMovRM32(ref DecodedInstruction d) => FastMovRM(ref d, 4);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierMovMR64(ref DecodedInstruction d) => FastMovMR(ref d, 8);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierMovMR32(ref DecodedInstruction d) => FastMovMR(ref d, 4);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierRet64(ref DecodedInstruction d) => FastRet64();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierLeaR64(ref DecodedInstruction d) => R(d.Reg) = Ea(ref d);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierRolRI64(ref DecodedInstruction d) => FastRotateRI<S64>(ref d, false);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierRolRI32(ref DecodedInstruction d) => FastRotateRI<S32>(ref d, false);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierRorRI64(ref DecodedInstruction d) => FastRotateRI<S64>(ref d, true);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierRorRI32(ref DecodedInstruction d) => FastRotateRI<S32>(ref d, true);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierShlRI64(ref DecodedInstruction d) => FastShiftRI<S64>(ref d, 0);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierShlRI32(ref DecodedInstruction d) => FastShiftRI<S32>(ref d, 0);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierShrRI64(ref DecodedInstruction d) => FastShiftRI<S64>(ref d, 1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierShrRI32(ref DecodedInstruction d) => FastShiftRI<S32>(ref d, 1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierSarRI64(ref DecodedInstruction d) => FastShiftRI<S64>(ref d, 2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierSarRI32(ref DecodedInstruction d) => FastShiftRI<S32>(ref d, 2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierMovMI64(ref DecodedInstruction d) => FastMovMI(ref d, 8);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierMovMI32(ref DecodedInstruction d) => FastMovMI(ref d, 4);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierMovMI8(ref DecodedInstruction d) => FastMovMI(ref d, 1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierCmpMI64(ref DecodedInstruction d) => FastCmpMI(ref d, 8);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierCmpMI32(ref DecodedInstruction d) => FastCmpMI(ref d, 4);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void TierCmpMI8(ref DecodedInstruction d) => FastCmpMI(ref d, 1);

    /// <summary>What an inline form does to the lazy-flag record.</summary>
    private enum TierFlags : byte
    {
        /// <summary>Not emitted inline (a handler call: may read or write anything).</summary>
        Call,
        /// <summary>Inline, flags untouched (MOV, LEA, NOP).</summary>
        None,
        /// <summary>Inline, writes op/size/dst/src/result, not aux (ADD, SUB, CMP, AND, OR, XOR, TEST).</summary>
        Full,
        /// <summary>Inline, reads CF and writes the whole record including aux (INC, DEC).</summary>
        FullAux,
    }

    private static TierFlags TierKind(ref DecodedInstruction d)
    {
        switch (d.Op)
        {
            case Op.MovRR64: case Op.MovRR32: case Op.MovRI64: case Op.MovRI32: case Op.Nop:
                return TierFlags.None;
            case Op.LeaR64:
                return d.Base == DecodedInstruction.RipBase || d.AddrSize != 8 ? TierFlags.Call : TierFlags.None;
            case Op.IncR64: case Op.IncR32: case Op.DecR64: case Op.DecR32:
                return TierFlags.FullAux;
            case Op.AddRR64: case Op.AddRR32: case Op.AddRI64: case Op.AddRI32:
            case Op.SubRR64: case Op.SubRR32: case Op.SubRI64: case Op.SubRI32:
            case Op.CmpRR64: case Op.CmpRR32: case Op.CmpRI64: case Op.CmpRI32:
            case Op.AndRR64: case Op.AndRR32: case Op.AndRI64: case Op.AndRI32:
            case Op.OrRR64: case Op.OrRR32: case Op.OrRI64: case Op.OrRI32:
            case Op.XorRR64: case Op.XorRR32: case Op.XorRI64: case Op.XorRI32:
            case Op.TestRR64: case Op.TestRR32: case Op.TestRI64: case Op.TestRI32:
                return TierFlags.Full;
            default:
                return TierFlags.Call;
        }
    }

    /// <summary>
    /// Compiles the sequential run that starts at <paramref name="head"/> (its <see cref="DecodedInstruction.RunLength"/>
    /// instructions). The compiled code keeps the interpreter's state at every point anything can observe it:
    /// before each call into a handler, RIP, next RIP, cycles and retired count are committed exactly as the quiet
    /// loop has them; a handler that raises <c>_signal</c> returns at once with its instruction uncommitted (the loop's
    /// <c>signalled</c> handling does the rest); register-only fast forms run inline. Their flag records are stored
    /// unless the next instruction that touches flags is another inline producer that overwrites them with nothing
    /// (no handler call, no exit) in between; INC/DEC take CF from the previous inline producer's values when there is one.
    /// </summary>
    private TierRun TierCompile(ref DecodedInstruction head)
    {
        int n = head.RunLength;
        var dm = new DynamicMethod("vtx_run", typeof(int), TierParams, typeof(Cpu), skipVisibility: true);
        ILGenerator il = dm.GetILGenerator(64 + n * 96);
        LocalBuilder g = il.DeclareLocal(typeof(ulong).MakeByRefType());
        // g = ref _gpr[0]: registers are read and written in place (a handler called later sees them).
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldfld, TfGpr);
        il.Emit(OpCodes.Call, TmArrayData);
        il.Emit(OpCodes.Stloc, g);
        // A run that ends in a relative JMP/Jcc may branch back to its own head: the quiet loop would then chain
        // to this same run (same RIP, same fetch page, nothing decoded meanwhile). headRip = _rip at entry.
        bool selfLoop = Unsafe.Add(ref head, n - 1).Op is Op.Jcc or Op.Jmp;
        LocalBuilder headRip = il.DeclareLocal(typeof(ulong));
        Label top = il.DefineLabel();
        if (selfLoop)
        {
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, TfRip);
            il.Emit(OpCodes.Stloc, headRip);
        }
        il.MarkLabel(top);

        // Compile-time bookkeeping: _rip holds the RIP of instruction `anchor`; instructions from `committed`
        // on have not been added to _cycles/_retired yet (their sums are constants).
        int anchor = 0, committed = 0;
        int[] offset = new int[n + 1];
        ulong[] cost = new ulong[n + 1];
        var kind = new TierFlags[n];
        for (int k = 0; k < n; k++)
        {
            ref DecodedInstruction dk = ref Unsafe.Add(ref head, k);
            offset[k + 1] = offset[k] + dk.Length;
            cost[k + 1] = cost[k] + dk.Cost;
            kind[k] = TierKind(ref dk);
        }
        // recordDead[k]: instruction k's op/size/dst/src/result fields are overwritten before anything can read them.
        var recordDead = new bool[n];
        for (int k = 0; k < n; k++)
        {
            if (kind[k] is not (TierFlags.Full or TierFlags.FullAux)) continue;
            for (int j = k + 1; j < n && kind[j] != TierFlags.Call; j++)
                if (kind[j] != TierFlags.None) { recordDead[k] = true; break; }
        }
        // The nearest inline flag producer since the last handler call (its values are in locals), or none.
        TierProducer last = default;

        for (int k = 0; k < n; k++)
        {
            ref DecodedInstruction d = ref Unsafe.Add(ref head, k);
            if (kind[k] != TierFlags.Call)
            {
                // An INC/DEC after an INC/DEC whose record is dead still needs that one's aux only through `last`.
                bool auxDead = recordDead[k] && NextProducerWritesAux(kind, k);
                last = TierEmitInline(il, ref d, g, last, recordDead[k], auxDead);
                continue;
            }
            last = default;

            // A call into the interpreter: state exactly as the quiet loop has it before Execute.
            EmitCommit(il, cost[k] - cost[committed], k - committed);
            committed = k;
            if (anchor != k) EmitAdvanceRip(il, TfRip, offset[k] - offset[anchor]);
            anchor = k;
            // _nextRip = (_rip + Length) & _ipMask
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, TfRip);
            il.Emit(OpCodes.Ldc_I8, (long)d.Length);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, TfIpMask);
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Stfld, TfNextRip);
            // handler(ref head[k])
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldarg_2);
            if (k != 0) { il.Emit(OpCodes.Ldc_I4, k * InsnSize); il.Emit(OpCodes.Add); }
            if (d.Op == Op.Jcc)
            {
                il.Emit(OpCodes.Ldc_I4, (int)d.Cond);
                il.Emit(OpCodes.Call, TmTierJcc);
            }
            else
            {
                MethodInfo m = TierDirectHandler(d.Op)?.Method ?? TmTierExecute;
                il.Emit(OpCodes.Call, m);
            }
            // if (_signal != 0) return k;  (instruction k uncommitted, as the quiet loop leaves it)
            Label go = il.DefineLabel();
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, TfSignal);
            il.Emit(OpCodes.Brfalse, go);
            il.Emit(OpCodes.Ldc_I4, k);
            il.Emit(OpCodes.Ret);
            il.MarkLabel(go);
            // _rip = _nextRip
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, TfNextRip);
            il.Emit(OpCodes.Stfld, TfRip);
            anchor = k + 1;
        }

        // The run's end: commit the rest; RIP (and next RIP, as the loop leaves it) after the last instruction.
        EmitCommit(il, cost[n] - cost[committed], n - committed);
        if (anchor != n)
        {
            EmitAdvanceRip(il, TfRip, offset[n] - offset[anchor]);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, TfRip);
            il.Emit(OpCodes.Stfld, TfNextRip);
        }
        if (selfLoop) EmitSelfChain(il, headRip, top, n, cost[n], offset[n]);
        il.Emit(OpCodes.Ldc_I4, n - 1);
        il.Emit(OpCodes.Ret);
        return (TierRun)dm.CreateDelegate(typeof(TierRun), null);
    }

    /// <summary>
    /// The quiet loop's chaining test for a run that ended by branching to its own head, made in the compiled code
    /// (goto top) with the quiet loop's outcome: it would chain (nothing pending at the quiet loop's entry, the branch
    /// chains, limits not reached, no host stop, not at the stop address), fetch this same head, and enter it because
    /// it fits (retired + RunLength &lt;= limit, cycles + RunCycles &lt;= cycle limit, stopAt - RIP &gt;= RunBytes).
    /// Otherwise it returns, and the loop makes the same tests itself.
    /// </summary>
    private static void EmitSelfChain(ILGenerator il, LocalBuilder headRip, Label top, int n, ulong runCycles, int runBytes)
    {
        Label exit = il.DefineLabel();
        // _rip == headRip (the branch went back to the head)
        il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldfld, TfRip); il.Emit(OpCodes.Ldloc, headRip); il.Emit(OpCodes.Bne_Un, exit);
        // _tierChain (nothing pending)
        il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldfld, TfTierChain); il.Emit(OpCodes.Brfalse, exit);
        // _retired + n <= _insnBoundary (implies _retired < _insnBoundary); no overflow: _retired counts instructions
        il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldfld, TfRetired); il.Emit(OpCodes.Ldc_I8, (long)n); il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldfld, TfInsnBoundary); il.Emit(OpCodes.Bgt_Un, exit);
        // _cycles + RunCycles <= _cycleBoundary (the run's cycle end)
        il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldfld, TfCycles); il.Emit(OpCodes.Ldc_I8, (long)runCycles); il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldfld, TfCycleBoundary); il.Emit(OpCodes.Bgt_Un, exit);
        if (runCycles == 0)
        {
            // _cycles < _cycleBoundary, which the test above implies only for a run that costs something
            il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldfld, TfCycles);
            il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldfld, TfCycleBoundary); il.Emit(OpCodes.Bge_Un, exit);
        }
        // no host stop (volatile read, as the loop's)
        il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Volatile); il.Emit(OpCodes.Ldfld, TfHostStop); il.Emit(OpCodes.Brtrue, exit);
        // stopAt - _rip >= RunBytes (also excludes _rip == stopAt)
        il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldfld, TfTierStopAt); il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldfld, TfRip); il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Ldc_I8, (long)runBytes); il.Emit(OpCodes.Blt_Un, exit);
        il.Emit(OpCodes.Br, top);
        il.MarkLabel(exit);
    }

    /// <summary>True when the producer that overwrites instruction k's record (the next one) also writes the aux field.</summary>
    private static bool NextProducerWritesAux(TierFlags[] kind, int k)
    {
        for (int j = k + 1; j < kind.Length; j++)
            if (kind[j] is TierFlags.Full or TierFlags.FullAux) return kind[j] == TierFlags.FullAux;
        return false;
    }

    /// <summary>An inline flag producer's values, held in IL locals: enough to compute CF as GetCF would from its record.</summary>
    private readonly record struct TierProducer(FlagOp Op, int Size, LocalBuilder? A, LocalBuilder? B, LocalBuilder? R, LocalBuilder? Aux);

    private static readonly MethodInfo TmTierExecute = typeof(Cpu).GetMethod(nameof(TierExecute), TierMember)!;
    private static readonly MethodInfo TmTierJcc = typeof(Cpu).GetMethod(nameof(TierJcc), TierMember)!;

    /// <summary>_cycles += cycles; _retired += count.</summary>
    private static void EmitCommit(ILGenerator il, ulong cycles, int count)
    {
        if (count == 0) return;
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldfld, TfCycles);
        il.Emit(OpCodes.Ldc_I8, (long)cycles);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stfld, TfCycles);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldfld, TfRetired);
        il.Emit(OpCodes.Ldc_I8, (long)count);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stfld, TfRetired);
    }

    /// <summary>field = (_rip + bytes) &amp; _ipMask: the masks are 2^k - 1, so one masked sum equals the loop's masked steps.</summary>
    private static void EmitAdvanceRip(ILGenerator il, FieldInfo field, int bytes)
    {
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldfld, TfRip);
        il.Emit(OpCodes.Ldc_I8, (long)bytes);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldfld, TfIpMask);
        il.Emit(OpCodes.And);
        il.Emit(OpCodes.Stfld, field);
    }

    private static void EmitRegAddr(ILGenerator il, LocalBuilder g, int reg)
    {
        il.Emit(OpCodes.Ldloc, g);
        if (reg != 0) { il.Emit(OpCodes.Ldc_I4, reg * 8); il.Emit(OpCodes.Add); }
    }

    /// <summary>Pushes register <paramref name="reg"/> (zero-extended from 32 bits when <paramref name="size"/> is 4).</summary>
    private static void EmitLoadReg(ILGenerator il, LocalBuilder g, int reg, int size)
    {
        EmitRegAddr(il, g, reg);
        il.Emit(OpCodes.Ldind_I8);
        if (size == 4) { il.Emit(OpCodes.Conv_U4); il.Emit(OpCodes.Conv_U8); }
    }

    /// <summary>Stores local <paramref name="v"/> into register <paramref name="reg"/> (truncated to 32 bits, zero-extended, when <paramref name="size"/> is 4).</summary>
    private static void EmitStoreReg(ILGenerator il, LocalBuilder g, int reg, int size, LocalBuilder v)
    {
        EmitRegAddr(il, g, reg);
        il.Emit(OpCodes.Ldloc, v);
        if (size == 4) { il.Emit(OpCodes.Conv_U4); il.Emit(OpCodes.Conv_U8); }
        il.Emit(OpCodes.Stind_I8);
    }

    /// <summary>Pushes a local truncated to the operand size (the <c>&amp; Sz.Mask(size)</c> of GetCF).</summary>
    private static void EmitMasked(ILGenerator il, LocalBuilder v, int size)
    {
        il.Emit(OpCodes.Ldloc, v);
        if (size == 4) { il.Emit(OpCodes.Conv_U4); il.Emit(OpCodes.Conv_U8); }
    }

    /// <summary>Pushes CF (0 or 1, as a ulong) as GetCF() computes it: from the previous inline producer's locals when known, else by calling GetCF.</summary>
    private static void EmitCarry(ILGenerator il, TierProducer p)
    {
        switch (p.Op)
        {
            case FlagOp.Add: // (res & m) < (dst & m)
                EmitMasked(il, p.R!, p.Size); EmitMasked(il, p.A!, p.Size); il.Emit(OpCodes.Clt_Un); il.Emit(OpCodes.Conv_U8); return;
            case FlagOp.Sub: // (dst & m) < (src & m)
                EmitMasked(il, p.A!, p.Size); EmitMasked(il, p.B!, p.Size); il.Emit(OpCodes.Clt_Un); il.Emit(OpCodes.Conv_U8); return;
            case FlagOp.Logic:
                il.Emit(OpCodes.Ldc_I4_0); il.Emit(OpCodes.Conv_U8); return;
            case FlagOp.Inc: case FlagOp.Dec: // _faux != 0 (the aux of INC/DEC is 0 or 1)
                il.Emit(OpCodes.Ldloc, p.Aux!); return;
            default:
                il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Call, TmGetCF); il.Emit(OpCodes.Conv_U8); return;
        }
    }

    /// <summary>
    /// Emits a register-only fast form inline (the semantics of its handler in Cpu.FastForms.cs / Cpu.Dispatch.cs, operands
    /// folded to constants). None of these can fault or raise a signal. Returns the producer it is (default when it writes no flags).
    /// </summary>
    private static TierProducer TierEmitInline(ILGenerator il, ref DecodedInstruction d, LocalBuilder g, TierProducer last, bool recordDead, bool auxDead)
    {
        OpCode alu;
        FlagOp fop;
        bool store = true;
        switch (d.Op)
        {
            case Op.Nop:
                return last;
            case Op.MovRR64: case Op.MovRR32:
                EmitRegAddr(il, g, d.Reg & 15);
                EmitLoadReg(il, g, d.Reg2 & 15, d.Op == Op.MovRR64 ? 8 : 4);
                il.Emit(OpCodes.Stind_I8);
                return last;
            case Op.MovRI64: case Op.MovRI32:
                EmitRegAddr(il, g, d.Reg & 15);
                il.Emit(OpCodes.Ldc_I8, (long)(d.Op == Op.MovRI64 ? d.Imm : (uint)d.Imm));
                il.Emit(OpCodes.Stind_I8);
                return last;
            case Op.LeaR64:
                EmitRegAddr(il, g, d.Reg & 15);
                il.Emit(OpCodes.Ldc_I8, d.Disp);
                if (d.Base != DecodedInstruction.NoReg) { EmitLoadReg(il, g, d.Base & 15, 8); il.Emit(OpCodes.Add); }
                if (d.Index != DecodedInstruction.NoReg)
                {
                    EmitLoadReg(il, g, d.Index & 15, 8);
                    if (d.Scale != 0) { il.Emit(OpCodes.Ldc_I4, (int)d.Scale); il.Emit(OpCodes.Shl); }
                    il.Emit(OpCodes.Add);
                }
                il.Emit(OpCodes.Stind_I8);
                return last;
            case Op.IncR64: case Op.IncR32: case Op.DecR64: case Op.DecR32:
            {
                int size = d.Op is Op.IncR64 or Op.DecR64 ? 8 : 4;
                bool dec = d.Op is Op.DecR64 or Op.DecR32;
                LocalBuilder a = il.DeclareLocal(typeof(ulong)), r = il.DeclareLocal(typeof(ulong)), cf = il.DeclareLocal(typeof(ulong));
                EmitCarry(il, last); // CF before (kept by INC/DEC)
                il.Emit(OpCodes.Stloc, cf);
                EmitLoadReg(il, g, d.Reg & 15, size);
                il.Emit(OpCodes.Stloc, a);
                il.Emit(OpCodes.Ldloc, a);
                il.Emit(OpCodes.Ldc_I8, 1L);
                il.Emit(dec ? OpCodes.Sub : OpCodes.Add);
                il.Emit(OpCodes.Stloc, r);
                EmitStoreReg(il, g, d.Reg & 15, size, r);
                FlagOp op = dec ? FlagOp.Dec : FlagOp.Inc;
                if (!recordDead)
                {
                    il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldc_I4, (int)op); il.Emit(OpCodes.Stfld, TfFop);
                    il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldc_I4, size); il.Emit(OpCodes.Stfld, TfFsize);
                    il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldloc, a); il.Emit(OpCodes.Stfld, TfFdst);
                    il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldc_I8, 1L); il.Emit(OpCodes.Stfld, TfFsrc);
                    il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldloc, r); il.Emit(OpCodes.Stfld, TfFres);
                }
                if (!auxDead) { il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldloc, cf); il.Emit(OpCodes.Stfld, TfFaux); }
                return new TierProducer(op, size, a, null, r, cf);
            }
        }
        switch (d.Op)
        {
            case Op.AddRR64: case Op.AddRR32: case Op.AddRI64: case Op.AddRI32: alu = OpCodes.Add; fop = FlagOp.Add; break;
            case Op.SubRR64: case Op.SubRR32: case Op.SubRI64: case Op.SubRI32: alu = OpCodes.Sub; fop = FlagOp.Sub; break;
            case Op.CmpRR64: case Op.CmpRR32: case Op.CmpRI64: case Op.CmpRI32: alu = OpCodes.Sub; fop = FlagOp.Sub; store = false; break;
            case Op.AndRR64: case Op.AndRR32: case Op.AndRI64: case Op.AndRI32: alu = OpCodes.And; fop = FlagOp.Logic; break;
            case Op.OrRR64: case Op.OrRR32: case Op.OrRI64: case Op.OrRI32: alu = OpCodes.Or; fop = FlagOp.Logic; break;
            case Op.XorRR64: case Op.XorRR32: case Op.XorRI64: case Op.XorRI32: alu = OpCodes.Xor; fop = FlagOp.Logic; break;
            case Op.TestRR64: case Op.TestRR32: case Op.TestRI64: case Op.TestRI32: alu = OpCodes.And; fop = FlagOp.Logic; store = false; break;
            default: throw new InvalidOperationException("not an inline form: " + d.Op); // TierKind and this switch list the same ops
        }
        string name = d.Op.ToString();
        int sz = name.EndsWith("64", StringComparison.Ordinal) ? 8 : 4;
        bool imm = name.Contains("RI", StringComparison.Ordinal);
        LocalBuilder la = il.DeclareLocal(typeof(ulong)), lb = il.DeclareLocal(typeof(ulong)), lr = il.DeclareLocal(typeof(ulong));
        // a = dst, b = src, r = a op b (untruncated, as the handlers record it); dst = r; flags record.
        EmitLoadReg(il, g, d.Reg & 15, sz);
        il.Emit(OpCodes.Stloc, la);
        if (imm) il.Emit(OpCodes.Ldc_I8, (long)(sz == 8 ? d.Imm : (uint)d.Imm));
        else EmitLoadReg(il, g, d.Reg2 & 15, sz);
        il.Emit(OpCodes.Stloc, lb);
        il.Emit(OpCodes.Ldloc, la);
        il.Emit(OpCodes.Ldloc, lb);
        il.Emit(alu);
        il.Emit(OpCodes.Stloc, lr);
        if (store) EmitStoreReg(il, g, d.Reg & 15, sz, lr);
        if (!recordDead)
        {
            il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldc_I4, (int)fop); il.Emit(OpCodes.Stfld, TfFop);
            il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldc_I4, sz); il.Emit(OpCodes.Stfld, TfFsize);
            il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldloc, la); il.Emit(OpCodes.Stfld, TfFdst);
            il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldloc, lb); il.Emit(OpCodes.Stfld, TfFsrc);
            il.Emit(OpCodes.Ldarg_1); il.Emit(OpCodes.Ldloc, lr); il.Emit(OpCodes.Stfld, TfFres);
        }
        return new TierProducer(fop, sz, la, lb, lr, null);
    }
}

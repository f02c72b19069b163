using System.Runtime.CompilerServices;

namespace Vtx.Tests.Native;

/// <summary>
/// Runs x86-64 machine code on the host CPU (Linux x86-64 only) at fixed low addresses, so that the same
/// guest addresses can be used in the emulator, whose RAM is a flat physical range starting at 0.
/// </summary>
/// <remarks>
/// <para><b>Layout</b> (all inside the first 16 MiB; every region is mapped once per process with
/// MAP_FIXED_NOREPLACE and kept until exit):</para>
/// <list type="bullet">
/// <item><description><see cref="CodeAddress"/> (64 KiB, RWX): the instruction under test, followed by a fall-through landing pad;
/// <see cref="ShortBranchTarget"/> and <see cref="BranchTarget"/> landing pads; entry/exit stubs at
/// <see cref="EntryStubAddress"/>/<see cref="ExitStubAddress"/>. A <see cref="PreparedCode"/> routine uses the whole region.</description></item>
/// <item><description><see cref="ScratchAddress"/> (<see cref="ScratchSize"/> bytes, RW): data the instruction may read/write.</description></item>
/// <item><description>[<see cref="StackBase"/>, <see cref="StackTop"/>) (64 KiB, RW) plus <see cref="StackSlackAbove"/> bytes above the top.</description></item>
/// <item><description><see cref="StateAddress"/> (4 KiB, RW): register block used by the stubs. Not for the instruction under test.</description></item>
/// </list>
/// <para><b>Caller contract.</b> The instruction runs for real, in user mode, inside the test process. It must not fault
/// (#DE, #GP, #UD, #PF, #AC, #BR, privileged/IOPL-sensitive instructions such as HLT, CLI, IN/OUT, INT n, SYSCALL),
/// must only touch memory in the scratch and stack regions (or read the code region), must not write segment
/// registers or FS/GS base, must not set TF, and must end by falling through or by transferring control to
/// <see cref="BranchTarget"/> or <see cref="ShortBranchTarget"/>. Anything else kills the process (SIGSEGV/SIGTRAP/SIGFPE/SIGILL),
/// it cannot be caught. Choose inputs accordingly (e.g. non-zero, non-overflowing divisors).</para>
/// <para><b>Flags.</b> Only CF, PF, AF, ZF, SF, OF and DF are taken from the input RFLAGS
/// (<see cref="NativeRflags.InputMask"/>). TF is always clear. AC (bit 18) is always clear on entry because Linux sets
/// CR0.AM, so AC=1 at CPL 3 would turn misaligned accesses into #AC (SIGBUS). The output RFLAGS is the raw PUSHFQ value
/// (IF=1, bit 1 = 1); undefined flags show what this host's silicon (AMD or Intel) happens to produce.
/// After the instruction the exit stub restores the host's callee-saved GPRs, MXCSR and x87 control word, empties
/// the x87/MMX stack (FNINIT), and clears DF/AC/TF before returning to .NET.</para>
/// <para><b>x87/SSE state.</b> Before the instruction the entry stub loads <see cref="CpuSnapshot.Fx"/> (or the FNINIT state
/// with MXCSR 1F80h) with FXRSTOR64: XMM0-15, MXCSR, FCW/FSW/FTW, FOP/FIP/FDP and ST0-7; the exit stub stores the state
/// with FXSAVE64 before anything else touches it. XMM registers are caller-saved in the System V ABI, so clobbering them
/// is allowed; the upper halves of YMM/ZMM are neither loaded nor reported. Inputs that unmask an x87 or SIMD exception
/// (or carry FSW.ES = 1) are refused with <see cref="ArgumentException"/>: a native #MF/#XM would be SIGFPE.</para>
/// <para><b>Threads.</b> All instances share the fixed regions; every call takes one process-wide lock, so concurrent
/// use (e.g. parallel xunit classes) is serialised, not corrupted. Async signals are blocked on the calling thread while
/// the instruction runs, since RSP may then point anywhere.</para>
/// </remarks>
public sealed unsafe class NativeExecutor : IDisposable
{
    // ---- Layout -------------------------------------------------------------------------------------------------

    /// <summary>Address of the instruction under test (and of <see cref="PreparedCode"/> routines).</summary>
    public const ulong CodeAddress = 0x0010_0000;

    /// <summary>Size of the RWX code region at <see cref="CodeAddress"/>.</summary>
    public const ulong CodeSize = 0x1_0000;

    /// <summary>Longest instruction accepted by <see cref="Run(ReadOnlySpan{byte}, in CpuSnapshot, Span{byte}, Span{byte})"/>.</summary>
    public const int MaxInstructionLength = 15;

    /// <summary>
    /// Landing pad reachable with rel8 from any instruction at <see cref="CodeAddress"/> (for LOOP/LOOPcc/JRCXZ/JECXZ
    /// and short Jcc/JMP): <c>CodeAddress + 0x40</c>. Reaching it records <c>ExitRip = ShortBranchTarget</c>.
    /// </summary>
    public const ulong ShortBranchTarget = CodeAddress + 0x40;

    /// <summary>
    /// Landing pad for near branches (Jcc/JMP/CALL rel32, indirect JMP/CALL, or a RET popping this value).
    /// Reaching it records <c>ExitRip = BranchTarget</c>.
    /// </summary>
    public const ulong BranchTarget = 0x0010_8000;

    /// <summary>Reserved: the entry stub (saves host state, loads the input state, jumps to <see cref="CodeAddress"/>).</summary>
    public const ulong EntryStubAddress = 0x0010_F000;

    /// <summary>Reserved: the common exit stub the landing pads jump to.</summary>
    public const ulong ExitStubAddress = 0x0010_F800;

    /// <summary>Data memory the instruction under test may read and write.</summary>
    public const ulong ScratchAddress = 0x0020_0000;

    /// <summary>Size of the scratch region in bytes (64 KiB).</summary>
    public const ulong ScratchSize = 0x1_0000;

    /// <summary>Initial RSP for stack tests; the stack region lies just below it.</summary>
    public const ulong StackTop = 0x0030_0000;

    /// <summary>Size of the stack region [<see cref="StackBase"/>, <see cref="StackTop"/>) (64 KiB).</summary>
    public const ulong StackSize = 0x1_0000;

    /// <summary>Lowest address of the stack region.</summary>
    public const ulong StackBase = StackTop - StackSize;

    /// <summary>
    /// Bytes mapped (and zeroed before every run) above <see cref="StackTop"/>, so a POP/RET/LEAVE with RSP at the top
    /// reads zeros instead of crashing. Not exchanged with the caller.
    /// </summary>
    public const ulong StackSlackAbove = 0x1000;

    /// <summary>
    /// Reserved: the state block the stubs use (input/output registers, saved host registers).
    /// Deliberately not 0x400000, the classic load address of non-PIE executables.
    /// </summary>
    public const ulong StateAddress = 0x0038_0000;

    /// <summary>Size of the state block (4 KiB).</summary>
    public const ulong StateSize = 0x1000;

    /// <summary>
    /// Reserved: the SIGILL handler installed while <see cref="Run(ReadOnlySpan{byte}, in CpuSnapshot, Span{byte}, Span{byte}, bool)"/>
    /// catches invalid opcodes (see <see cref="InvalidOpcodeExitRip"/>).
    /// </summary>
    public const ulong SigillHandlerAddress = 0x0010_E000;

    /// <summary>Reserved: where the SIGILL handler resumes a #UD at <see cref="CodeAddress"/> (records the marker, then exits).</summary>
    public const ulong InvalidOpcodePadAddress = 0x0010_E100;

    /// <summary>
    /// <see cref="CpuSnapshot.ExitRip"/> when the instruction under test raised #UD natively (SIGILL at <see cref="CodeAddress"/>)
    /// and the run caught it; the GPRs and flags are then the state at the fault (nothing was committed).
    /// </summary>
    public const ulong InvalidOpcodeExitRip = 0x0E0E_0E0E;

    // ---- State block layout (offsets from StateAddress) ----------------------------------------------------------

    private const ulong InGpr = StateAddress + 0x000;
    private const ulong InRflags = StateAddress + 0x080;
    private const ulong OutGpr = StateAddress + 0x100;
    private const ulong OutRflags = StateAddress + 0x180;
    private const ulong OutExitRip = StateAddress + 0x188;
    private const ulong HostRsp = StateAddress + 0x200;
    private const ulong HostCalleeSaved = StateAddress + 0x208; // rbx, rbp, r12, r13, r14, r15
    private const ulong HostMxcsr = StateAddress + 0x240;
    private const ulong HostFcw = StateAddress + 0x248;
    private const ulong OldSigillHandler = StateAddress + 0x260; // the disposition replaced while catching #UD
    private const ulong InFx = StateAddress + 0x400;   // 512 bytes, 16-byte aligned (FXRSTOR64 source)
    private const ulong OutFx = StateAddress + 0x600;  // 512 bytes, 16-byte aligned (FXSAVE64 destination)

    private static readonly int[] s_calleeSaved = [3, 5, 12, 13, 14, 15];

    /// <summary>Marker for <see cref="OracleMemory.CodeOwner"/> when the code region holds the single-instruction stubs.</summary>
    private static readonly object s_stubOwner = new();

    private bool _disposed;

    private static readonly FxState s_defaultFx = new();

    private static uint s_hostMxcsrMask;

    /// <summary>
    /// The host's MXCSR_MASK (bits LDMXCSR/FXRSTOR accept), read once with FXSAVE; 0000FFBFh when FXSAVE stores 0
    /// (SDM Vol. 1, 11.6.6, "Guidelines for Writing to the MXCSR Register").
    /// </summary>
    public static uint HostMxcsrMask
    {
        get
        {
            if (s_hostMxcsrMask != 0) return s_hostMxcsrMask;
            using var probe = new NativeExecutor();
            uint m = probe.Run([0x90], CpuSnapshot.CreateDefault()).Fx!.MxcsrMask;
            s_hostMxcsrMask = m == 0 ? 0xFFBF : m;
            return s_hostMxcsrMask;
        }
    }

    /// <summary>True when this process can run native code at the fixed addresses (Linux, x86-64, mappings succeeded).</summary>
    public static bool IsSupported => OracleMemory.IsAvailable;

    /// <summary>
    /// The process-wide lock every call takes (re-entrant). Hold it to make a sequence of calls atomic, e.g.
    /// <see cref="WriteScratch"/> + <see cref="PreparedCode.Invoke(ulong, ulong)"/> + <see cref="ReadScratch"/>.
    /// </summary>
    public static object SyncRoot => OracleMemory.Gate;

    /// <summary>Why <see cref="IsSupported"/> is false; empty when supported.</summary>
    public static string UnsupportedReason => OracleMemory.FailureReason;

    /// <summary>Creates an executor. Throws <see cref="PlatformNotSupportedException"/> when <see cref="IsSupported"/> is false.</summary>
    public NativeExecutor()
    {
        if (!IsSupported)
            throw new PlatformNotSupportedException("native oracle unavailable: " + UnsupportedReason);
    }

    // ---- Single instruction --------------------------------------------------------------------------------------

    /// <summary>
    /// Runs one instruction with scratch and stack memory zeroed. See
    /// <see cref="Run(ReadOnlySpan{byte}, in CpuSnapshot, Span{byte}, Span{byte})"/>.
    /// </summary>
    public CpuSnapshot Run(ReadOnlySpan<byte> instruction, in CpuSnapshot input) =>
        Run(instruction, input, Span<byte>.Empty, Span<byte>.Empty);

    /// <summary>
    /// Runs one instruction with the given scratch memory and a zeroed stack. See
    /// <see cref="Run(ReadOnlySpan{byte}, in CpuSnapshot, Span{byte}, Span{byte})"/>.
    /// </summary>
    public CpuSnapshot Run(ReadOnlySpan<byte> instruction, in CpuSnapshot input, Span<byte> scratch) =>
        Run(instruction, input, scratch, Span<byte>.Empty);

    /// <summary>
    /// Places <paramref name="instruction"/> (1..15 bytes) at <see cref="CodeAddress"/>, loads all 16 GPRs (including RSP)
    /// and the status flags + DF from <paramref name="input"/>, executes it natively and returns the resulting GPRs,
    /// raw RFLAGS and <see cref="CpuSnapshot.ExitRip"/>.
    /// </summary>
    /// <param name="instruction">Encoded instruction; must obey the caller contract in the class remarks.</param>
    /// <param name="input">Input registers (not modified). <see cref="CpuSnapshot.ExitRip"/> is ignored.</param>
    /// <param name="scratch">
    /// In/out image of memory starting at <see cref="ScratchAddress"/> (at most <see cref="ScratchSize"/> bytes);
    /// the rest of the scratch region is zeroed before the run. Updated with the memory after the run.
    /// </param>
    /// <param name="stack">
    /// In/out image of the top of the stack: the <c>stack.Length</c> bytes ending at <see cref="StackTop"/>
    /// (at most <see cref="StackSize"/>); the rest of the stack region is zeroed. Updated after the run.
    /// </param>
    public CpuSnapshot Run(ReadOnlySpan<byte> instruction, in CpuSnapshot input, Span<byte> scratch, Span<byte> stack) =>
        Run(instruction, input, scratch, stack, catchInvalidOpcode: false);

    /// <summary>
    /// As <see cref="Run(ReadOnlySpan{byte}, in CpuSnapshot, Span{byte}, Span{byte})"/>; with
    /// <paramref name="catchInvalidOpcode"/>, a #UD raised by the instruction under test does not kill the process:
    /// a SIGILL handler (installed for this call only, chaining to the previous disposition for any other SIGILL)
    /// resumes at a pad that reports <see cref="CpuSnapshot.ExitRip"/> = <see cref="InvalidOpcodeExitRip"/>.
    /// The kernel builds the signal frame below the instruction's RSP, so the input RSP must point into the stack
    /// region (the stack image below it is then clobbered); other faults still kill the process.
    /// </summary>
    public CpuSnapshot Run(ReadOnlySpan<byte> instruction, in CpuSnapshot input, Span<byte> scratch, Span<byte> stack, bool catchInvalidOpcode)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (instruction.Length is 0 or > MaxInstructionLength)
            throw new ArgumentException($"instruction must be 1..{MaxInstructionLength} bytes, got {instruction.Length}", nameof(instruction));
        if ((ulong)scratch.Length > ScratchSize)
            throw new ArgumentException($"scratch is {scratch.Length} bytes; at most {ScratchSize}", nameof(scratch));
        if ((ulong)stack.Length > StackSize)
            throw new ArgumentException($"stack is {stack.Length} bytes; at most {StackSize}", nameof(stack));

        FxState fxIn = input.Fx ?? s_defaultFx;
        if (input.Fx is not null && fxIn.UnsafeReason(HostMxcsrMask) is string unsafeReason)
            throw new ArgumentException("the oracle cannot load this x87/SSE state: " + unsafeReason, nameof(input));

        var output = new CpuSnapshot();
        lock (OracleMemory.Gate)
        {
            EnsureStubs();
            WriteInstruction(instruction);

            // x87/SSE image (validated: an unmasked exception natively is a SIGFPE that kills the process).
            fxIn.Image.CopyTo(new Span<byte>((void*)InFx, FxState.Size));
            new Span<byte>((void*)OutFx, FxState.Size).Clear();

            // Registers and flags.
            ulong[]? gpr = input.Gpr;
            for (int i = 0; i < CpuSnapshot.GprCount; i++)
                ((ulong*)InGpr)[i] = gpr is null ? 0 : gpr[i];
            *(ulong*)InRflags = (input.Rflags & NativeRflags.InputMask) | NativeRflags.Reserved1;
            new Span<ulong>((void*)OutGpr, CpuSnapshot.GprCount).Clear();
            *(ulong*)OutRflags = 0;
            *(ulong*)OutExitRip = 0;

            // Memory images.
            Span<byte> nativeScratch = OracleMemory.Scratch.AsSpan();
            scratch.CopyTo(nativeScratch);
            nativeScratch[scratch.Length..].Clear();

            Span<byte> nativeStack = OracleMemory.Stack.AsSpan(); // [StackBase, StackTop + slack)
            int topOffset = (int)StackSize;
            nativeStack.Clear();
            stack.CopyTo(nativeStack[(topOffset - stack.Length)..topOffset]);

            if (catchInvalidOpcode) CallCatchingInvalidOpcode((delegate* unmanaged<void>)EntryStubAddress);
            else CallWithSignalsBlocked((delegate* unmanaged<void>)EntryStubAddress);

            for (int i = 0; i < CpuSnapshot.GprCount; i++)
                output.Gpr[i] = ((ulong*)OutGpr)[i];
            output.Rflags = *(ulong*)OutRflags;
            output.ExitRip = *(ulong*)OutExitRip;
            output.Fx = new FxState(new ReadOnlySpan<byte>((void*)OutFx, FxState.Size));

            nativeScratch[..scratch.Length].CopyTo(scratch);
            nativeStack[(topOffset - stack.Length)..topOffset].CopyTo(stack);
        }
        return output;
    }

    /// <summary>
    /// Calls the entry stub with every blockable signal blocked on this thread: while the instruction runs RSP holds
    /// the caller's value, so a signal frame pushed there could land anywhere.
    /// </summary>
    private static void CallWithSignalsBlocked(delegate* unmanaged<void> entry)
    {
        byte* all = stackalloc byte[LibC.SigSetSize];
        byte* old = stackalloc byte[LibC.SigSetSize];
        new Span<byte>(all, LibC.SigSetSize).Fill(0xFF);
        int rc = LibC.pthread_sigmask(LibC.SigBlock, all, old);
        if (rc != 0)
            throw new InvalidOperationException($"pthread_sigmask(SIG_BLOCK) failed with error {rc}");
        try
        {
            entry();
        }
        finally
        {
            _ = LibC.pthread_sigmask(LibC.SigSetMask, old, null);
        }
    }

    /// <summary>
    /// Calls the entry stub with every signal blocked except SIGILL, which goes to the handler at
    /// <see cref="SigillHandlerAddress"/> for the duration of the call (a synchronous signal that is blocked would kill
    /// the process instead of reaching a handler). The previous disposition is restored afterwards.
    /// </summary>
    private static void CallCatchingInvalidOpcode(delegate* unmanaged<void> entry)
    {
        byte* act = stackalloc byte[LibC.SigActionSize];
        byte* old = stackalloc byte[LibC.SigActionSize];
        new Span<byte>(act, LibC.SigActionSize).Clear();
        new Span<byte>(old, LibC.SigActionSize).Clear();
        *(ulong*)act = SigillHandlerAddress;
        *(int*)(act + LibC.SigActionFlagsOffset) = LibC.SaSigInfo;
        if (LibC.sigaction(LibC.SigIll, act, old) != 0)
            throw new InvalidOperationException("sigaction(SIGILL) failed: " + LibC.LastErrorText());
        *(ulong*)OldSigillHandler = *(ulong*)old;

        byte* all = stackalloc byte[LibC.SigSetSize];
        byte* oldMask = stackalloc byte[LibC.SigSetSize];
        new Span<byte>(all, LibC.SigSetSize).Fill(0xFF);
        all[0] &= unchecked((byte)~(1 << (LibC.SigIll - 1)));
        int rc = LibC.pthread_sigmask(LibC.SigBlock, all, oldMask);
        if (rc != 0)
        {
            _ = LibC.sigaction(LibC.SigIll, old, null);
            throw new InvalidOperationException($"pthread_sigmask(SIG_BLOCK) failed with error {rc}");
        }
        // SIGILL itself must not be blocked by the caller's mask either.
        byte* unblock = stackalloc byte[LibC.SigSetSize];
        new Span<byte>(unblock, LibC.SigSetSize).Clear();
        unblock[0] = 1 << (LibC.SigIll - 1);
        _ = LibC.pthread_sigmask(1 /* SIG_UNBLOCK */, unblock, null);
        try
        {
            entry();
        }
        finally
        {
            _ = LibC.pthread_sigmask(LibC.SigSetMask, oldMask, null);
            _ = LibC.sigaction(LibC.SigIll, old, null);
        }
    }

    /// <summary>
    /// The SIGILL handler <c>(int, siginfo_t*, ucontext_t* rdx)</c>: when the fault is at <see cref="CodeAddress"/> it points
    /// the saved RIP (<c>uc_mcontext.gregs[REG_RIP]</c>, offset A8h) at <see cref="InvalidOpcodePadAddress"/> and returns;
    /// any other SIGILL jumps to the disposition that was replaced (or raises #UD again, which the kernel then delivers
    /// with the default action, when that was SIG_DFL/SIG_IGN).
    /// </summary>
    internal static StubEmitter BuildSigillHandler()
    {
        var e = new StubEmitter(SigillHandlerAddress);
        e.Raw(0x48, 0x8B, 0x82, 0xA8, 0x00, 0x00, 0x00);                 // mov rax, [rdx+0A8h]
        e.Raw(0x48, 0x3D); e.Raw(BitConverter.GetBytes((int)CodeAddress)); // cmp rax, CodeAddress
        e.Raw(0x75, 0x0C);                                                 // jne chain
        e.Raw(0x48, 0xC7, 0x82, 0xA8, 0x00, 0x00, 0x00);                 // mov qword [rdx+0A8h], pad
        e.Raw(BitConverter.GetBytes((int)InvalidOpcodePadAddress));
        e.Raw(0xC3);                                                       // ret (rt_sigreturn via the restorer)
        e.Raw(0x48, 0x8B, 0x04, 0x25); e.Raw(BitConverter.GetBytes((int)OldSigillHandler)); // chain: mov rax, [old]
        e.Raw(0x48, 0x83, 0xF8, 0x01);                                     // cmp rax, 1
        e.Raw(0x76, 0x02);                                                 // jbe die
        e.Raw(0xFF, 0xE0);                                                 // jmp rax
        e.Raw(0x0F, 0x0B);                                                 // die: ud2
        return e;
    }

    /// <summary>Writes the landing pads and entry/exit stubs unless the code region already holds them. Caller holds the gate.</summary>
    private static void EnsureStubs()
    {
        if (ReferenceEquals(OracleMemory.CodeOwner, s_stubOwner))
            return;

        Span<byte> code = OracleMemory.Code.AsSpan();
        code.Fill(0xCC);
        Place(code, LandingPad(ShortBranchTarget));
        Place(code, LandingPad(BranchTarget));
        Place(code, BuildEntryStub());
        Place(code, BuildExitStub());
        Place(code, BuildSigillHandler());
        var ud = new StubEmitter(InvalidOpcodePadAddress, 32);
        ud.StoreImm32(OutExitRip, (int)InvalidOpcodeExitRip);
        ud.JmpRel32(ExitStubAddress);
        Place(code, ud);
        OracleMemory.CodeOwner = s_stubOwner;
    }

    private static void Place(Span<byte> code, StubEmitter stub) =>
        stub.Code.CopyTo(code[(int)(stub.Origin - CodeAddress)..]);

    /// <summary>Copies the instruction to <see cref="CodeAddress"/> followed by the fall-through landing pad. Caller holds the gate.</summary>
    private static void WriteInstruction(ReadOnlySpan<byte> instruction)
    {
        Span<byte> head = OracleMemory.Code.AsSpan()[..(int)(ShortBranchTarget - CodeAddress)];
        head.Fill(0xCC);
        instruction.CopyTo(head);
        var pad = LandingPad(CodeAddress + (ulong)instruction.Length);
        pad.Code.CopyTo(head[instruction.Length..]);
    }

    /// <summary>
    /// A landing pad at <paramref name="address"/>: <c>mov qword [ExitRip], address</c> then <c>jmp ExitStub</c>.
    /// Neither instruction touches flags or GPRs.
    /// </summary>
    internal static StubEmitter LandingPad(ulong address)
    {
        var e = new StubEmitter(address, 32);
        e.StoreImm32(OutExitRip, checked((int)address));
        e.JmpRel32(ExitStubAddress);
        return e;
    }

    /// <summary>
    /// Entry stub, called as <c>void (*)(void)</c>: saves host callee-saved GPRs, MXCSR, x87 CW and RSP; FXRSTOR64s the input
    /// x87/SSE state; loads RFLAGS with
    /// PUSH/POPFQ while still on the host stack; loads all 16 GPRs with MOV (flags untouched); jumps to <see cref="CodeAddress"/>.
    /// </summary>
    internal static StubEmitter BuildEntryStub()
    {
        var e = new StubEmitter(EntryStubAddress);
        for (int i = 0; i < s_calleeSaved.Length; i++)
            e.StoreGpr(s_calleeSaved[i], HostCalleeSaved + (ulong)i * 8);
        e.Stmxcsr(HostMxcsr);
        e.Fnstcw(HostFcw);
        e.StoreGpr(4, HostRsp);
        e.Fxrstor64(InFx);
        e.PushMem(InRflags);
        e.Popfq();
        for (int i = 0; i < CpuSnapshot.GprCount; i++)
            e.LoadGpr(i, InGpr + (ulong)i * 8);
        e.JmpRel32(CodeAddress);
        return e;
    }

    /// <summary>
    /// Exit stub: stores all 16 GPRs (absolute addressing), FXSAVE64s the x87/SSE state, restores the host RSP, captures RFLAGS with PUSHFQ,
    /// resets RFLAGS to 0x202 (DF/AC/TF clear), FNINIT + restores x87 CW and MXCSR, restores callee-saved GPRs, returns.
    /// </summary>
    internal static StubEmitter BuildExitStub()
    {
        var e = new StubEmitter(ExitStubAddress);
        for (int i = 0; i < CpuSnapshot.GprCount; i++)
            e.StoreGpr(i, OutGpr + (ulong)i * 8);
        e.Fxsave64(OutFx);
        e.LoadGpr(4, HostRsp);
        e.Pushfq();
        e.PopMem(OutRflags);
        e.PushImm32((int)(NativeRflags.IF | NativeRflags.Reserved1));
        e.Popfq();
        e.Fninit();
        e.Fldcw(HostFcw);
        e.Ldmxcsr(HostMxcsr);
        for (int i = 0; i < s_calleeSaved.Length; i++)
            e.LoadGpr(s_calleeSaved[i], HostCalleeSaved + (ulong)i * 8);
        e.Ret();
        return e;
    }

    // ---- Whole routines ------------------------------------------------------------------------------------------

    /// <summary>
    /// Copies a System V ABI routine to <see cref="CodeAddress"/> once and returns a handle that can call it repeatedly
    /// (e.g. from BenchmarkDotNet). The routine must be assembled for address <see cref="CodeAddress"/>, take up to two
    /// integer arguments in RDI/RSI, return a value in RAX, preserve RBX/RBP/R12-R15/RSP, and return with DF clear.
    /// It runs on the calling thread's own stack and may use the scratch region.
    /// </summary>
    public PreparedCode Prepare(ReadOnlySpan<byte> code)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (code.IsEmpty || (ulong)code.Length > CodeSize)
            throw new ArgumentException($"routine must be 1..{CodeSize} bytes, got {code.Length}", nameof(code));
        return new PreparedCode(code.ToArray());
    }

    /// <summary>Copies <paramref name="code"/> to <see cref="CodeAddress"/> and calls it as <c>ulong f(ulong arg0)</c>. See <see cref="Prepare"/>.</summary>
    public ulong CallFunction(ReadOnlySpan<byte> code, ulong arg0) => CallFunction(code, arg0, 0);

    /// <summary>Copies <paramref name="code"/> to <see cref="CodeAddress"/> and calls it as <c>ulong f(ulong arg0, ulong arg1)</c>. See <see cref="Prepare"/>.</summary>
    public ulong CallFunction(ReadOnlySpan<byte> code, ulong arg0, ulong arg1)
    {
        using var prepared = Prepare(code);
        return prepared.Invoke(arg0, arg1);
    }

    /// <summary>
    /// Copies <paramref name="data"/> into the scratch region at <c>ScratchAddress + offset</c>, for routines run via
    /// <see cref="PreparedCode"/> (e.g. once in a benchmark's setup). Not atomic with respect to other threads:
    /// any <c>Run</c> overwrites scratch. Tests should use <see cref="PreparedCode.Invoke(Span{byte}, ulong, ulong)"/> instead.
    /// </summary>
    public void WriteScratch(ReadOnlySpan<byte> data, int offset = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (OracleMemory.Gate)
            data.CopyTo(OracleMemory.Scratch.AsSpan()[offset..]);
    }

    /// <summary>Copies <c>destination.Length</c> bytes from the scratch region at <c>ScratchAddress + offset</c>.</summary>
    public void ReadScratch(Span<byte> destination, int offset = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (OracleMemory.Gate)
            OracleMemory.Scratch.AsSpan().Slice(offset, destination.Length).CopyTo(destination);
    }

    /// <summary>
    /// Releases this executor. The fixed regions are process-wide and stay mapped; other executors and
    /// <see cref="PreparedCode"/> handles remain usable.
    /// </summary>
    public void Dispose() => _disposed = true;
}

/// <summary>
/// A machine-code routine that <see cref="NativeExecutor.Prepare"/> has loaded at <see cref="NativeExecutor.CodeAddress"/>.
/// <see cref="Invoke"/> calls it without copying again, unless something else (a <c>Run</c> or another routine)
/// has used the code region since, in which case it is reloaded transparently first.
/// </summary>
public sealed unsafe class PreparedCode : IDisposable
{
    private readonly byte[] _code;
    private bool _disposed;

    internal PreparedCode(byte[] code)
    {
        _code = code;
        lock (OracleMemory.Gate)
            Load();
    }

    /// <summary>Address the routine lives at (always <see cref="NativeExecutor.CodeAddress"/>).</summary>
    public ulong Address => NativeExecutor.CodeAddress;

    /// <summary>Length of the routine in bytes.</summary>
    public int Length => _code.Length;

    /// <summary>
    /// Calls the routine as <c>ulong f(ulong rdi, ulong rsi)</c> on the current thread, under the process-wide oracle lock
    /// (about tens of nanoseconds of overhead per call when uncontended).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Invoke(ulong arg0 = 0, ulong arg1 = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (OracleMemory.Gate)
        {
            if (!ReferenceEquals(OracleMemory.CodeOwner, this))
                Load();
            return ((delegate* unmanaged<ulong, ulong, ulong>)NativeExecutor.CodeAddress)(arg0, arg1);
        }
    }

    /// <summary>
    /// Like <see cref="Invoke(ulong, ulong)"/>, but atomically (under the same lock) loads <paramref name="scratch"/> into the
    /// scratch region at <see cref="NativeExecutor.ScratchAddress"/> (zeroing the rest) before the call and copies it back
    /// after, so no concurrent <c>Run</c> can interleave. Meant for tests; the copies cost a few microseconds.
    /// </summary>
    public ulong Invoke(Span<byte> scratch, ulong arg0 = 0, ulong arg1 = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((ulong)scratch.Length > NativeExecutor.ScratchSize)
            throw new ArgumentException($"scratch is {scratch.Length} bytes; at most {NativeExecutor.ScratchSize}", nameof(scratch));
        lock (OracleMemory.Gate)
        {
            if (!ReferenceEquals(OracleMemory.CodeOwner, this))
                Load();
            Span<byte> native = OracleMemory.Scratch.AsSpan();
            scratch.CopyTo(native);
            native[scratch.Length..].Clear();
            ulong result = ((delegate* unmanaged<ulong, ulong, ulong>)NativeExecutor.CodeAddress)(arg0, arg1);
            native[..scratch.Length].CopyTo(scratch);
            return result;
        }
    }

    /// <summary>Copies the routine to the code region and fills the rest with INT3. Caller holds the gate.</summary>
    private void Load()
    {
        Span<byte> region = OracleMemory.Code.AsSpan();
        _code.CopyTo(region);
        region[_code.Length..].Fill(0xCC);
        OracleMemory.CodeOwner = this;
    }

    /// <summary>Releases the handle; the code region is left as is and reused by the next user.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        lock (OracleMemory.Gate)
        {
            if (ReferenceEquals(OracleMemory.CodeOwner, this))
                OracleMemory.CodeOwner = null;
        }
    }
}

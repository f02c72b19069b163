using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Bench;

/// <summary>
/// One benchmark workload: a System V ABI function assembled once with Iced. The same bytes run
/// natively (called through a function pointer) and in Vtx (RIP at the entry, a return address on
/// the stack that points at the trailing HLT).
/// </summary>
/// <remarks>
/// The code only uses relative branches and calls inside itself and reaches data through the
/// pointer in RDI, so it runs unchanged at any address. Entry is at offset 0; <see cref="HaltOffset"/>
/// is a HLT after the function, only ever reached in Vtx through the pushed return address.
/// </remarks>
public sealed class Workload
{
    public required string Name { get; init; }
    public required string Description { get; init; }
    /// <summary>The machine code: the function at offset 0, then a HLT at <see cref="HaltOffset"/>.</summary>
    public required byte[] Code { get; init; }
    public required int HaltOffset { get; init; }
    /// <summary>First argument (RDI) is always the data buffer's address; this is the second (RSI).</summary>
    public required ulong Arg1 { get; init; }
    /// <summary>Bytes of data the function uses at the buffer address (initialised by <see cref="InitData"/>).</summary>
    public required int DataBytes { get; init; }
    /// <summary>Fills the data buffer before the first run (the function never writes it, or re-initialises it itself).</summary>
    public Action<Span<byte>> InitData { get; init; } = static _ => { };
}

/// <summary>The workloads, assembled once per process.</summary>
public static class Workloads
{
    /// <summary>Iterations of the checksum loop (9 instructions each).</summary>
    public const ulong ChecksumIterations = 2_000_000;

    /// <summary>n for the recursive fib(n).</summary>
    public const ulong FibN = 29;

    /// <summary>Qwords sorted per round.</summary>
    public const int SortCount = 4096;

    /// <summary>Rounds (re-initialise from the PRNG, then quicksort) per run.</summary>
    public const ulong SortRounds = 48;

    /// <summary>The address the code is assembled for; irrelevant to the bytes (all references are relative).</summary>
    private const ulong AssembleAt = 0x10_0000;

    public static Workload Checksum { get; } = BuildChecksum();
    public static Workload Fib { get; } = BuildFib();
    public static Workload Sort { get; } = BuildSort();

    /// <summary>Matrix order of the SSE2 matrix multiply.</summary>
    public const int MatN = 16;

    /// <summary>Rounds of the SSE2 matrix multiply per run.</summary>
    public const ulong MatRounds = 40;

    /// <summary>Terms of the x87 series per run.</summary>
    public const ulong SeriesTerms = 150_000;

    public static Workload MatMul { get; } = BuildMatMul();
    public static Workload X87Series { get; } = BuildX87Series();

    /// <summary>The integer workloads (the interpreter's speed targets).</summary>
    public static IReadOnlyList<Workload> Integer { get; } = [Checksum, Fib, Sort];

    /// <summary>The floating-point workloads (SSE2 and x87).</summary>
    public static IReadOnlyList<Workload> FloatingPoint { get; } = [MatMul, X87Series];

    public static IReadOnlyList<Workload> All { get; } = [Checksum, Fib, Sort, MatMul, X87Series];

    /// <summary>Straight-line code for the decode-cache cold-start benchmark (not in <see cref="All"/>).</summary>
    public static Workload ColdStart { get; } = BuildStraightLine(DecodeCacheBenchmarks.StraightLineInstructions);

    public static Workload? Find(string name) =>
        All.FirstOrDefault(w => w.Name == name) ?? (name == ColdStart.Name ? ColdStart : null);

    /// <summary>
    /// u64 checksum(u64* buf /* 512 qwords */, u64 n):
    /// sum = 0; for (i = 0; i &lt; n; i++) sum = rol(sum, 13) ^ buf[i &amp; 511] + i. Nine instructions per iteration.
    /// </summary>
    private static Workload BuildChecksum()
    {
        var a = new Assembler(64);
        Label loop = a.CreateLabel(), done = a.CreateLabel(), halt = a.CreateLabel();
        a.xor(eax, eax);
        a.xor(ecx, ecx);
        a.test(rsi, rsi);
        a.jz(done);
        a.Label(ref loop);
        a.mov(edx, ecx);
        a.and(edx, 511);
        a.mov(r8, __qword_ptr[rdi + rdx * 8]);
        a.rol(rax, 13);
        a.xor(rax, r8);
        a.add(rax, rcx);
        a.inc(rcx);
        a.cmp(rcx, rsi);
        a.jb(loop);
        a.Label(ref done);
        a.ret();
        return Finish(a, halt, new Workload
        {
            Name = "Checksum",
            Description = $"ALU/load checksum loop, {ChecksumIterations:N0} iterations over a 4 KiB buffer",
            Code = null!,
            HaltOffset = 0,
            Arg1 = ChecksumIterations,
            DataBytes = 4096,
            InitData = static span =>
            {
                ulong x = 0x0123_4567_89AB_CDEF;
                for (int i = 0; i + 8 <= span.Length; i += 8)
                {
                    x = x * 6364136223846793005UL + 1442695040888963407UL;
                    BitConverter.TryWriteBytes(span[i..], x);
                }
            },
        });
    }

    /// <summary>
    /// u64 fib(u64 unused, u64 n): naive recursion, fib(n) = n &lt; 2 ? n : fib(n-1) + fib(n-2).
    /// The entry moves n into RDI and falls into the recursive function.
    /// </summary>
    private static Workload BuildFib()
    {
        var a = new Assembler(64);
        Label fib = a.CreateLabel(), leaf = a.CreateLabel(), halt = a.CreateLabel();
        a.mov(rdi, rsi);
        a.Label(ref fib);
        a.cmp(rdi, 2);
        a.jb(leaf);
        a.push(rbx);
        a.push(rbp);
        a.mov(rbx, rdi);
        a.lea(rdi, __[rbx - 1]);
        a.call(fib);
        a.mov(rbp, rax);
        a.lea(rdi, __[rbx - 2]);
        a.call(fib);
        a.add(rax, rbp);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
        a.Label(ref leaf);
        a.mov(rax, rdi);
        a.ret();
        return Finish(a, halt, new Workload
        {
            Name = "Fib",
            Description = $"call/ret-heavy naive recursive fib({FibN})",
            Code = null!,
            HaltOffset = 0,
            Arg1 = FibN,
            DataBytes = 0,
        });
    }

    /// <summary>
    /// u64 sort(u64* buf, u64 rounds): each round fills buf[0..SortCount) from an xorshift64 generator
    /// (continuing from the previous round, so the work is identical on every call), sorts it with a
    /// recursive Hoare-partition quicksort (signed compares) and adds the median to the result.
    /// </summary>
    private static Workload BuildSort()
    {
        var a = new Assembler(64);
        Label round = a.CreateLabel(), fill = a.CreateLabel(), done = a.CreateLabel();
        Label qs = a.CreateLabel(), qsRet = a.CreateLabel(), scanI = a.CreateLabel(),
              scanJ = a.CreateLabel(), split = a.CreateLabel(), halt = a.CreateLabel();

        // ---- entry: rdi = buf, rsi = rounds
        a.push(rbx);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.mov(rbx, rdi);                       // buf
        a.mov(r12, rsi);                       // rounds left
        a.xor(r13d, r13d);                     // result
        a.mov(r14, 0x9E37_79B9_7F4A_7C15UL);   // PRNG state
        a.test(r12, r12);
        a.jz(done);
        a.Label(ref round);
        a.xor(ecx, ecx);
        a.Label(ref fill);                     // xorshift64: x ^= x << 13; x ^= x >> 7; x ^= x << 17
        a.mov(rax, r14);
        a.shl(rax, 13);
        a.xor(r14, rax);
        a.mov(rax, r14);
        a.shr(rax, 7);
        a.xor(r14, rax);
        a.mov(rax, r14);
        a.shl(rax, 17);
        a.xor(r14, rax);
        a.mov(__qword_ptr[rbx + rcx * 8], r14);
        a.inc(ecx);
        a.cmp(ecx, SortCount);
        a.jb(fill);
        a.mov(rdi, rbx);
        a.lea(rsi, __[rbx + (SortCount - 1) * 8]);
        a.call(qs);
        a.add(r13, __qword_ptr[rbx + SortCount / 2 * 8]);
        a.dec(r12);
        a.jnz(round);
        a.Label(ref done);
        a.mov(rax, r13);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbx);
        a.ret();

        // ---- qs(rdi = lo, rsi = hi), both inclusive element pointers
        a.Label(ref qs);
        a.cmp(rdi, rsi);
        a.jae(qsRet);
        a.mov(rax, rsi);
        a.sub(rax, rdi);
        a.shr(rax, 4);
        a.mov(r8, __qword_ptr[rdi + rax * 8]); // pivot: lower middle element
        a.lea(rcx, __[rdi - 8]);               // i
        a.lea(rdx, __[rsi + 8]);               // j
        a.Label(ref scanI);
        a.add(rcx, 8);
        a.cmp(__qword_ptr[rcx], r8);
        a.jl(scanI);
        a.Label(ref scanJ);
        a.sub(rdx, 8);
        a.cmp(__qword_ptr[rdx], r8);
        a.jg(scanJ);
        a.cmp(rcx, rdx);
        a.jae(split);
        a.mov(r9, __qword_ptr[rcx]);
        a.mov(r10, __qword_ptr[rdx]);
        a.mov(__qword_ptr[rcx], r10);
        a.mov(__qword_ptr[rdx], r9);
        a.jmp(scanI);
        a.Label(ref split);                    // [lo, j] and [j+1, hi]
        a.push(rbx);
        a.push(r12);
        a.lea(rbx, __[rdx + 8]);
        a.mov(r12, rsi);
        a.mov(rsi, rdx);
        a.call(qs);
        a.mov(rdi, rbx);
        a.mov(rsi, r12);
        a.pop(r12);
        a.pop(rbx);
        a.jmp(qs);                             // tail call for the upper part
        a.Label(ref qsRet);
        a.ret();

        return Finish(a, halt, new Workload
        {
            Name = "Sort",
            Description = $"quicksort of {SortCount:N0} qwords x {SortRounds} rounds, re-filled from a PRNG each round",
            Code = null!,
            HaltOffset = 0,
            Arg1 = SortRounds,
            DataBytes = SortCount * 8,
        });
    }

    /// <summary>
    /// u64 matmul(double* buf /* A, B, C: MatN x MatN each */, u64 rounds): each round computes C = A x B
    /// with SSE2 packed doubles (broadcast A[i][k] with UNPCKLPD, MULPD/ADDPD over two columns at a
    /// time) and folds the bits of every stored pair's low element into a checksum, which it returns.
    /// </summary>
    private static Workload BuildMatMul()
    {
        const int n = MatN, bOff = n * n * 8, cOff = 2 * n * n * 8;
        var a = new Assembler(64);
        Label round = a.CreateLabel(), iLoop = a.CreateLabel(), jLoop = a.CreateLabel(), kLoop = a.CreateLabel(),
              done = a.CreateLabel(), halt = a.CreateLabel();
        a.push(r15);
        a.xor(r15d, r15d);                     // checksum
        a.test(rsi, rsi);
        a.jz(done);
        a.Label(ref round);
        a.xor(r8d, r8d);                       // i
        a.Label(ref iLoop);
        a.xor(r9d, r9d);                       // j, two columns at a time
        a.Label(ref jLoop);
        a.xorpd(xmm2, xmm2);
        a.xor(r10d, r10d);                     // k
        a.Label(ref kLoop);
        a.imul(rax, r8, n);
        a.add(rax, r10);
        a.movsd(xmm0, __qword_ptr[rdi + rax * 8]);
        a.unpcklpd(xmm0, xmm0);                // A[i][k] in both lanes
        a.imul(rax, r10, n);
        a.add(rax, r9);
        a.movupd(xmm1, __xmmword_ptr[rdi + rax * 8 + bOff]);
        a.mulpd(xmm1, xmm0);
        a.addpd(xmm2, xmm1);
        a.inc(r10);
        a.cmp(r10, n);
        a.jb(kLoop);
        a.imul(rax, r8, n);
        a.add(rax, r9);
        a.movupd(__xmmword_ptr[rdi + rax * 8 + cOff], xmm2);
        a.movq(rdx, xmm2);
        a.xor(r15, rdx);
        a.rol(r15, 7);
        a.add(r9, 2);
        a.cmp(r9, n);
        a.jb(jLoop);
        a.inc(r8);
        a.cmp(r8, n);
        a.jb(iLoop);
        a.dec(rsi);
        a.jnz(round);
        a.Label(ref done);
        a.mov(rax, r15);
        a.pop(r15);
        a.ret();
        return Finish(a, halt, new Workload
        {
            Name = "MatMul",
            Description = $"SSE2 double-precision {MatN}x{MatN} matrix multiply x {MatRounds} rounds",
            Code = null!,
            HaltOffset = 0,
            Arg1 = MatRounds,
            DataBytes = 3 * n * n * 8,
            InitData = static span =>
            {
                // A and B hold small exact values (multiples of 1/8), C is overwritten by every round.
                for (int i = 0; i < 2 * MatN * MatN; i++)
                    BitConverter.TryWriteBytes(span[(i * 8)..], ((i * 7 + i / MatN * 3) % 17 - 8) / 8.0);
            },
        });
    }

    /// <summary>
    /// u64 series(u8* scratch, u64 n): sum of 1/(i*i) for i = 1..n in x87 extended precision (FILD, FMUL,
    /// FDIVRP, FADDP), then FSQRT of 6 x sum (an approximation of pi); returns the bits of the result
    /// stored as a double. FCW is saved, set by FNINIT and restored (it is callee-saved in the ABI).
    /// </summary>
    private static Workload BuildX87Series()
    {
        var a = new Assembler(64);
        Label loop = a.CreateLabel(), halt = a.CreateLabel();
        a.fnstcw(__word_ptr[rdi + 16]);
        a.fninit();
        a.fldz();                              // st0 = sum
        a.mov(ecx, 1);
        a.Label(ref loop);
        a.mov(__qword_ptr[rdi], rcx);
        a.fild(__qword_ptr[rdi]);              // st0 = i, st1 = sum
        a.fmul(st0, st0);                      // i*i
        a.fld1();                              // 1, i*i, sum
        a.fdivrp(st1, st0);                    // 1/(i*i), sum
        a.faddp(st1, st0);                     // sum
        a.inc(rcx);
        a.cmp(rcx, rsi);
        a.jbe(loop);
        a.mov(__qword_ptr[rdi], 6);
        a.fild(__qword_ptr[rdi]);
        a.fmulp(st1, st0);
        a.fsqrt();
        a.fstp(__qword_ptr[rdi + 8]);
        a.mov(rax, __qword_ptr[rdi + 8]);
        a.fldcw(__word_ptr[rdi + 16]);
        a.ret();
        return Finish(a, halt, new Workload
        {
            Name = "X87Series",
            Description = $"x87 extended-precision series, {SeriesTerms:N0} terms, FSQRT",
            Code = null!,
            HaltOffset = 0,
            Arg1 = SeriesTerms,
            DataBytes = 32,
        });
    }

    /// <summary>
    /// Straight-line code for the decode cold-start benchmark: <paramref name="count"/> varied register
    /// ALU instructions (no loops), then RET — every instruction executes exactly once per run.
    /// </summary>
    public static Workload BuildStraightLine(int count)
    {
        var a = new Assembler(64);
        Label halt = a.CreateLabel();
        AssemblerRegister64[] regs = [rax, rcx, rdx, rsi, r8, r9, r10, r11];
        ulong x = 12345;
        for (int i = 0; i < count; i++)
        {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            var d = regs[(int)(x % 8)];
            var s = regs[(int)((x >> 8) % 8)];
            switch ((x >> 16) % 8)
            {
                case 0: a.add(d, s); break;
                case 1: a.xor(d, s); break;
                case 2: a.rol(d, (byte)((x >> 24) % 63 + 1)); break;
                case 3: a.lea(d, __[d + s * 4 + (int)((x >> 24) & 0xFFF)]); break;
                case 4: a.imul(d, s); break;
                case 5: a.sub(d, (int)((x >> 24) & 0xFFFF)); break;
                case 6: a.mov(d, s); break;
                default: a.and(d, s); break;
            }
        }
        a.ret();
        return Finish(a, halt, new Workload
        {
            Name = "ColdStart",
            Description = $"{count:N0} straight-line ALU instructions, each executed once",
            Code = null!,
            HaltOffset = 0,
            Arg1 = 0,
            DataBytes = 0,
        });
    }

    private static Workload Finish(Assembler a, Label halt, Workload w)
    {
        a.Label(ref halt);
        a.hlt();
        var writer = new ByteWriter();
        AssemblerResult r = a.Assemble(writer, AssembleAt, BlockEncoderOptions.ReturnNewInstructionOffsets);
        ulong haltRip = r.GetLabelRIP(halt);
        return new Workload
        {
            Name = w.Name,
            Description = w.Description,
            Code = writer.ToArray(),
            HaltOffset = checked((int)(haltRip - AssembleAt)),
            Arg1 = w.Arg1,
            DataBytes = w.DataBytes,
            InitData = w.InitData,
        };
    }

    private sealed class ByteWriter : CodeWriter
    {
        private readonly List<byte> _bytes = [];
        public override void WriteByte(byte value) => _bytes.Add(value);
        public byte[] ToArray() => [.. _bytes];
    }
}

using System.Buffers.Binary;

namespace Vtx.Tests.Native;

/// <summary>
/// Hand encoder for the handful of instructions the oracle's entry/exit stubs need.
/// Every memory operand uses absolute [disp32] addressing (ModRM mod=00 rm=100, SIB 0x25: no base, no index),
/// so no register and no RIP-relative displacement is involved. All addresses must be below 2 GiB.
/// </summary>
internal sealed class StubEmitter
{
    private readonly byte[] _buffer;

    /// <summary>Creates an emitter that assembles code to be placed at <paramref name="origin"/>.</summary>
    public StubEmitter(ulong origin, int capacity = 1024)
    {
        Origin = origin;
        _buffer = new byte[capacity];
    }

    /// <summary>Address the first emitted byte will live at.</summary>
    public ulong Origin { get; }

    /// <summary>Bytes emitted so far.</summary>
    public int Length { get; private set; }

    /// <summary>Address of the next byte to be emitted.</summary>
    public ulong Current => Origin + (ulong)Length;

    /// <summary>The emitted code.</summary>
    public ReadOnlySpan<byte> Code => _buffer.AsSpan(0, Length);

    private void Byte(byte b) => _buffer[Length++] = b;

    private void Bytes(params ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    private void Int32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(Length), value);
        Length += 4;
    }

    private static int Disp32(ulong address)
    {
        if (address > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(address), $"0x{address:X} is not reachable with a sign-extended disp32");
        return (int)address;
    }

    /// <summary>ModRM (mod=00, reg, rm=100) + SIB 0x25 + disp32: absolute address.</summary>
    private void AbsoluteOperand(int reg, ulong address)
    {
        Byte((byte)(((reg & 7) << 3) | 0b100));
        Byte(0x25);
        Int32(Disp32(address));
    }

    /// <summary><c>mov qword [address], r64</c> (REX.W 89 /r).</summary>
    public void StoreGpr(int gpr, ulong address)
    {
        Byte((byte)(0x48 | (gpr >= 8 ? 0x04 : 0)));
        Byte(0x89);
        AbsoluteOperand(gpr, address);
    }

    /// <summary><c>mov r64, qword [address]</c> (REX.W 8B /r).</summary>
    public void LoadGpr(int gpr, ulong address)
    {
        Byte((byte)(0x48 | (gpr >= 8 ? 0x04 : 0)));
        Byte(0x8B);
        AbsoluteOperand(gpr, address);
    }

    /// <summary><c>mov qword [address], imm32</c> (sign-extended; REX.W C7 /0).</summary>
    public void StoreImm32(ulong address, int imm)
    {
        Byte(0x48);
        Byte(0xC7);
        AbsoluteOperand(0, address);
        Int32(imm);
    }

    /// <summary><c>push qword [address]</c> (FF /6).</summary>
    public void PushMem(ulong address)
    {
        Byte(0xFF);
        AbsoluteOperand(6, address);
    }

    /// <summary><c>pop qword [address]</c> (8F /0).</summary>
    public void PopMem(ulong address)
    {
        Byte(0x8F);
        AbsoluteOperand(0, address);
    }

    /// <summary><c>push imm32</c> (sign-extended to 64 bits; 68 id).</summary>
    public void PushImm32(int imm)
    {
        Byte(0x68);
        Int32(imm);
    }

    /// <summary><c>pushfq</c>.</summary>
    public void Pushfq() => Byte(0x9C);

    /// <summary><c>popfq</c>.</summary>
    public void Popfq() => Byte(0x9D);

    /// <summary><c>stmxcsr dword [address]</c> (0F AE /3).</summary>
    public void Stmxcsr(ulong address)
    {
        Bytes(0x0F, 0xAE);
        AbsoluteOperand(3, address);
    }

    /// <summary><c>ldmxcsr dword [address]</c> (0F AE /2).</summary>
    public void Ldmxcsr(ulong address)
    {
        Bytes(0x0F, 0xAE);
        AbsoluteOperand(2, address);
    }

    /// <summary><c>fnstcw word [address]</c> (D9 /7).</summary>
    public void Fnstcw(ulong address)
    {
        Byte(0xD9);
        AbsoluteOperand(7, address);
    }

    /// <summary><c>fldcw word [address]</c> (D9 /5).</summary>
    public void Fldcw(ulong address)
    {
        Byte(0xD9);
        AbsoluteOperand(5, address);
    }

    /// <summary><c>fxsave64 [address]</c> (REX.W 0F AE /0); the address must be 16-byte aligned.</summary>
    public void Fxsave64(ulong address)
    {
        Bytes(0x48, 0x0F, 0xAE);
        AbsoluteOperand(0, address);
    }

    /// <summary><c>fxrstor64 [address]</c> (REX.W 0F AE /1); the address must be 16-byte aligned.</summary>
    public void Fxrstor64(ulong address)
    {
        Bytes(0x48, 0x0F, 0xAE);
        AbsoluteOperand(1, address);
    }

    /// <summary><c>fninit</c> (DB E3): empties the x87 stack (and MMX state) the instruction may have left behind.</summary>
    public void Fninit() => Bytes(0xDB, 0xE3);

    /// <summary><c>jmp rel32</c> to an absolute target.</summary>
    public void JmpRel32(ulong target)
    {
        Byte(0xE9);
        long rel = (long)target - (long)(Current + 4);
        Int32(checked((int)rel));
    }

    /// <summary>Emits pre-assembled bytes (for the few routines, such as the SIGILL handler, that need other forms).</summary>
    public void Raw(params ReadOnlySpan<byte> bytes) => Bytes(bytes);

    /// <summary><c>ret</c>.</summary>
    public void Ret() => Byte(0xC3);

    /// <summary>Pads with <c>int3</c> up to <paramref name="length"/> bytes.</summary>
    public void PadInt3(int length)
    {
        while (Length < length)
            Byte(0xCC);
    }
}

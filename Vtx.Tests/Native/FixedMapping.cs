namespace Vtx.Tests.Native;

/// <summary>
/// One anonymous private mapping at a fixed virtual address, created with
/// <c>mmap(MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS)</c> so that it never replaces
/// anything already mapped there. Disposing unmaps it.
/// </summary>
public sealed unsafe class FixedMapping : IDisposable
{
    private bool _disposed;

    private FixedMapping(ulong address, ulong size, int protection)
    {
        Address = address;
        Size = size;
        Protection = protection;
    }

    /// <summary>Start address of the mapping (page aligned).</summary>
    public ulong Address { get; }

    /// <summary>Size of the mapping in bytes (a multiple of the page size).</summary>
    public ulong Size { get; }

    /// <summary>Current protection as a combination of PROT_READ (1), PROT_WRITE (2) and PROT_EXEC (4).</summary>
    public int Protection { get; private set; }

    /// <summary>True once <see cref="Dispose"/> has unmapped the range.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>
    /// Maps <paramref name="size"/> bytes at exactly <paramref name="address"/>, readable and writable,
    /// and also executable when <paramref name="executable"/> is set.
    /// Returns false with a human-readable <paramref name="error"/> if the host is not Linux x86-64,
    /// the range is taken (EEXIST), the kernel ignores MAP_FIXED_NOREPLACE, or W+X is refused.
    /// </summary>
    public static bool TryMap(ulong address, ulong size, bool executable, out FixedMapping? mapping, out string error)
    {
        mapping = null;
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture
            != System.Runtime.InteropServices.Architecture.X64)
        {
            error = "fixed mappings need Linux on x86-64";
            return false;
        }
        if ((address & 0xFFF) != 0 || size == 0 || (size & 0xFFF) != 0)
        {
            error = $"address 0x{address:X} and size 0x{size:X} must be non-zero multiples of 4 KiB";
            return false;
        }

        int prot = LibC.ProtRead | LibC.ProtWrite | (executable ? LibC.ProtExec : 0);
        nint got;
        try
        {
            got = LibC.mmap((nint)address, (nuint)size, prot,
                LibC.MapFixedNoReplace | LibC.MapPrivate | LibC.MapAnonymous, -1, 0);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            error = $"libc mmap unavailable: {ex.Message}";
            return false;
        }

        if (got == LibC.MapFailed)
        {
            error = $"mmap(0x{address:X}, 0x{size:X}, {(executable ? "RWX" : "RW")}, MAP_FIXED_NOREPLACE) failed: {LibC.LastErrorText()}";
            return false;
        }
        if ((ulong)got != address)
        {
            // Kernels before 4.17 treat the unknown flag as a plain hint and may place the mapping elsewhere.
            _ = LibC.munmap(got, (nuint)size);
            error = $"mmap placed 0x{size:X} bytes at 0x{(ulong)got:X} instead of 0x{address:X} (kernel without MAP_FIXED_NOREPLACE?)";
            return false;
        }

        mapping = new FixedMapping(address, size, prot);
        error = string.Empty;
        return true;
    }

    /// <summary>The whole mapping as a span. Valid only until <see cref="Dispose"/>.</summary>
    public Span<byte> AsSpan()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new Span<byte>((void*)Address, checked((int)Size));
    }

    /// <summary>Changes the protection of the whole mapping (<c>mprotect</c>); throws on failure.</summary>
    public void Protect(bool read, bool write, bool execute)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int prot = (read ? LibC.ProtRead : 0) | (write ? LibC.ProtWrite : 0) | (execute ? LibC.ProtExec : 0);
        if (LibC.mprotect((nint)Address, (nuint)Size, prot) != 0)
            throw new InvalidOperationException($"mprotect(0x{Address:X}, 0x{Size:X}, {prot}) failed: {LibC.LastErrorText()}");
        Protection = prot;
    }

    /// <summary>Unmaps the range. Safe to call more than once.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _ = LibC.munmap((nint)Address, (nuint)Size);
    }
}

using System.Runtime.InteropServices;

namespace Vtx.Tests.Native;

/// <summary>
/// Minimal P/Invoke surface over the host C library (Linux x86-64, glibc or musl).
/// Only the calls the native oracle needs: anonymous fixed mappings and the thread signal mask.
/// </summary>
internal static unsafe partial class LibC
{
    /// <summary>Pages may be read.</summary>
    public const int ProtRead = 0x1;
    /// <summary>Pages may be written.</summary>
    public const int ProtWrite = 0x2;
    /// <summary>Pages may be executed.</summary>
    public const int ProtExec = 0x4;

    /// <summary>Copy-on-write private mapping.</summary>
    public const int MapPrivate = 0x02;
    /// <summary>Mapping not backed by a file.</summary>
    public const int MapAnonymous = 0x20;
    /// <summary>Map exactly at the hint, failing with EEXIST instead of replacing an existing mapping (Linux 4.17+).</summary>
    public const int MapFixedNoReplace = 0x10_0000;

    /// <summary><c>how</c> for <see cref="pthread_sigmask"/>: add the given signals to the mask.</summary>
    public const int SigBlock = 0;
    /// <summary><c>how</c> for <see cref="pthread_sigmask"/>: replace the mask.</summary>
    public const int SigSetMask = 2;

    /// <summary>Size in bytes of the C library's <c>sigset_t</c> on Linux x86-64 (glibc and musl: 1024 bits).</summary>
    public const int SigSetSize = 128;

    /// <summary>The value <c>mmap</c> returns on failure (<c>(void*)-1</c>).</summary>
    public static readonly nint MapFailed = -1;

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int munmap(nint addr, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int mprotect(nint addr, nuint length, int prot);

    /// <summary>Returns 0 or an error number (does not set errno).</summary>
    [LibraryImport("libc")]
    internal static partial int pthread_sigmask(int how, byte* set, byte* oldset);

    /// <summary>SIGILL (invalid opcode, #UD).</summary>
    public const int SigIll = 4;

    /// <summary><c>sa_flags</c>: the handler takes (signal, siginfo_t*, ucontext_t*).</summary>
    public const int SaSigInfo = 4;

    /// <summary>Size of the C library's <c>struct sigaction</c> on Linux x86-64 (glibc: handler, 128-byte mask, flags, restorer).</summary>
    public const int SigActionSize = 152;

    /// <summary>Offset of <c>sa_flags</c> in <c>struct sigaction</c> (glibc x86-64).</summary>
    public const int SigActionFlagsOffset = 136;

    /// <summary>Installs a signal disposition (glibc <c>sigaction</c>, which supplies the restorer). Returns 0 or -1.</summary>
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int sigaction(int signum, byte* act, byte* oldact);

    /// <summary>Formats the last P/Invoke error as "message (errno N)".</summary>
    public static string LastErrorText()
    {
        int errno = Marshal.GetLastPInvokeError();
        return $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
    }
}

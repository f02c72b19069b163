using Vtx.Tests.Native;
using Xunit;

namespace Vtx.Tests.NativeTests;

/// <summary>
/// A <see cref="FactAttribute"/> that is skipped, with the reason shown by the runner, when the native oracle
/// cannot run on this host (<see cref="NativeExecutor.IsSupported"/> is false).
/// </summary>
public sealed class NativeFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the native oracle is unavailable.</summary>
    public NativeFactAttribute()
    {
        if (!NativeExecutor.IsSupported)
            Skip = "native oracle unavailable: " + NativeExecutor.UnsupportedReason;
    }
}

/// <summary>
/// A <see cref="TheoryAttribute"/> that is skipped, with the reason shown by the runner, when the native oracle
/// cannot run on this host (<see cref="NativeExecutor.IsSupported"/> is false).
/// </summary>
public sealed class NativeTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the native oracle is unavailable.</summary>
    public NativeTheoryAttribute()
    {
        if (!NativeExecutor.IsSupported)
            Skip = "native oracle unavailable: " + NativeExecutor.UnsupportedReason;
    }
}

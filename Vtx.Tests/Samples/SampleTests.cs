using Vtx.Samples;
using Xunit;

namespace Vtx.Tests.Samples;

/// <summary>Every sample runs end to end here, and its trace and answer are asserted.</summary>
public class SampleTests
{
    private static (string trace, string answer) Run(string name)
    {
        var s = Sample.All.Single(x => x.Name == name);
        var w = new StringWriter();
        string answer = s.Run(w);
        return (w.ToString(), answer);
    }

    [Fact]
    public void EverySampleIsCovered() =>
        Assert.Equal(new[] { "fib", "self-modifying", "divide-error", "nmi-exiting", "virtual-nmi", "interrupt-window", "movss-blocking", "nested" },
            Sample.All.Select(s => s.Name));

    [Fact]
    public void Fib()
    {
        var (trace, answer) = Run("fib");
        var lines = trace.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Equal(lines[0], lines[1]); // two runs, identical down to the cycle
        Assert.Contains("rax=6765", lines[0]);
        Assert.StartsWith("fib(20) = 6765", answer);
        Assert.Contains("exactly the same counts", answer);
    }

    [Fact]
    public void SelfModifyingCode()
    {
        var (trace, answer) = Run("self-modifying");
        Assert.Contains("Halted", trace);
        Assert.Contains("rbx=201", trace);
        Assert.StartsWith("Yes", answer);
    }

    [Fact]
    public void DivideError()
    {
        var (trace, answer) = Run("divide-error");
        Assert.Contains("Exception", trace);
        Assert.Contains("fault=#DE", trace);
        Assert.Contains("rax=1234", trace);
        Assert.StartsWith("#DE (vector 0)", answer);
    }
}

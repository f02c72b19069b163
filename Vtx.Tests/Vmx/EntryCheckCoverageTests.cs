using System.Reflection;
using Vtx.Vmx;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Vtx.Tests.Vmx;

/// <summary>
/// The set of named VM-entry checks (<see cref="VmEntryChecks.All"/>, SDM Vol. 3C, 26.2-26.4) against
/// the tests that provoke them: every check must be the reported failure of at least one VM entry
/// made by the entry-check test classes (<see cref="VmEntryCheckTests"/> and the classes named
/// <c>EntryCheck*Tests</c>). The test runs those classes' facts and theories (every data row) with a
/// recorder set (<see cref="Record"/>: every VmxGuest registers itself), collects the check each failed entry reported, and fails
/// naming every check that no test provoked (or a reported name the catalogue does not declare).
/// </summary>
public class EntryCheckCoverageTests(ITestOutputHelper output)
{
    private static readonly AsyncLocal<List<Func<IEnumerable<VmEntryFailure?>>>?> Recording = new();

    /// <summary>Called by test harnesses as they set up a processor: while coverage is being collected on this async flow, <paramref name="failures"/> is read after the test to see which checks it provoked.</summary>
    internal static void Record(Func<IEnumerable<VmEntryFailure?>> failures)
    {
        if (Recording.Value is { } rec) lock (rec) rec.Add(failures);
    }

    private static bool IsEntryCheckClass(Type t) =>
        t.Namespace == typeof(EntryCheckCoverageTests).Namespace && t != typeof(EntryCheckCoverageTests) && !t.IsAbstract
        && (t == typeof(VmEntryCheckTests) || (t.Name.StartsWith("EntryCheck", StringComparison.Ordinal) && t.Name.EndsWith("Tests", StringComparison.Ordinal)));

    /// <summary>Runs every fact and every theory data row of the entry-check classes; returns the check names their failed entries reported.</summary>
    private static (HashSet<string> Seen, List<string> Errors, int Runs) RunEntryCheckTests()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var errors = new List<string>();
        int runs = 0;
        foreach (var type in typeof(EntryCheckCoverageTests).Assembly.GetTypes().Where(IsEntryCheckClass).OrderBy(t => t.Name))
        {
            foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static).OrderBy(m => m.Name))
            {
                var fact = m.GetCustomAttribute<FactAttribute>();
                if (fact is null || fact.Skip is not null) continue;
                var argSets = fact is TheoryAttribute
                    ? m.GetCustomAttributes<DataAttribute>().SelectMany(a => a.GetData(m)).ToList()
                    : [Array.Empty<object>()];
                foreach (var args in argSets)
                {
                    var recorded = new List<Func<IEnumerable<VmEntryFailure?>>>();
                    Recording.Value = recorded;
                    try
                    {
                        object? target = m.IsStatic ? null : Activator.CreateInstance(type);
                        m.Invoke(target, args);
                        runs++;
                    }
                    catch (TargetInvocationException e)
                    {
                        errors.Add($"{type.Name}.{m.Name}({string.Join(", ", args)}): {e.InnerException?.Message}");
                        continue;
                    }
                    finally
                    {
                        Recording.Value = null;
                    }
                    foreach (var source in recorded)
                        foreach (var f in source())
                            if (f is not null) seen.Add(f.Check);
                }
            }
        }
        return (seen, errors, runs);
    }

    [Fact]
    public void EveryNamedCheckIsProvokedByAnEntryCheckTest()
    {
        var (seen, errors, runs) = RunEntryCheckTests();
        Assert.True(errors.Count == 0, "entry-check tests failed while collecting coverage:\n" + string.Join("\n", errors));
        var names = VmEntryChecks.All.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var untested = VmEntryChecks.All.Where(c => !seen.Contains(c.Name)).Select(c => $"{c.Name} ({c.Section})").ToList();
        var undeclared = seen.Where(n => !names.Contains(n)).OrderBy(n => n).ToList();
        output.WriteLine($"{runs} test runs provoked {seen.Count} distinct checks of {names.Count} declared");
        Assert.True(undeclared.Count == 0, "reported checks missing from VmEntryChecks: " + string.Join(", ", undeclared));
        Assert.True(untested.Count == 0, $"{untested.Count} of {names.Count} named VM-entry checks have no test that provokes them:\n" + string.Join("\n", untested));
    }

    [Fact]
    public void CheckNamesAreUniqueAndTheirSectionMatchesTheirClass()
    {
        var all = VmEntryChecks.All;
        Assert.True(all.Count > 100, $"only {all.Count} checks enumerated");
        var dup = all.GroupBy(c => c.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(dup.Count == 0, "duplicate check names: " + string.Join(", ", dup));
        foreach (var c in all)
        {
            // SDM Vol. 3C (2016): 26.2.1 controls -> VMfailValid(7); 26.2.2-26.2.4 host -> 8; 26.3.1 guest -> reason 33; 26.4 MSR loading -> 34.
            bool ok = c.Class switch
            {
                VmEntryCheckClass.ControlFields => c.Section.StartsWith("26.2.1.", StringComparison.Ordinal) && c.Name.StartsWith("control.", StringComparison.Ordinal),
                VmEntryCheckClass.HostState => c.Section is "26.2.2" or "26.2.3" or "26.2.4" && c.Name.StartsWith("host.", StringComparison.Ordinal),
                VmEntryCheckClass.GuestState => c.Section.StartsWith("26.3.1.", StringComparison.Ordinal) && c.Name.StartsWith("guest.", StringComparison.Ordinal),
                VmEntryCheckClass.MsrLoading => c.Section == "26.4",
                _ => false,
            };
            Assert.True(ok, $"{c.Name}: class {c.Class} does not match section {c.Section}");
            Assert.Same(c, VmEntryChecks.ByName(c.Name));
        }
        Assert.Null(VmEntryChecks.ByName("guest.no-such-check"));
        Assert.Equal(6, VmEntryChecks.GuestSegments.Count);
        Assert.Equal(["es", "cs", "ss", "ds", "fs", "gs"], VmEntryChecks.GuestSegments.Select(s => s.Segment));
        Assert.Equal("guest.ss.dpl", VmEntryChecks.GuestSegments[(int)SegmentRegister.Ss].Dpl.Name);
    }
}

using Vtx.Samples;
using Vtx.Tracing;

// Runs every sample (or those named on the command line) and prints its trace and answer.
// "--measure-nested [exits]" times the nested-hypervisor machinery instead (use -c Release).
if (args.Length > 0 && args[0] == "--measure-nested")
{
    int exits = 20_000;
    if (args.Length > 1 && (!int.TryParse(args[1], out exits) || exits < 1))
    {
        Console.Error.WriteLine($"--measure-nested '{args[1]}': not a positive number of exits");
        return 2;
    }
    foreach (var line in NestedSample.Measure(exits)) Console.WriteLine(line);
    return 0;
}
// --timeline DIR also writes DIR/<sample>.html (a page to open in a browser) and DIR/<sample>.json
// (trace-event JSON for Perfetto or chrome://tracing) for each machine a sample runs.
string? timelineDir = null;
var names = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--timeline")
    {
        if (i + 1 >= args.Length) { Console.Error.WriteLine("--timeline needs a directory"); return 2; }
        timelineDir = args[++i];
        try { Directory.CreateDirectory(timelineDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            Console.Error.WriteLine($"--timeline {timelineDir}: cannot create the directory: {e.Message}");
            return 2;
        }
    }
    else names.Add(args[i]);
}
var selected = names.Count == 0
    ? Sample.All
    : Sample.All.Where(s => names.Contains(s.Name, StringComparer.OrdinalIgnoreCase)).ToList();
if (selected.Count == 0 || selected.Count < names.Count)
{
    Console.Error.WriteLine($"unknown sample; available: {string.Join(", ", Sample.All.Select(s => s.Name))}");
    return 2;
}
foreach (var s in selected)
{
    Console.WriteLine($"== {s.Name}: {s.Question}");
    var recorders = new List<TimelineRecorder>();
    if (timelineDir is not null)
    {
        Sample.MachineCreated = m =>
        {
            string stem = Path.Combine(timelineDir, recorders.Count / 2 == 0 ? s.Name : $"{s.Name}-{recorders.Count / 2 + 1}");
            foreach (string ext in (string[])[".html", ".json"])
            {
                var r = TimelineRecorder.ToFile(stem + ext, $"Vtx sample '{s.Name}': {s.Question}");
                r.Attach(m.Cpu);
                recorders.Add(r);
            }
        };
    }
    string answer = s.Run(Console.Out);
    foreach (var r in recorders) r.Dispose();
    Sample.MachineCreated = null;
    Console.WriteLine($"   answer: {answer}");
    if (recorders.Count > 0) Console.WriteLine($"   timeline: {Path.Combine(timelineDir!, s.Name)}.html (.json for Perfetto)");
    Console.WriteLine();
}
return 0;

using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Vtx.Run;

/// <summary>A multiboot module given with <c>--module FILE[,CMDLINE]</c>.</summary>
/// <param name="Path">The file to load.</param>
/// <param name="Arguments">The text after the first comma, or null when there is none.</param>
public sealed record ModuleArgument(string Path, string? Arguments)
{
    /// <summary>
    /// The module's string in the boot information (multiboot 0.6.96, 3.3, mods_addr "string"): the
    /// file name as given, then a space and the arguments — what GRUB and QEMU's <c>-initrd</c> pass.
    /// </summary>
    public string ModuleString => Arguments is null ? Path : $"{Path} {Arguments}";
}

/// <summary>The settings of one valid Vtx.Run command line.</summary>
public sealed record RunSettings
{
    /// <summary>The image to boot.</summary>
    public required string ImagePath { get; init; }
    /// <summary>Guest RAM in MiB.</summary>
    public int RamMiB { get; init; } = RunnerCommand.DefaultRamMiB;
    /// <summary>Number of processors.</summary>
    public int Cpus { get; init; } = 1;
    /// <summary>The instruction limit (null: none).</summary>
    public ulong? MaxInstructions { get; init; } = RunnerCommand.DefaultMaxInstructions;
    /// <summary>The cycle limit (null: none).</summary>
    public ulong? MaxCycles { get; init; }
    /// <summary>Load address of a raw image (null: detect the format).</summary>
    public ulong? Flat { get; init; }
    /// <summary>Print every delivered event.</summary>
    public bool TraceEvents { get; init; }
    /// <summary>The VMX JSON-lines trace file ("-" = the diagnostics writer).</summary>
    public string? VmxTrace { get; init; }
    /// <summary>The timeline file (.html: a page; otherwise trace-event JSON).</summary>
    public string? Timeline { get; init; }
    /// <summary>The kernel command line.</summary>
    public string CommandLine { get; init; } = "";
    /// <summary>The Linux initial RAM disk.</summary>
    public string? InitrdPath { get; init; }
    /// <summary>The multiboot modules, in order.</summary>
    public IReadOnlyList<ModuleArgument> Modules { get; init; } = [];
    /// <summary>The gdb TCP port (null: no gdb).</summary>
    public int? GdbPort { get; init; }
    /// <summary>The timing profile whose cycles the clock counts.</summary>
    public Timing.TimingProfile Timing { get; init; } = Vtx.Timing.TimingProfile.Skylake;
    /// <summary>Give a non-Linux image the PC platform.</summary>
    public bool Pc { get; init; }
}

/// <summary>
/// Vtx.Run's command line on System.CommandLine: the options, their validation (every malformed
/// value is an error naming the option and the value), the help text with the exit-status table,
/// and suggestions for mistyped options.
/// </summary>
public sealed class RunnerCommand
{
    /// <summary>The default RAM size in MiB.</summary>
    public const int DefaultRamMiB = 128;
    /// <summary>The default instruction limit: a bound on host time for a kernel that never stops.</summary>
    public const ulong DefaultMaxInstructions = 1_000_000_000;
    /// <summary>The most processors <c>--cpus</c> accepts (the machine's limit).</summary>
    public const int MaxCpus = MachineOptions.MaxCpus;
    /// <summary>The width the help text is wrapped at, whatever the terminal (so README can quote it exactly).</summary>
    public const int HelpWidth = 100;

    /// <summary>What follows the generated help: the details the option lines have no room for, and the exit statuses.</summary>
    public static readonly string Epilogue =
        "Details:\n" +
        "  The image format is detected: a Linux bzImage (64-bit boot protocol 2.12+) boots on the PC\n" +
        "  platform with --cmdline and --initrd; a multiboot kernel gets --cmdline and its --module files;\n" +
        "  other images are loaded as ELF files. --flat ADDR loads the image raw at ADDR and enters it\n" +
        "  there in 32-bit flat protected mode. Numbers are decimal or 0x-prefixed hexadecimal.\n" +
        "  On a terminal, runs longer than a second show a progress line on stderr (instructions, MIPS,\n" +
        "  cycles, VM exits); none when stderr is redirected.\n" +
        "\n" +
        "Exit status:\n" +
        string.Concat(ExitCodes.Table.Select(e => $"  {e.Code,-6} {e.Meaning}\n")) +
        "  The debug exit can also give 3, 5 or 7: the last line on stderr (\"Vtx.Run: ...\") says which.\n";

    private readonly Argument<string> _image = new("image")
    {
        Description = "The kernel or image to run (multiboot, ELF, Linux bzImage, or raw with --flat)",
    };
    private readonly Option<int> _ram = new("--ram")
    {
        HelpName = "SIZE",
        Description = "Guest RAM: MiB, or a number with an M or G suffix, from 1 MiB to 64 GiB",
        DefaultValueFactory = _ => DefaultRamMiB,
        CustomParser = ParseRam,
    };
    private readonly Option<int> _cpus = new("--cpus")
    {
        HelpName = "N",
        Description = $"Processors, 1 to {MaxCpus}",
        DefaultValueFactory = _ => 1,
        CustomParser = ParseCpus,
    };
    private readonly Option<string> _cmdline = new("--cmdline")
    {
        HelpName = "ARGS",
        Description = "Kernel command line (multiboot and Linux)",
    };
    private readonly Option<string> _initrd = new("--initrd")
    {
        HelpName = "FILE",
        Description = "Initial RAM disk for a Linux bzImage",
    };
    private readonly Option<string[]> _module = new("--module")
    {
        HelpName = "FILE[,CMDLINE]",
        Description = "A multiboot module, loaded after the kernel; its string is FILE, a space and CMDLINE. Repeat for more",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private readonly Option<ulong?> _flat = new("--flat")
    {
        HelpName = "ADDR",
        Description = "Load the image raw at ADDR; enter it there in 32-bit flat protected mode",
        CustomParser = ParseNumber,
    };
    private readonly Option<bool> _pc = new("--pc")
    {
        Description = "The PC platform (8259s, I/O APIC, PIT, RTC, ACPI) for a non-Linux image too",
    };
    private readonly Option<string> _costModel = new("--cost-model", "--cpu-model", "--timing")
    {
        HelpName = "PROFILE",
        Description = "The core whose cycles the clock counts: skylake-client, haswell, or simple (1 per instruction)",
        DefaultValueFactory = _ => "skylake-client",
    };
    private readonly Option<ulong?> _maxInstructions = new("--max-instructions")
    {
        HelpName = "N",
        Description = "Stop after N instructions (exit status 5)",
        DefaultValueFactory = _ => DefaultMaxInstructions,
        CustomParser = ParseNumber,
    };
    private readonly Option<ulong?> _maxCycles = new("--max-cycles")
    {
        HelpName = "N",
        Description = "Stop after N cycles (exit status 5)",
        CustomParser = ParseNumber,
    };
    private readonly Option<bool> _traceEvents = new("--trace-events")
    {
        Description = "Print every exception and interrupt delivered (cycle, vector, RIP) on stderr",
    };
    private readonly Option<string> _vmxTrace = new("--vmx-trace")
    {
        HelpName = "FILE",
        Description = "Write every VM entry and exit as a JSON object per line to FILE (- = stderr)",
    };
    private readonly Option<string> _timeline = new("--timeline")
    {
        HelpName = "FILE",
        Description = "Write the VM entries, exits and events: FILE.html is a page for a browser, other names get trace-event JSON (Perfetto, chrome://tracing)",
    };
    private readonly Option<int?> _gdb = new("--gdb")
    {
        HelpName = "PORT",
        Description = "Wait for gdb on 127.0.0.1:PORT before the first instruction (gdb: target remote :PORT); after a detach the run goes on, 'kill' ends it (exit status 7)",
        CustomParser = ParsePort,
    };

    /// <summary>The command: Vtx.Run with its image argument and options (and -h/--help).</summary>
    public Command Command { get; }

    /// <summary>Builds the command.</summary>
    public RunnerCommand()
    {
        _costModel.Validators.Add(r =>
        {
            string? name = r.Tokens.Count > 0 ? r.Tokens[0].Value : null;
            if (name is null) return;
            try { Timing.TimingProfile.ByName(name); }
            catch (ArgumentException) { r.AddError($"{OptionName(r)} '{name}': not a timing profile (skylake-client, haswell, simple)"); }
        });
        Command = new Command("Vtx.Run", "Boots a multiboot, ELF, Linux or flat image on a Vtx machine, streams the guest's serial output, and exits with the guest's debug-exit code.")
        {
            _image, _ram, _cpus, _cmdline, _initrd, _module, _flat, _pc, _costModel,
            _maxInstructions, _maxCycles, _traceEvents, _vmxTrace, _timeline, _gdb,
            new HelpOption(),
        };
    }

    /// <summary>The outcome of parsing: settings, a help request, or the usage errors.</summary>
    /// <param name="Settings">The settings when the command line is valid.</param>
    /// <param name="Help">The parse result whose help action prints the help (for -h/--help).</param>
    /// <param name="Errors">The usage errors, each naming the option or argument and the value.</param>
    public sealed record Outcome(RunSettings? Settings, ParseResult? Help, IReadOnlyList<string> Errors);

    /// <summary>Parses <paramref name="args"/>.</summary>
    public Outcome Parse(IReadOnlyList<string> args)
    {
        // Response files off: an argument that starts with '@' is an ordinary path here.
        ParseResult r = Command.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (r.Action is HelpAction) return new Outcome(null, r, []);

        var errors = new List<string>();
        string? imageToken = r.GetResult(_image) is { Tokens.Count: > 0 } ir ? ir.Tokens[0].Value : null;
        bool afterDoubleDash = r.Tokens.TakeWhile(t => !(t.Type == TokenType.Argument && t.Value == imageToken)).Any(t => t.Type == TokenType.DoubleDash);
        // An unknown option before the image is taken as the image: report it as what it is
        // (a path that starts with '-' can follow "--" or be written ./-name).
        bool imageIsUnknownOption = imageToken is not null && imageToken.StartsWith('-') && !afterDoubleDash;
        if (imageIsUnknownOption) errors.Add(UnknownOption(imageToken!));
        foreach (var e in r.Errors)
            if (e.SymbolResult is not CommandResult) errors.Add(e.Message); // CommandResult errors are the unmatched tokens, below
        var unknown = r.UnmatchedTokens.Where(t => t.StartsWith('-') && t.Length > 1).ToList();
        foreach (string t in unknown) errors.Add(UnknownOption(t));
        // After an unknown option the stray words are probably its value or the image: naming the
        // unknown option is the useful message. Without one, a second image is the mistake.
        if (unknown.Count == 0 && !imageIsUnknownOption)
            foreach (string t in r.UnmatchedTokens)
                errors.Add($"unexpected argument '{t}' (one image only; quote arguments that contain spaces)");
        if (errors.Count > 0) return new Outcome(null, null, errors);

        var modules = new List<ModuleArgument>();
        foreach (string m in r.GetValue(_module) ?? [])
        {
            int comma = m.IndexOf(',');
            if (comma == 0 || m.Length == 0) errors.Add($"--module '{m}': no file name (FILE[,CMDLINE])");
            else modules.Add(comma < 0 ? new ModuleArgument(m, null) : new ModuleArgument(m[..comma], m[(comma + 1)..]));
        }
        if (r.GetValue(_flat) is ulong flat && flat > uint.MaxValue)
            errors.Add($"--flat 0x{flat:X}: the entry point must be below 4 GiB (the image starts in 32-bit protected mode)");
        if (errors.Count > 0) return new Outcome(null, null, errors);

        return new Outcome(new RunSettings
        {
            ImagePath = r.GetValue(_image)!,
            RamMiB = r.GetValue(_ram),
            Cpus = r.GetValue(_cpus),
            MaxInstructions = r.GetValue(_maxInstructions),
            MaxCycles = r.GetValue(_maxCycles),
            Flat = r.GetValue(_flat),
            TraceEvents = r.GetValue(_traceEvents),
            VmxTrace = r.GetValue(_vmxTrace),
            Timeline = r.GetValue(_timeline),
            CommandLine = r.GetValue(_cmdline) ?? "",
            InitrdPath = r.GetValue(_initrd),
            Modules = modules,
            GdbPort = r.GetValue(_gdb),
            Timing = Timing.TimingProfile.ByName(r.GetValue(_costModel)!),
            Pc = r.GetValue(_pc),
        }, null, []);
    }

    /// <summary>Writes the help (System.CommandLine's, at <see cref="HelpWidth"/> columns) and the <see cref="Epilogue"/> to <paramref name="output"/>.</summary>
    public static void WriteHelp(ParseResult help, TextWriter output)
    {
        if (help.Action is HelpAction h) h.MaxWidth = HelpWidth;
        help.Invoke(new InvocationConfiguration { Output = output, Error = output });
        output.Write(Epilogue);
    }

    /// <summary>The full --help text.</summary>
    public static string HelpText()
    {
        var w = new StringWriter();
        WriteHelp(new RunnerCommand().Parse(["--help"]).Help!, w);
        return w.ToString();
    }

    /// <summary>"unknown option 'X'", with the closest option when one is close enough to be a typo.</summary>
    private string UnknownOption(string token)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        string key = token.Split('=', ':')[0];
        foreach (var o in Command.Options)
            foreach (string alias in o.Aliases.Prepend(o.Name))
            {
                int d = Distance(key.ToLowerInvariant(), alias);
                // A prefix of a long option (--max-inst) is as good as one edit.
                if (key.Length >= 5 && alias.StartsWith(key, StringComparison.OrdinalIgnoreCase)) d = Math.Min(d, 1);
                if (d < bestDistance) { bestDistance = d; best = alias; }
            }
        bool close = best is not null && bestDistance <= Math.Max(2, key.Length / 3);
        return close ? $"unknown option '{token}'; did you mean '{best}'?" : $"unknown option '{token}'";
    }

    /// <summary>Levenshtein distance (insertions, deletions, substitutions).</summary>
    private static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }

    /// <summary>The option as the user wrote it (an alias such as --timing, or the name).</summary>
    private static string OptionName(SymbolResult r) => r switch
    {
        OptionResult o => o.IdentifierToken?.Value ?? o.Option.Name,
        ArgumentResult { Parent: OptionResult o } => o.IdentifierToken?.Value ?? o.Option.Name,
        _ => "argument",
    };

    /// <summary>An unsigned decimal or 0x-prefixed hexadecimal number below 2^64; anything else is an error naming the option and the value.</summary>
    private static ulong? ParseNumber(ArgumentResult r)
    {
        string s = r.Tokens[0].Value;
        bool hex = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        bool ok = hex
            ? ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (ok) return v;
        r.AddError($"{OptionName(r)} '{s}': not an unsigned decimal or 0x-prefixed hexadecimal number below 2^64");
        return null;
    }

    /// <summary>A TCP port for --gdb: 1 to 65535.</summary>
    private static int? ParsePort(ArgumentResult r)
    {
        string s = r.Tokens[0].Value;
        if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is >= 1 and <= 65535) return port;
        r.AddError($"--gdb '{s}': not a TCP port (1-65535)");
        return null;
    }

    /// <summary>The processor count for --cpus: 1 to <see cref="MaxCpus"/>.</summary>
    private static int ParseCpus(ArgumentResult r)
    {
        string s = r.Tokens[0].Value;
        if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= MaxCpus) return n;
        r.AddError($"--cpus '{s}': not a number of processors from 1 to {MaxCpus}");
        return 1;
    }

    /// <summary>The RAM size in MiB (a number of MiB, or a number with an M or G suffix): 1 to <see cref="MachineOptions.MaxMemoryMiB"/>.</summary>
    private static int ParseRam(ArgumentResult r)
    {
        string s = r.Tokens[0].Value;
        long scale = 1;
        string n = s;
        if (s.Length > 1 && char.ToUpperInvariant(s[^1]) is 'G' or 'M')
        {
            scale = char.ToUpperInvariant(s[^1]) == 'G' ? 1024 : 1;
            n = s[..^1];
        }
        if (!long.TryParse(n, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) || v is < int.MinValue or > int.MaxValue)
        {
            r.AddError($"--ram '{s}': not a whole number of MiB (or of MiB/GiB with an M/G suffix)");
            return DefaultRamMiB;
        }
        long big = v * scale;
        int mib = big is < int.MinValue or > int.MaxValue ? int.MaxValue : (int)big;
        if (mib is < 1 or > MachineOptions.MaxMemoryMiB)
        {
            r.AddError($"--ram {mib}: RAM must be between 1 and {MachineOptions.MaxMemoryMiB} MiB (64 GiB)");
            return DefaultRamMiB;
        }
        return mib;
    }
}
